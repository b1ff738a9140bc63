"""orion/checkpoint.py: a submission's checkpoint from `--describe` (real child processes) or the fallbacks."""

from __future__ import annotations

import json
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from orion import checkpoint as ck
from orion.settings import OrionSettings

SECRET = "describe-secret-value-0123"  # pragma: allowlist secret - a test's fake


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("s3a://checkpoints/logistics_events/", "s3://checkpoints/logistics_events"),
        ("s3n://checkpoints/logistics_events", "s3://checkpoints/logistics_events"),
        ("S3A://checkpoints//logistics_events//", "s3://checkpoints/logistics_events"),
        ("s3://checkpoints/logistics_events", "s3://checkpoints/logistics_events"),
        ("  s3a://b/k  ", "s3://b/k"),
        ("hdfs://nn:8020/ck/", "hdfs://nn:8020/ck"),
        ("file:///tmp/ck/", "/tmp/ck"),
        ("file:/tmp/ck", "/tmp/ck"),
        ("/tmp/a/../ck/", "/tmp/ck"),
        ("relative/ck/", "relative/ck"),
        ("", None),
        ("   ", None),
        (None, None),
    ],
)
def test_normalize_gives_one_spelling_per_location(given: str | None, expected: str | None) -> None:
    assert ck.normalize(given) == expected


