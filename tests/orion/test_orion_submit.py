"""POST /jobs: shipped jobs and uploads, validation errors that say what is allowed, the catalog."""

from __future__ import annotations

from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from orion_fakes import FakeLauncher

from orion.settings import OrionSettings

GOOD_PY = b'"""An uploaded job."""\nprint("hello")\n'


def test_submit_shipped_job_is_201_and_launched_with_its_file_args_and_conf(
    client: TestClient, launcher: FakeLauncher, settings: OrionSettings
) -> None:
    resp = client.post(
        "/jobs",
        data={"job": "count_batch", "args": '["--rows", "5"]', "conf": '{"spark.executor.memory": "512m"}'},
    )
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["state"] == "submitted"
    assert body["job"]["name"] == "count_batch" and body["job"]["source"] == "shipped"
    assert body["job"]["args"] == ["--rows", "5"]
    assert body["job"]["conf"] == {"spark.executor.memory": "512m"}
    assert body["job"]["supervise"] is False
    job, _ = launcher.runs[0]
    assert job.id == body["id"]
    assert job.file_path == str(settings.jobs_dir / "count_batch.py")


def test_submit_upload_stores_the_file_under_the_data_dir(
    client: TestClient, launcher: FakeLauncher, settings: OrionSettings
) -> None:
    resp = client.post("/jobs", files={"file": ("my job.py", GOOD_PY, "text/x-python")}, data={"supervise": "true"})
    assert resp.status_code == 201, resp.text
    assert resp.json()["job"]["name"] == "my_job" and resp.json()["job"]["supervise"] is True
    stored = Path(launcher.runs[0][0].file_path)
    assert stored.read_bytes() == GOOD_PY
    assert stored.name == "my_job.py"
    assert (settings.data_dir / "uploads") in stored.parents


def test_upload_with_path_in_its_name_cannot_escape_the_upload_dir(
    client: TestClient, launcher: FakeLauncher, settings: OrionSettings
) -> None:
    resp = client.post("/jobs", files={"file": ("../../etc/evil.py", GOOD_PY)})
    assert resp.status_code == 201
    stored = Path(launcher.runs[0][0].file_path).resolve()
    assert stored.parent.parent == (settings.data_dir / "uploads").resolve()
    assert stored.name == "evil.py"


@pytest.mark.parametrize(
    ("data", "files", "status", "detail"),
    [
        ({}, None, 422, "exactly one of 'job'"),
        ({"job": "count_batch"}, {"file": ("a.py", GOOD_PY)}, 422, "exactly one of 'job'"),
        ({"job": "nope"}, None, 422, "unknown job 'nope': shipped jobs are count_batch, pkg_batch, rate_stream"),
        ({"job": "../count_batch"}, None, 422, "unknown job '../count_batch'"),
        ({}, {"file": ("job.sh", b"echo hi")}, 422, "only .py uploads are accepted"),
        ({}, {"file": ("job.py.txt", GOOD_PY)}, 422, "not a Python file"),
        ({}, {"file": ("job.py", b"def broken(:\n")}, 422, "not valid Python: line 1"),
        ({}, {"file": ("job.py", b"\xff\xfe\x00x")}, 422, "not UTF-8 text"),
        ({}, {"file": ("job.py", b"   \n")}, 422, "is empty"),
        ({}, {"file": ("big.py", b"#" * 5000)}, 413, "larger than the upload limit of 4096 bytes"),
        ({"job": "count_batch", "args": "[1, 2]"}, None, 422, "args must be a JSON array of strings"),
        ({"job": "count_batch", "args": '{"a": 1}'}, None, 422, "args must be a JSON array of strings"),
        ({"job": "count_batch", "args": "[--rows"}, None, 422, "args is not valid JSON"),
        ({"job": "count_batch", "conf": "[]"}, None, 422, "conf must be a JSON object"),
        ({"job": "count_batch", "conf": "{bad"}, None, 422, "conf is not valid JSON"),
        ({"job": "count_batch", "conf": '{"executor.memory": "1g"}'}, None, 422, "is not a Spark property"),
        ({"job": "count_batch", "conf": '{"spark.master": "local"}'}, None, 422, "is set by Orion"),
        ({"job": "count_batch", "conf": '{"spark.submit.deployMode": "cluster"}'}, None, 422, "is set by Orion"),
        ({"job": "count_batch", "conf": '{"spark.cores.max": 3}'}, None, 422, "integer from 1 to 2 (ORION_CORES_MAX)"),
        ({"job": "count_batch", "conf": '{"spark.x": {"a": 1}}'}, None, 422, "string, number or boolean"),
        ({"job": "count_batch", "conf": '{"spark.x": "a\\nb"}'}, None, 422, "on one line"),
    ],
)
def test_bad_submission_is_refused_with_a_clear_detail(
    client: TestClient, launcher: FakeLauncher, data: dict, files: dict | None, status: int, detail: str
) -> None:
    resp = client.post("/jobs", data=data, files=files)
    assert resp.status_code == status, resp.text
    assert detail in resp.json()["detail"]
    assert launcher.runs == []
    assert client.get("/jobs").json() == []


def test_oversize_body_is_refused_before_it_is_read(client: TestClient, launcher: FakeLauncher) -> None:
    resp = client.post("/jobs", files={"file": ("huge.py", b"#" * (1024 * 1024))})
    assert resp.status_code == 413
    assert "ORION_UPLOAD_MAX_BYTES" in resp.json()["detail"]
    assert launcher.runs == []


def test_job_conf_below_the_cores_cap_is_kept(client: TestClient, launcher: FakeLauncher) -> None:
    resp = client.post("/jobs", data={"job": "count_batch", "conf": '{"spark.cores.max": 1, "spark.x.flag": true}'})
    assert resp.status_code == 201
    assert launcher.runs[0][0].conf == {"spark.cores.max": "1", "spark.x.flag": "true"}


def test_catalog_lists_shipped_jobs_with_their_docstring(client: TestClient) -> None:
    resp = client.get("/catalog")
    assert resp.status_code == 200
    by_name = {j["name"]: j["description"] for j in resp.json()}
    assert set(by_name) == {"count_batch", "pkg_batch", "rate_stream"}  # not the package orion_testpkg/
    assert by_name["count_batch"].startswith("Batch test job")


def test_without_jobs_dir_a_shipped_job_is_refused_and_uploads_still_work(
    make_settings, launcher: FakeLauncher, master
) -> None:  # type: ignore[no-untyped-def]
    from orion.main import create_app

    settings = make_settings(jobs_dir=None)
    with TestClient(create_app(settings, launcher=launcher, master=master, monitor=False)) as c:
        c.headers["Authorization"] = "Bearer unit-test-token-0123456789"
        resp = c.post("/jobs", data={"job": "count_batch"})
        assert resp.status_code == 422 and "ORION_JOBS_DIR is not set" in resp.json()["detail"]
        assert c.get("/catalog").json() == []
        assert c.post("/jobs", files={"file": ("a.py", GOOD_PY)}).status_code == 201
