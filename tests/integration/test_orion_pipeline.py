"""The test bed's own Orion (started by the test bed with the lakehouse's environment) runs the real
pipeline: `POST /jobs job=logistics_stream` reads the Kafka topic on the cluster with the broker and topic
from the environment Orion gives every job. The topic is there already: the test bed creates it at start,
as the stack does.

The run gets a checkpoint and tables of its own (under a random prefix): the stack's default checkpoint
may be in use by the demo's supervised job, and Orion refuses a second writer on one checkpoint (409)."""

from __future__ import annotations

import json
import os
import time

import pytest

from tests.orion.orion_live import OrionClient, wait_until

pytestmark = pytest.mark.integration


def test_logistics_stream_from_the_environment_starts_the_real_pipeline(testbed: dict[str, str]) -> None:
    orion = OrionClient(testbed["orion_url"], testbed["orion_token"], testbed["spark_master_ui"])
    assert "logistics_stream" in {j["name"] for j in orion.http.get(f"{orion.url}/catalog", timeout=10).json()}
    prefix = f"orion-it-{os.urandom(4).hex()}"
    args = [
        "--checkpoint-uri", f"s3a://checkpoints/{prefix}/logistics_events",
        "--table-uri", f"s3a://lake/{prefix}/logistics_events",
        "--rejected-table-uri", f"s3a://lake/{prefix}/logistics_events_rejected",
    ]  # fmt: skip
    t0 = time.monotonic()
    created = orion.submit(job="logistics_stream", args=json.dumps(args), supervise="true")
    try:
        job = orion.wait_running_on_master(created["id"])
        print(f"\n[orion] logistics_stream: submit -> RUNNING in {time.monotonic() - t0:.1f} s")
        assert job["args"] == args and job["conf"] == {}

        def kafka_query() -> dict | None:
            streaming = orion.job(created["id"])["streaming"]
            for q in streaming["queries"] if streaming else []:
                if any(testbed["kafka_topic"] in s["description"] for s in q["sources"]):
                    return q
            return None

        q = wait_until(kafka_query, 300, f"a streaming query reading {testbed['kafka_topic']} to report progress")
        print(f"[orion] logistics_stream progress: batch {q['batch_id']}, offsets {q['sources'][0]['end_offset']}")
        listing = orion.http.get(f"{orion.url}/jobs", timeout=10).text + str(orion.job(created["id"]))
        secrets = [testbed.get("testbed_s3_spark_secret_key"), testbed.get("testbed_s3_spark_access_key")]
        for secret in filter(None, secrets):
            assert secret not in listing and secret not in orion.logs(created["id"])
    finally:
        # Orion's stop waits up to ORION_STOP_TIMEOUT_SECONDS (120 s) for the job's bounded stop.
        stopped = orion.http.post(f"{orion.url}/jobs/{created['id']}/stop", timeout=200).json()
        assert stopped["state"] == "stopped"
        assert orion.http.delete(f"{orion.url}/jobs/{created['id']}", timeout=30).status_code == 204