@pytest.mark.parametrize(
    ("args", "conf", "expected"),
    [
        (["--checkpoint-uri", "s3a://c/one/"], {}, "s3://c/one"),
        (["--checkpoint-uri=s3a://c/two"], {}, "s3://c/two"),
        (["--checkpoint-uri", "s3a://c/a", "--checkpoint-uri=s3a://c/b"], {}, "s3://c/b"),  # the last wins
        (["--x"], {"spark.sql.streaming.checkpointLocation": "s3a://c/conf/"}, "s3://c/conf"),
        (["--checkpoint-uri", "s3a://c/arg"], {"spark.sql.streaming.checkpointLocation": "s3a://c/conf"}, "s3://c/arg"),
        (["--checkpoint-uri"], {}, None),  # no value
        (["--checkpoint", "/tmp/x"], {}, None),  # another flag: not guessed
        ([], {}, None),
    ],
)
def test_fallback_reads_the_checkpoint_argument_then_the_conf(
    args: list[str], conf: dict[str, str], expected: str | None
) -> None:
    assert ck.from_args_or_conf(args, conf) == expected


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_only_jobs_that_mention_describe_are_asked(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    _write(jobs / "jobpkg" / "__init__.py", "")
    _write(jobs / "jobpkg" / "settings.py", 'FLAG = "--describe"\n')
    _write(jobs / "otherpkg" / "__init__.py", "")
    own = _write(jobs / "own.py", 'import sys\nif "--describe" in sys.argv: print("{}")\n')
    via_package = _write(jobs / "via.py", "from jobpkg.settings import FLAG\n")
    other_package = _write(jobs / "other.py", "import otherpkg\n")
    plain = _write(tmp_path / "up" / "plain.py", "print('I would run my whole body')\n")
    broken = _write(tmp_path / "up" / "broken.py", "def (:\n")
    assert ck.supports_describe(own, jobs) and ck.supports_describe(via_package, jobs)
    assert not ck.supports_describe(other_package, jobs)
    assert not ck.supports_describe(plain, jobs) and not ck.supports_describe(broken, jobs)
    assert not ck.supports_describe(via_package, None)  # no jobs dir: its package is unknown


DESCRIBING_JOB = """
import json, os, sys
print("some log line first")
print(json.dumps({
    "checkpoint_uri": (
        sys.argv[sys.argv.index("--ck") + 1] if "--ck" in sys.argv else os.environ["LAKEHOUSE_CHECKPOINT_URI"]
    ),
    "env": {k: os.environ.get(k) for k in ("AWS_SECRET_ACCESS_KEY", "ORION_TOKEN", "SPARK_CONF_DIR",
                                          "LAKEHOUSE_TOPIC", "PYTHONPATH")},
    "argv": sys.argv[1:],
}))
"""


@pytest.fixture
def find(tmp_path: Path, make_settings: Callable[..., OrionSettings]) -> Callable[..., ck.Described]:
    def find(job_text: str, args: list[str], timeout: float = 30.0, conf: dict[str, str] | None = None) -> ck.Described:
        entry = _write(tmp_path / "jobs" / "job.py", job_text)
        environ = {
            "PATH": os.environ["PATH"], "LAKEHOUSE_CHECKPOINT_URI": "s3a://checkpoints/from_env/",
            "LAKEHOUSE_TOPIC": "events", "AWS_SECRET_ACCESS_KEY": SECRET, "ORION_TOKEN": SECRET,
            "SPARK_CONF_DIR": "/conf",
        }  # fmt: skip
        settings = make_settings(jobs_dir=tmp_path / "jobs", describe_timeout_seconds=timeout, describe_max_bytes=65536)
        return ck.for_submission(settings, entry, args, conf or {}, environ)

    return find


def test_describe_answer_gives_the_checkpoint_from_flags_or_environment(find: Callable[..., ck.Described]) -> None:
    found = find("# answers --describe\n" + DESCRIBING_JOB, [])
    assert (found.checkpoint, found.how) == ("s3://checkpoints/from_env", "from --describe")
    flagged = find("# answers --describe\n" + DESCRIBING_JOB, ["--ck", "s3a://checkpoints/mine/"])
    assert flagged.checkpoint == "s3://checkpoints/mine"


def test_describe_runs_with_the_jobs_environment_but_no_secret_and_no_spark_conf(tmp_path: Path) -> None:
    entry = _write(tmp_path / "jobs" / "job.py", "# --describe\n" + DESCRIBING_JOB)
    _write(tmp_path / "jobs" / "somepkg" / "__init__.py", "")
    env = ck.describe_env(
        {"AWS_SECRET_ACCESS_KEY": SECRET, "ORION_TOKEN": SECRET, "SPARK_CONF_DIR": "/c", "LAKEHOUSE_TOPIC": "t",
         "PATH": os.environ["PATH"], "LAKEHOUSE_CHECKPOINT_URI": "s3a://c/k"},
        [str(tmp_path / "jobs")],
    )  # fmt: skip
    data, why = ck.run_describe(sys.executable, entry, ["--a", "b c"], env, cwd=tmp_path, timeout=30, max_bytes=65536)
    assert why == "" and data is not None
    assert data["argv"] == ["--a", "b c", "--describe"]
    assert data["env"] == {
        "AWS_SECRET_ACCESS_KEY": None, "ORION_TOKEN": None, "SPARK_CONF_DIR": None, "LAKEHOUSE_TOPIC": "t",
        "PYTHONPATH": str(tmp_path / "jobs"),
    }  # fmt: skip
    assert SECRET not in json.dumps(data)


@pytest.mark.parametrize(
    ("job_text", "why"),
    [
        ("import sys\n# --describe\nsys.exit(3)\n", "--describe exited with code 3"),
        ("# --describe\nprint('not json')\n", "--describe printed no JSON object"),
        ("# --describe\nprint('[1, 2]')\n", "--describe printed no JSON object"),
        ('# --describe\nprint(\'{"table_uri": "s3a://x"}\')\n', "--describe gave no checkpoint_uri"),
        ("# --describe\nprint('x' * 200000)\n", "--describe printed more than 65536 bytes"),
        ("print('no flag mentioned')\n", "the job does not support --describe"),
    ],
)
def test_a_job_that_cannot_describe_falls_back_to_its_argument(
    find: Callable[..., ck.Described], job_text: str, why: str
) -> None:
    found = find(job_text, ["--checkpoint-uri", "s3a://checkpoints/arg/"])
    assert found.checkpoint == "s3://checkpoints/arg"
    assert why in found.how and "from the argument" in found.how


def test_a_describe_that_hangs_is_killed_at_the_timeout_with_its_children(
    tmp_path: Path, find: Callable[..., ck.Described]
) -> None:
    marker = tmp_path / "grandchild.pid"
    job = f"""# --describe
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
open({str(marker)!r}, "w").write(str(child.pid))
time.sleep(120)
"""
    t0 = time.monotonic()
    found = find(job, [], timeout=3.0, conf={"spark.sql.streaming.checkpointLocation": "/tmp/ck/"})
    assert time.monotonic() - t0 < 60  # bounded by the timeout, not by the job's 120 s
    assert found.checkpoint == "/tmp/ck" and "did not answer within 3 s" in found.how
    pid = int(marker.read_text())
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid), "the describe run's grandchild outlived the timeout"


def test_unknown_checkpoint_says_why(find: Callable[..., ck.Described]) -> None:
    found = find("print('hi')\n", ["--rows", "3"])
    assert found.checkpoint is None
    assert found.how.startswith("unknown (the job does not support --describe; no --checkpoint-uri argument")


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False
