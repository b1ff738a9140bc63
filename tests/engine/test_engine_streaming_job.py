"""The StreamingJob provider through the real Pulumi engine, against a private Spark Orion on the test
bed's Spark cluster running the real `logistics_stream` job (a topic, tables and checkpoint of its own).

The program declares the resource as components/postdeploy.py does: `StreamingJob` with the inputs of
lakehouse.postdeploy (job args from stream_job_env, the code hash of the clone's jobs/); Orion's token is a
secret. Whether the job runs is checked against the Spark master's own /json/.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakehouse.clients import kafka_topic
from lakehouse.clients.streaming_job import master_active_apps
from tests.engine import harness
from tests.orion.orion_live import TOKEN, OrionProcess

pytestmark = [pytest.mark.integration, pytest.mark.engine, pytest.mark.timeout(1800)]
REPO = Path(__file__).resolve().parents[2]
TYPE = "pulumi-python:dynamic/lakehouse:StreamingJob"


def program() -> dict[str, Any]:
    from components.config import load_stack_config
    from components.providers.streaming_job import StreamingJob
    from lakehouse import postdeploy
    from lakehouse.generators.job import stream_job_env
    from tests.engine.later import Later

    s = load_stack_config().settings
    p = harness.params()
    env = stream_job_env(s, bootstrap_servers=p["bootstrap"])
    # The token as the stack gives it: a generated value, unknown at a fresh stack's preview.
    token = Later("orion-token", harness.secret("orion_token")).result
    job = StreamingJob(
        "streaming-job",
        orion_url=p["orion_url"],
        orion_token=token,
        spark_master_ui=p["master_ui"],
        code_hash=postdeploy.stream_code_hash(),
        job=postdeploy.STREAM_JOB,
        args=postdeploy.stream_job_args(env),
    )
    return {"job_id": job.job_id, "app_id": job.app_id, "state": job.state}


@pytest.fixture
def orion(testbed: dict[str, str], require_services, tmp_path: Path) -> Iterator[OrionProcess]:
    require_services("spark", "kafka", "s3")
    proc = OrionProcess(testbed, tmp_path / "orion", {"ORION_JOBS_DIR": str(REPO / "jobs")})
    proc.start()
    yield proc
    proc.stop(timeout=200)


def test_streaming_job_lifecycle_through_the_real_engine(
    engine: harness.Engine, testbed: dict[str, str], orion: OrionProcess
) -> None:
    rid = uuid.uuid4().hex[:8]
    topic, table = f"engine-sj-{rid}", f"engine_sj_{rid}"
    kafka_topic.create_topic(testbed["kafka_bootstrap_servers"], topic, partitions=2, replication_factor=3)
    ui = testbed["spark_master_ui"]
    stack = engine.stack(
        program,
        params={"orion_url": orion.url, "master_ui": ui, "bootstrap": testbed["testbed_kafka_internal_bootstrap"]},
        secrets={"orion_token": TOKEN},
        config={"lakehouse:kafkaTopic": topic, "lakehouse:deltaTable": table},
    )
    try:
        # A fresh stack's preview: check() sees the token unknown and lets it through.
        assert stack.preview().changes == {"create": 3}
        assert stack.up().changes == {"create": 3}
        out = stack.outputs()
        assert out["state"] == "running"
        first_app = out["app_id"]
        assert first_app in master_active_apps(ui)
        assert stack.preview().changed() == {}
        assert stack.up().changed() == {}

        # New settings (a stack config change) restart the job: a new application on the same checkpoint.
        stack.config["lakehouse:streamMaxOffsetsPerTrigger"] = "5000"
        step = stack.preview().step("streaming-job")
        assert (step.op, step.changed_inputs) == ("update", ["args"])
        assert stack.up().changed() == {"update": 1}
        out = stack.outputs()
        assert out["app_id"] != first_app
        apps = master_active_apps(ui)
        assert first_app not in apps
        assert out["app_id"] in apps

        # A job stopped behind the stack's back: refresh sees it, the next up starts it again.
        orion.http.post(f"{orion.url}/jobs/{out['job_id']}/stop", timeout=300).raise_for_status()
        stack.refresh()
        (res,) = stack.resources(TYPE)
        assert res["outputs"]["state"] == "stopped"
        assert stack.up().changed() == {"update": 1}
        assert stack.outputs()["state"] == "running"

        # A job that died since the last up, with no refresh: the state still says running, but preview asks
        # Orion and shows the update, and a plain up starts the job again (a new application).
        dead = stack.outputs()
        orion.http.post(f"{orion.url}/jobs/{dead['job_id']}/stop", timeout=300).raise_for_status()
        (res,) = stack.resources(TYPE)
        assert res["outputs"]["state"] == "running"
        assert stack.preview().changed() == {"update": 1}
        assert stack.up().changed() == {"update": 1}
        back = stack.outputs()
        assert back["state"] == "running" and back["app_id"] != dead["app_id"]
        assert back["app_id"] in master_active_apps(ui)

        # An edit of the code the provider runs is an update.
        engine.edit("lakehouse/clients/streaming_job.py", append="\n# an edit\n")
        assert stack.preview().changed() == {"update": 1}

        # Orion's token never appears in plain text in the state (inputs, outputs, the pickled provider).
        stack.assert_no_plaintext([TOKEN])
        last_app = stack.outputs()["app_id"]
        assert stack.destroy().changes == {"delete": 3}
        assert last_app not in master_active_apps(ui)
        assert not [j for j in orion.http.get(f"{orion.url}/jobs", timeout=10).json() if j["state"] == "running"]
    finally:
        kafka_topic.delete_topic(testbed["kafka_bootstrap_servers"], topic)
