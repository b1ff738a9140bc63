"""No secret in any log the test bed writes: this run's generated credentials (endpoints.json) are searched for
in every log of the shared test bed - .testbed/logs (Orion, Spark master and workers, Superset, Trino, every
Kafka node, S3), the Spark work dirs (each executor's stdout and stderr), Orion's data dir (its per-job driver
logs) and Trino's var/log (HTTP request log).

It must run at the END of the integration session, after every other test has written its logs (drivers
started through Orion, spark-submits, failed logins, the fault tests): tests/integration/conftest.py moves
this module's tests behind every other collected test, whatever the file order. What a test bed logs while
it stops (when this session started it) is after the check and is not covered.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

# endpoints.json keys holding this run's secrets (the S3 access keys are identifiers, not secrets).
SECRET_KEYS = (
    "s3_secret_key",
    "orion_token",
    "superset_admin_password",
    "testbed_s3_admin_secret_key",
    "testbed_s3_spark_secret_key",
    "testbed_s3_trino_secret_key",
    "testbed_superset_secret_key",
)


def log_files(run_dir: Path, logs_dir: Path) -> Iterator[Path]:
    """Every file a service of the test bed writes as a log."""
    roots = [logs_dir, run_dir / "orion", run_dir / "trino" / "var" / "log"]
    roots += sorted((run_dir / "spark").glob("worker-*"))  # the work dirs: app-*/<executor>/stdout, stderr
    for root in roots:
        if root.is_dir():
            yield from (p for p in sorted(root.rglob("*")) if p.is_file())


def files_holding(secrets: dict[str, str], files: Iterator[Path]) -> dict[str, list[str]]:
    """file -> names of the secrets found in it (byte search: binary logs and SQLite pages included)."""
    wanted = {name: value.encode() for name, value in secrets.items() if value}
    found: dict[str, list[str]] = {}
    for path in files:
        try:
            data = path.read_bytes()
        except OSError:  # rotated away while we looked
            continue
        names = sorted(name for name, value in wanted.items() if value in data)
        if names:
            found[str(path)] = names
    return found


def test_no_generated_secret_in_any_test_bed_log(testbed: dict[str, str]) -> None:
    if "testbed_dir" not in testbed:
        pytest.skip("targets a deployed stack: its logs are Docker's (`docker logs`), not files here")
    run_dir, logs_dir = Path(testbed["testbed_dir"]), Path(testbed["testbed_logs_dir"])
    secrets = {k: testbed[k] for k in SECRET_KEYS}
    assert all(len(v) >= 16 for v in secrets.values()), "a short secret would match by chance"
    files = list(log_files(run_dir, logs_dir))
    names = {p.name for p in files}
    # The scan must see the logs that matter, or it proves nothing.
    by_service = {
        "s3": {"s3.log"},
        "kafka": {"kafka-1.log", "kafka-2.log", "kafka-3.log"},
        "spark": {"spark-master.log", "spark-worker-1.log"},
        "trino": {"trino.log"},
        "superset": {"superset.log"},
        "orion": {"orion.log"},
    }
    expected = set().union(*(by_service[s] for s in testbed["testbed_services"].split(",")))
    assert expected <= names, f"missing logs: {sorted(expected - names)}"
    print(f"\n[logs] {len(files)} files, {sum(p.stat().st_size for p in files) / 2**20:.1f} MiB searched")
    assert files_holding(secrets, iter(files)) == {}


def test_the_search_finds_a_planted_secret(tmp_path: Path) -> None:
    (tmp_path / "logs").mkdir()
    (tmp_path / "spark" / "worker-1" / "app-1" / "0").mkdir(parents=True)
    (tmp_path / "logs" / "orion.log").write_text("starting\n")
    (tmp_path / "spark" / "worker-1" / "app-1" / "0" / "stderr").write_bytes(b"\x00env AWS_SECRET=s3-Qq81Zx-planted\n")
    found = files_holding(
        # pragma: allowlist nextline secret - planted on purpose
        {"testbed_s3_spark_secret_key": "s3-Qq81Zx-planted", "orion_token": "not-in-any-file-Zz9"},
        log_files(tmp_path, tmp_path / "logs"),
    )
    assert found == {str(tmp_path / "spark/worker-1/app-1/0/stderr"): ["testbed_s3_spark_secret_key"]}
