"""Credentials from Orion's environment never reach logs, listings or command lines."""

from __future__ import annotations

from fastapi.testclient import TestClient

from orion.scrub import MASK, Scrubber, is_secret_name

ENV = {
    "AWS_ACCESS_KEY_ID": "AKIAEXAMPLEKEY",
    "AWS_SECRET_ACCESS_KEY": "wJalrXUtnFEMI/K7MDENG",  # pragma: allowlist secret - a test's fake
    "TRINO_S3_SECRET": "trino-secret-value",  # pragma: allowlist secret - a test's fake
    "LAKEHOUSE_KAFKA_TOPIC": "logistics",
    "SHORT_TOKEN": "abc",
    "PATH": "/usr/bin",
}


def test_secret_names_are_recognised() -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "ORION_TOKEN", "spark.hadoop.fs.s3a.secret.key",
                 "spark.hadoop.fs.s3a.access.key", "DB_PASSWORD", "spark.authenticate.secret"):  # fmt: skip
        assert is_secret_name(name), name
    for name in ("LAKEHOUSE_KAFKA_TOPIC", "spark.executor.memory", "PATH", "spark.hadoop.fs.s3a.endpoint"):
        assert not is_secret_name(name), name


def test_text_masks_env_secrets_and_url_credentials_only() -> None:
    s = Scrubber.from_environ(ENV)
    # pragma: allowlist nextline secret - a test's fake value
    line = "key=AKIAEXAMPLEKEY secret=wJalrXUtnFEMI/K7MDENG topic=logistics s3a://user:pw@bucket/x abc"
    assert s.text(line) == f"key={MASK} secret={MASK} topic=logistics s3a://{MASK}@bucket/x abc"


def test_command_masks_secret_conf_values() -> None:
    s = Scrubber.from_environ(ENV)
    argv = ["--conf", "spark.hadoop.fs.s3a.secret.key=anything", "--conf", "spark.x=wJalrXUtnFEMI/K7MDENG", "job.py"]
    assert s.command(argv) == [
        "--conf",
        f"spark.hadoop.fs.s3a.secret.key={MASK}",
        "--conf",
        f"spark.x={MASK}",
        "job.py",
    ]


def test_json_masks_nested_strings() -> None:
    s = Scrubber(["trino-secret-value"])
    assert s.json({"a": ["x trino-secret-value", 3], "b": None}) == {"a": [f"x {MASK}", 3], "b": None}


def test_listing_and_detail_never_show_a_secret_passed_in_conf_or_args(client: TestClient) -> None:
    resp = client.post(
        "/jobs",
        data={
            "job": "count_batch",
            "args": '["--password", "unit-test-token-0123456789"]',
            "conf": '{"spark.hadoop.fs.s3a.secret.key": "s3cr3t-value", "spark.executor.memory": "512m"}',
        },
    )
    job_id = resp.json()["id"]
    for body in (resp.text, client.get("/jobs").text, client.get(f"/jobs/{job_id}").text):
        assert "s3cr3t-value" not in body
        assert "unit-test-token-0123456789" not in body  # Orion's own token is a secret too
        assert "512m" in body
