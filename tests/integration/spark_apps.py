"""What only the data-plane integration tests need beside bench/sparkrun.py (topics, spark-submit, S3 clean-up,
shared with the bench): waiting for a job's log line, delta-rs options, and Spark's read-back job beside this
file (spark_readback.py)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path

from bench.sparkrun import SparkApp

READBACK = Path(__file__).with_name("spark_readback.py")


def wait_for_line(app: SparkApp, needle: str, timeout_s: float, poll_s: float = 0.2) -> str:
    """The first log line of `app` containing `needle`; raises if the app exits or the time runs out first."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        for line in app.lines():
            if needle in line:
                return line
        if app.proc.poll() is not None:
            raise RuntimeError(f"spark app exited ({app.proc.returncode}) before logging {needle!r}; "
                               f"see {app.log_path}:\n" + "\n".join(app.lines()[-40:]))  # fmt: skip
        time.sleep(poll_s)
    raise TimeoutError(f"no {needle!r} in {app.log_path} within {timeout_s:.0f} s")


def delta_storage_options(endpoints: Mapping[str, str]) -> dict[str, str]:
    """delta-rs options for the test bed's S3 server (FACTS.md), with the Spark identity's keys."""
    return {
        "AWS_ENDPOINT_URL": endpoints["s3_endpoint"],
        "AWS_ALLOW_HTTP": "true",
        "AWS_REGION": endpoints.get("testbed_s3_region", "us-east-1"),
        "AWS_ACCESS_KEY_ID": endpoints["testbed_s3_spark_access_key"],
        "AWS_SECRET_ACCESS_KEY": endpoints["testbed_s3_spark_secret_key"],
    }
