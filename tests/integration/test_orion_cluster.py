"""Spark Orion against the test bed's real standalone cluster: batch, streaming, supervision, restarts.

The module starts its own Orion (`python -m orion`, ephemeral port, own data dir) pointed at the
test bed's Spark master, so it can kill and restart it; jobs come from tests/orion/jobs (a batch
count and a rate-source stream), both also exercised as uploads. Figures are printed (-s to see).
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from orion.codehash import job_code_hash
from tests.orion.orion_live import TEST_JOBS, OrionProcess, master_apps, wait_until

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def orion(testbed: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrionProcess]:
    proc = OrionProcess(testbed, tmp_path_factory.mktemp("orion-it") / "data")
    print(f"\n[orion] started in {proc.start():.1f} s on {proc.url}")
    try:
        yield proc
    finally:
        for job in proc.http.get(f"{proc.url}/jobs", timeout=10).json() if proc.proc.poll() is None else []:
            if job["state"] in {"queued", "submitted", "running", "restarting"}:
                proc.http.post(f"{proc.url}/jobs/{job['id']}/stop", timeout=120)
        proc.stop()


def _no_secret(orion: OrionProcess, job_id: int) -> None:
    secret = orion.endpoints["testbed_s3_spark_secret_key"]
    listing = orion.http.get(f"{orion.url}/jobs", timeout=10).text
    assert secret not in listing and secret not in orion.job(job_id).__repr__() and secret not in orion.logs(job_id)


def test_health_reports_the_real_master(orion: OrionProcess) -> None:
    body = orion.http.get(f"{orion.url}/health", timeout=10).json()
    assert body["spark_master"]["reachable"] is True and body["spark_master"]["status"] == "ALIVE"
    assert body["spark_master"]["alive_workers"] >= 1


def test_batch_job_runs_on_the_cluster_and_succeeds(orion: OrionProcess) -> None:
    t0 = time.monotonic()
    created = orion.submit(job="count_batch", args='["--rows", "1000", "--hold-seconds", "20"]')
    job = orion.wait_running_on_master(created["id"])
    print(f"\n[orion] batch job: submit -> RUNNING in the master's /json/ in {time.monotonic() - t0:.1f} s")
    assert job["conf"] == {} and "spark.cores.max=1" in job["command"]
    done = orion.wait_state(created["id"], {"succeeded", "failed"}, timeout=180)
    assert (done["state"], done["exit_code"]) == ("succeeded", 0), orion.logs(created["id"])[-3000:]
    assert master_apps(orion.endpoints["spark_master_ui"])[job["app_id"]] == "FINISHED"
    log = orion.logs(created["id"])
    assert "count_batch: counted 1000 rows" in log and f"app ID {job['app_id']}" in log
    _no_secret(orion, created["id"])


def test_failing_batch_job_ends_failed_with_its_exit_code(orion: OrionProcess) -> None:
    created = orion.submit(job="count_batch", args='["--rows", "10", "--fail"]')
    done = orion.wait_state(created["id"], {"succeeded", "failed"}, timeout=240)
    assert (done["state"], done["exit_code"], done["restart_count"]) == ("failed", 3, 0)


def test_batch_job_imports_the_shipped_package_on_its_executors(orion: OrionProcess) -> None:
    created = orion.submit(job="pkg_batch", args='["--rows", "10"]')
    done = orion.wait_state(created["id"], {"succeeded", "failed"}, timeout=240)
    log = orion.logs(created["id"])
    assert done["state"] == "succeeded", log[-3000:]
    i = done["command"].index("--py-files")
    assert done["command"][i + 1].endswith("/packages.zip")
    # 3 * (0 + 1 + ... + 9) computed by executors that imported orion_testpkg from the zip they were sent.
    assert "pkg_batch: sum 135 from " in log
    where = log.split("pkg_batch: sum 135 from ", 1)[1].split()[0]
    assert "packages.zip/orion_testpkg/__init__.py" in where, where
    assert done["code_hash"] == job_code_hash(TEST_JOBS, TEST_JOBS / "pkg_batch.py")


def test_uploaded_streaming_job_reports_progress_and_stops(orion: OrionProcess, tmp_path: Path) -> None:
    t0 = time.monotonic()
    checkpoint = tmp_path / "ckpt"
    created = orion.submit(
        args=f'["--checkpoint", "{checkpoint}/", "--rows-per-second", "50"]',
        files={"file": ("rate_stream.py", (TEST_JOBS / "rate_stream.py").read_bytes(), "text/x-python")},
    )
    submit_s = time.monotonic() - t0
    job_id = created["id"]
    # Orion asked the job (--describe) which checkpoint it writes; the upload has the shipped job's code hash.
    assert created["job"]["checkpoint"] == str(checkpoint)
    assert created["job"]["code_hash"] == job_code_hash(TEST_JOBS, TEST_JOBS / "rate_stream.py")
    job = orion.wait_running_on_master(job_id)
    print(f"\n[orion] streaming job: POST /jobs (with --describe) {submit_s:.2f} s; "
          f"submit -> RUNNING in {time.monotonic() - t0:.1f} s")  # fmt: skip

    # A second run on the same checkpoint, submitted by name this time, is refused naming the running job.
    t2 = time.monotonic()
    form = {"job": "rate_stream", "args": f'["--checkpoint", "{checkpoint}"]'}
    again = orion.http.post(f"{orion.url}/jobs", data=form, timeout=60)
    print(f"[orion] second run on the same checkpoint: {again.status_code} in {time.monotonic() - t2:.2f} s")
    assert again.status_code == 409, again.text
    assert f"job {job_id} (rate_stream) is running on checkpoint {checkpoint}" in again.json()["detail"]

    def progressed() -> dict | None:
        streaming = orion.job(job_id)["streaming"]
        q = streaming["queries"][0] if streaming and streaming["queries"] else None
        return q if q and (q["batch_id"] or 0) >= 3 and q["input_rows_per_second"] else None

    q = wait_until(progressed, 180, "3 micro-batches reported by the driver")
    print(f"[orion] streaming progress: batch {q['batch_id']}, {q['input_rows_per_second']:.1f} in rows/s, "
          f"{q['processed_rows_per_second']:.1f} processed rows/s, {q['batch_duration_ms']} ms per batch")  # fmt: skip
    assert q["name"] == "rate_to_noop" and q["last_batch_at"] and q["batch_duration_ms"] > 0
    assert isinstance(q["sources"][0]["end_offset"], int) and q["sources"][0]["end_offset"] > 0

    t1 = time.monotonic()
    stopped = orion.http.post(f"{orion.url}/jobs/{job_id}/stop", timeout=120).json()
    print(
        f"[orion] stop took {time.monotonic() - t1:.1f} s: {stopped['stop_outcome']} batch {stopped['stop_batch_id']}"
    )
    assert stopped["state"] == "stopped"
    # The job's own stop line, as the pump read it: it finished a batch at or after the 3rd.
    assert stopped["stop_outcome"] == "finished" and stopped["stop_batch_id"] >= 3, orion.logs(job_id)[-3000:]
    wait_until(lambda: master_apps(orion.endpoints["spark_master_ui"]).get(job["app_id"]) in {"FINISHED", "KILLED"},
               30, "the app to leave the master's active apps")  # fmt: skip
    time.sleep(3)
    assert orion.job(job_id)["state"] == "stopped"  # not resubmitted
    _no_secret(orion, job_id)


def test_supervised_job_survives_a_driver_kill_and_orion_restarts(orion: OrionProcess, tmp_path: Path) -> None:
    ui = orion.endpoints["spark_master_ui"]
    created = orion.submit(job="rate_stream", args=f'["--checkpoint", "{tmp_path / "ckpt"}"]', supervise="true")
    job_id = created["id"]
    first = orion.wait_running_on_master(job_id)

    # 1. kill -9 the driver: Orion notices, backs off, resubmits; a new app RUNS on the master.
    t0 = time.monotonic()
    os.kill(first["pid"], signal.SIGKILL)
    back = orion.wait_running_on_master(job_id, not_app=first["app_id"])
    print(f"\n[orion] driver kill -9 -> new app RUNNING in {time.monotonic() - t0:.1f} s")
    assert back["restart_count"] == 1 and back["run"] == 2 and back["pid"] != first["pid"]
    assert master_apps(ui)[first["app_id"]] != "RUNNING"
    assert "exited with code -9" in orion.logs(job_id)

    # 2. Orion restarts (SIGTERM): history kept, the supervised job is resubmitted.
    history = {j["id"]: j["state"] for j in orion.http.get(f"{orion.url}/jobs", timeout=10).json()}
    t1 = time.monotonic()
    orion.restart(signal.SIGTERM)
    after = orion.wait_running_on_master(job_id, not_app=back["app_id"])
    print(f"[orion] Orion restart (SIGTERM) -> supervised job RUNNING again in {time.monotonic() - t1:.1f} s")
    kept = {j["id"]: j["state"] for j in orion.http.get(f"{orion.url}/jobs", timeout=10).json()}
    assert {k: v for k, v in kept.items() if k != job_id} == {k: v for k, v in history.items() if k != job_id}
    assert after["restart_count"] == 2

    # 3. Orion crashes (kill -9): the orphaned driver is cleaned up, the job is resubmitted once.
    orphan_pid = after["pid"]
    t2 = time.monotonic()
    orion.restart(signal.SIGKILL)
    again = orion.wait_running_on_master(job_id, not_app=after["app_id"])
    print(f"[orion] Orion kill -9 -> supervised job RUNNING again in {time.monotonic() - t2:.1f} s")
    assert again["restart_count"] == 3
    wait_until(lambda: _gone(orphan_pid), 30, "the orphaned driver to be gone")
    running_apps = [a for a, s in master_apps(ui).items() if s == "RUNNING"]
    assert again["app_id"] in running_apps and after["app_id"] not in running_apps

    stopped = orion.http.post(f"{orion.url}/jobs/{job_id}/stop", timeout=120).json()
    assert stopped["state"] == "stopped"
    _no_secret(orion, job_id)


def _gone(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"  # dead, not yet reaped
    except FileNotFoundError:
        return True
