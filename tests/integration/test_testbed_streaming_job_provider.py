"""The StreamingJob provider's own create/read/update/delete against a real Spark Orion (a private
`python -m orion` on the test bed's Spark cluster, with the repository's jobs/), running the real
`logistics_stream` job on a topic, tables and checkpoint of its own. Every check that a job runs or
stopped is made against the Spark master's own /json/, not Orion's word."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.providers.streaming_job import StreamingJobProvider
from lakehouse import postdeploy
from lakehouse.clients import kafka_topic
from lakehouse.clients.streaming_job import OrionClient, OrionError, master_active_apps
from lakehouse.generators.job import stream_job_env
from testbed.plan import bed_settings
from tests.orion.orion_live import TOKEN, OrionProcess, master_apps, wait_until

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def orion(testbed: dict[str, str], require_services, tmp_path: Path) -> Iterator[OrionProcess]:
    require_services("spark", "kafka", "s3")
    proc = OrionProcess(testbed, tmp_path / "orion", {"ORION_JOBS_DIR": str(REPO / "jobs")})
    proc.start()
    yield proc
    proc.stop(timeout=200)


@pytest.fixture
def run(testbed: dict[str, str]) -> Iterator[dict[str, object]]:
    rid = uuid.uuid4().hex[:8]
    s = bed_settings().replace(kafka_topic=f"sj-{rid}", delta_table=f"sj_{rid}")
    kafka_topic.create_topic(testbed["kafka_bootstrap_servers"], s.kafka_topic, partitions=2, replication_factor=3)
    env = stream_job_env(s, bootstrap_servers=testbed["testbed_kafka_internal_bootstrap"])
    yield {"settings": s, "args": postdeploy.stream_job_args(env)}
    kafka_topic.delete_topic(testbed["kafka_bootstrap_servers"], s.kafka_topic)


def _props(orion: OrionProcess, testbed: dict[str, str], args: list[str]) -> dict:
    return {
        "orion_url": orion.url,
        "orion_token": TOKEN,
        "spark_master_ui": testbed["spark_master_ui"],
        "job": "logistics_stream",
        "args": args,
        "conf": {},
        "supervise": True,
        "code_hash": postdeploy.stream_code_hash(),
        # As the engine sends numbers.
        "start_timeout_seconds": 900.0,
        "stop_timeout_seconds": 300.0,
        "provider_hash": "test",
    }


def test_streaming_job_lifecycle_against_orion(
    orion: OrionProcess, testbed: dict[str, str], run: dict[str, object]
) -> None:
    provider = StreamingJobProvider()
    checked = provider.check({}, _props(orion, testbed, list(run["args"])))  # type: ignore[arg-type]
    assert checked.failures == []
    props = checked.inputs

    created = provider.create(props)
    first = created.outs
    assert first["state"] == "running"
    assert first["adopted"] is False
    assert master_apps(testbed["spark_master_ui"]).get(first["app_id"]) == "RUNNING"
    job = orion.job(int(created.id))
    assert job["code_hash"] == props["code_hash"]
    assert job["args"] == props["args"]
    assert job["supervise"] is True

    # Orion itself refuses a second driver on the same checkpoint, whoever asks.
    client = OrionClient(orion.url, TOKEN)
    with pytest.raises(OrionError) as refused:
        client._call(
            "POST", "/jobs", what="a second run",
            files={"job": (None, "logistics_stream"), "args": (None, __import__("json").dumps(props["args"]))},
        )  # fmt: skip
    assert refused.value.status == 409
    assert f"job {created.id} (logistics_stream)" in refused.value.detail

    # Creating again (a lost state) adopts the running job instead of starting a second one.
    again = provider.create(props)
    assert (again.id, again.outs["adopted"]) == (created.id, True)
    assert len([j for j in orion.http.get(f"{orion.url}/jobs", timeout=10).json() if j["state"] == "running"]) == 1

    # An input that does not change what runs: no restart.
    same = provider.update(created.id, first, {**props, "stop_timeout_seconds": 240})
    assert (same.outs["job_id"], same.outs["app_id"]) == (first["job_id"], first["app_id"])

    # New settings restart it: the old application leaves the master, a new one runs on the same checkpoint.
    newer = [*props["args"], "--max-offsets-per-trigger", "5000"]
    restarted = provider.update(created.id, first, {**props, "args": newer}).outs
    assert restarted["job_id"] != first["job_id"]
    assert restarted["state"] == "running"
    apps = master_active_apps(testbed["spark_master_ui"])
    assert first["app_id"] not in apps
    assert restarted["app_id"] in apps
    # The old run was stopped and forgotten.
    assert orion.http.get(f"{orion.url}/jobs/{first['job_id']}", timeout=10).status_code == 404

    # refresh reads the job as Orion sees it.
    read = provider.read(created.id, restarted)
    assert (read.outs["state"], read.outs["app_id"]) == ("running", restarted["app_id"])

    # delete stops it, returns once the master no longer lists the application, and forgets the job.
    provider.delete(created.id, restarted)
    assert restarted["app_id"] not in master_active_apps(testbed["spark_master_ui"])
    assert orion.http.get(f"{orion.url}/jobs/{restarted['job_id']}", timeout=10).status_code == 404
    assert provider.read(created.id, restarted).id is None
    # Deleting what is gone succeeds.
    provider.delete(created.id, restarted)


def test_streaming_job_that_fails_to_start_is_an_error_with_its_log(
    orion: OrionProcess, testbed: dict[str, str], run: dict[str, object]
) -> None:
    provider = StreamingJobProvider()
    props = provider.check({}, _props(orion, testbed, [*run["args"], "--trigger-interval", "soon"])).inputs  # type: ignore[misc]
    props = {**props, "supervise": False}
    with pytest.raises(OrionError) as err:
        provider.create(props)
    text = str(err.value)
    assert orion.url in text
    assert "ended as failed while starting" in text
    assert "trigger" in text.lower()
    wait_until(
        lambda: not any(j["state"] == "running" for j in orion.http.get(f"{orion.url}/jobs").json()), 60, "no job"
    )


def test_a_supervised_driver_that_dies_after_running_fails_create_fast_with_its_error_line(
    testbed: dict[str, str], require_services, run: dict[str, object], tmp_path: Path
) -> None:
    """Issue 14's finding on a real Docker engine: the Spark image's Python lacked `delta`, the master listed the
    application RUNNING, then the driver died and Orion restarted it in a loop while `pulumi up` called the job
    created. Here the job's own code cannot import its Delta module (a copy of jobs/ with that one import
    broken): create must fail as soon as the driver dies - not at its 900 s start timeout - naming the Orion job,
    the Spark application and the driver's error line, and leave the job stopped, not restarting."""
    import shutil

    require_services("spark", "kafka", "s3")
    jobs = tmp_path / "jobs"
    shutil.copytree(REPO / "jobs", jobs, ignore=shutil.ignore_patterns("__pycache__"))
    # The contract package the jobs import sits beside jobs/, as in the image (Orion zips it with them).
    shutil.copytree(REPO / "contract", tmp_path / "contract", ignore=shutil.ignore_patterns("__pycache__"))
    tables = jobs / "logistics" / "tables.py"
    source = tables.read_text()
    assert "from delta.tables import DeltaTable" in source
    tables.write_text(source.replace("from delta.tables import", "from delta_not_in_this_image.tables import", 1))
    orion = OrionProcess(testbed, tmp_path / "orion", {"ORION_JOBS_DIR": str(jobs)})
    orion.start()
    try:
        provider = StreamingJobProvider()
        props = {**_props(orion, testbed, list(run["args"])), "code_hash": postdeploy.stream_code_hash(jobs)}  # type: ignore[arg-type]
        props = provider.check({}, props).inputs
        with pytest.raises(OrionError) as err:
            provider.create(props)
        first_line = str(err.value).splitlines()[0]
        assert "its driver exited while starting" in first_line
        assert "ModuleNotFoundError: No module named 'delta_not_in_this_image'" in first_line
        assert "Spark application app-" in first_line and "was stopped" in first_line
        (job,) = orion.http.get(f"{orion.url}/jobs", timeout=10).json()
        assert job["state"] == "stopped"  # not restarting behind the stack's back
    finally:
        orion.stop(timeout=200)
