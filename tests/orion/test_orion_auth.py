"""Bearer auth: every endpoint but /health (and the static UI/docs) answers 401 without the token."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from orion.main import create_app
from orion.settings import OrionSettings

PROTECTED = [
    ("GET", "/jobs"),
    ("POST", "/jobs"),
    ("GET", "/jobs/1"),
    ("GET", "/jobs/1/logs"),
    ("POST", "/jobs/1/stop"),
    ("POST", "/jobs/1/restart"),
    ("DELETE", "/jobs/1"),
    ("GET", "/catalog"),
]


@pytest.fixture
def anonymous(client: TestClient) -> TestClient:
    client.headers.pop("Authorization")
    return client


def test_every_api_route_is_protected_except_health(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    routes = {(method.upper(), path.replace("{job_id}", "1")) for path, ops in spec["paths"].items() for method in ops}
    assert routes - {("GET", "/health")} == set(PROTECTED)


@pytest.mark.parametrize(("method", "path"), PROTECTED)
def test_request_without_token_is_401(anonymous: TestClient, method: str, path: str) -> None:
    resp = anonymous.request(method, path)
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Bearer"
    assert "bearer token" in resp.json()["detail"]


@pytest.mark.parametrize(("method", "path"), PROTECTED)
@pytest.mark.parametrize("header", ["Bearer wrong-token-0123456789", "Basic dXNlcjpwYXNz", "Bearer", "unit-test-token"])
def test_request_with_wrong_token_is_401(anonymous: TestClient, method: str, path: str, header: str) -> None:
    resp = anonymous.request(method, path, headers={"Authorization": header})
    assert resp.status_code == 401


def test_request_with_token_is_let_through(client: TestClient) -> None:
    assert client.get("/jobs").status_code == 200
    assert client.get("/jobs/999").status_code == 404  # past auth: the job just does not exist


def test_health_needs_no_token_and_reports_the_master(anonymous: TestClient) -> None:
    resp = anonymous.get("/health")
    assert resp.status_code == 200
    body = resp.json()
    assert body["status"] == "ok"
    assert body["spark_master"] == {
        "url": "http://master.invalid:8080", "reachable": True, "status": "ALIVE",
        "alive_workers": 2, "cores": 2, "cores_used": 0, "error": None,
    }  # fmt: skip


def test_health_is_503_when_the_master_is_unreachable(settings: OrionSettings, launcher, master) -> None:  # type: ignore[no-untyped-def]
    master.reachable = False
    with TestClient(create_app(settings, launcher=launcher, master=master, monitor=False)) as c:
        resp = c.get("/health")
    assert resp.status_code == 503
    assert resp.json()["spark_master"]["reachable"] is False
    assert "did not answer" in resp.json()["spark_master"]["error"]


def test_openapi_documents_the_bearer_scheme(anonymous: TestClient) -> None:
    spec = anonymous.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert {"/jobs", "/jobs/{job_id}", "/jobs/{job_id}/logs", "/health"} <= set(spec["paths"])
