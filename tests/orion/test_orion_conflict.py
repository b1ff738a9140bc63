"""POST /jobs refuses (409, naming the job) a second active job on one checkpoint, whoever submits it; jobs
report their code hash and checkpoint; restart keeps a job's own checkpoint."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher, FakeMaster

from orion.codehash import job_code_hash
from orion.main import create_app
from orion.manager import CheckpointConflict, JobManager
from orion.settings import OrionSettings

RATE = Path(__file__).resolve().parent / "jobs" / "rate_stream.py"
CK = "s3a://checkpoints/rate/"


def _rate(client: TestClient, checkpoint: str = CK, **extra: str) -> object:
    return client.post("/jobs", data={"job": "rate_stream", "args": f'["--checkpoint", "{checkpoint}"]', **extra})


def test_job_reports_its_normalized_checkpoint_from_describe_and_its_code_hash(
    client: TestClient, settings: OrionSettings
) -> None:
    resp = _rate(client)
    assert resp.status_code == 201, resp.text
    job = resp.json()["job"]
    assert job["checkpoint"] == "s3://checkpoints/rate"
    assert job["code_hash"] == job_code_hash(settings.jobs_dir, RATE)
    assert "checkpoint from --describe" in client.get(f"/jobs/{job['id']}/logs").json()["text"]


def test_second_active_job_on_the_same_checkpoint_is_409_naming_the_running_one(
    client: TestClient, manager: JobManager, launcher: FakeLauncher, master: FakeMaster
) -> None:
    first = _rate(client).json()
    launcher.last(first["id"]).detected_app_id = "app-1"
    master.apps["app-1"] = "RUNNING"
    manager.tick()
    # Another spelling of the same place (s3:// and a trailing slash), through the shipped name...
    again = _rate(client, "s3://checkpoints//rate")
    assert again.status_code == 409
    detail = again.json()["detail"]
    assert f"job {first['id']} (rate_stream) is running on checkpoint s3://checkpoints/rate" in detail
    # ...and as an upload of the same job under another name: refused too, and its file is not kept.
    upload = client.post(
        "/jobs", files={"file": ("my_copy.py", RATE.read_bytes())}, data={"args": f'["--checkpoint", "{CK}"]'}
    )
    assert upload.status_code == 409 and f"job {first['id']} (rate_stream)" in upload.json()["detail"]
    assert [j["id"] for j in client.get("/jobs").json()] == [first["id"]]
    assert len(launcher.runs) == 1
    uploads = manager.settings.data_dir / "uploads"
    assert not uploads.exists() or list(uploads.iterdir()) == []
    # Another checkpoint is fine, and once the first job stopped its checkpoint is free again.
    assert _rate(client, "s3a://checkpoints/other").status_code == 201
    client.post(f"/jobs/{first['id']}/stop")
    assert _rate(client).status_code == 201


def test_queued_and_restarting_jobs_hold_their_checkpoint(
    make_settings: Callable[..., OrionSettings], launcher: FakeLauncher, master: FakeMaster
) -> None:
    settings = make_settings(max_active_jobs=1, restart_backoff_seconds=3600)
    with TestClient(create_app(settings, launcher=launcher, master=master, monitor=False)) as c:
        c.headers["Authorization"] = "Bearer unit-test-token-0123456789"
        manager: JobManager = c.app.state.manager  # type: ignore[attr-defined]
        busy = c.post("/jobs", data={"job": "count_batch"}).json()
        queued = _rate(c, supervise="true").json()
        assert queued["state"] == "queued"
        refused = _rate(c)
        assert refused.status_code == 409 and f"job {queued['id']} (rate_stream) is queued" in refused.json()["detail"]
        launcher.last(busy["id"]).rc = 0
        manager.tick()  # the slot frees: the streaming job launches
        launcher.last(queued["id"]).rc = 1  # and crashes: supervised, it waits an hour to restart
        manager.tick()
        assert c.get(f"/jobs/{queued['id']}").json()["state"] == "restarting"
        refused = _rate(c)
        assert refused.status_code == 409 and "is restarting on checkpoint" in refused.json()["detail"]


def test_jobs_with_unknown_checkpoints_are_never_refused(client: TestClient) -> None:
    for _ in range(2):
        resp = client.post("/jobs", data={"job": "count_batch", "args": '["--rows", "5"]'})
        assert resp.status_code == 201 and resp.json()["job"]["checkpoint"] is None


@pytest.mark.parametrize(
    ("form", "expected"),
    [
        ({"args": '["--checkpoint-uri=s3a://checkpoints/up/"]'}, "s3://checkpoints/up"),
        ({"conf": '{"spark.sql.streaming.checkpointLocation": "s3n://checkpoints/up"}'}, "s3://checkpoints/up"),
    ],
)
def test_a_job_without_describe_is_guarded_by_its_argument_or_conf(
    client: TestClient, form: dict[str, str], expected: str
) -> None:
    up = b"print('a plain upload: it never sees --describe')\n"
    first = client.post("/jobs", files={"file": ("plain.py", up)}, data=form)
    assert first.status_code == 201 and first.json()["job"]["checkpoint"] == expected
    second = client.post("/jobs", files={"file": ("plain2.py", up)}, data=form)
    assert second.status_code == 409 and f"job {first.json()['id']} (plain)" in second.json()["detail"]


def test_restart_keeps_the_jobs_own_checkpoint_and_is_refused_if_another_job_took_it(
    client: TestClient, manager: JobManager, launcher: FakeLauncher
) -> None:
    first = _rate(client).json()["id"]
    resp = client.post(f"/jobs/{first}/restart")  # running: the same job, its own checkpoint
    assert resp.status_code == 200 and resp.json()["checkpoint"] == "s3://checkpoints/rate"
    client.post(f"/jobs/{first}/stop")
    second = _rate(client).json()["id"]  # the checkpoint is free: another job takes it
    resp = client.post(f"/jobs/{first}/restart")
    assert resp.status_code == 409 and f"job {second} (rate_stream)" in resp.json()["detail"]
    assert client.get(f"/jobs/{first}").json()["state"] == "stopped"


def test_racing_submissions_on_one_checkpoint_let_exactly_one_through(manager: JobManager) -> None:
    outcomes: list[str] = []
    start = threading.Barrier(8)

    def submit() -> None:
        start.wait()
        try:
            manager.submit(name="r", source="shipped", file_path=str(RATE), args=[], conf={}, supervise=False,
                           checkpoint="s3://checkpoints/race")  # fmt: skip
            outcomes.append("accepted")
        except CheckpointConflict:
            outcomes.append("refused")

    threads = [threading.Thread(target=submit) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(outcomes) == ["accepted"] + ["refused"] * 7


def test_catalog_shows_each_shipped_jobs_code_hash(client: TestClient, settings: OrionSettings) -> None:
    by_name = {j["name"]: j["code_hash"] for j in client.get("/catalog").json()}
    assert by_name["rate_stream"] == job_code_hash(settings.jobs_dir, RATE)
    assert len(set(by_name.values())) == len(by_name)  # different entries, different hashes
