"""Superset of the test bed: API login, then a database connection to the test bed's Trino created through
the API and a SQL Lab query run through it."""

from __future__ import annotations

import uuid
from urllib.parse import urlparse

import pytest
import requests

from lakehouse.clients.superset_api import SupersetClient
from lakehouse.generators.superset import trino_sqlalchemy_uri

pytestmark = pytest.mark.integration


@pytest.fixture
def superset(testbed: dict[str, str], require_services) -> requests.Session:
    require_services("superset", "trino")
    return SupersetClient.login(
        testbed["superset_url"], testbed["superset_admin_user"], testbed["superset_admin_password"]
    ).http


def test_api_login_with_the_admin_password(testbed: dict[str, str], superset: requests.Session) -> None:
    me = superset.get(f"{testbed['superset_url']}/api/v1/me/", timeout=30)
    assert me.status_code == 200 and me.json()["result"]["username"] == testbed["superset_admin_user"]


def test_api_login_refuses_a_wrong_password(testbed: dict[str, str], require_services) -> None:
    require_services("superset")
    resp = requests.post(
        f"{testbed['superset_url']}/api/v1/security/login",
        timeout=30,
        json={
            "username": testbed["superset_admin_user"],
            "password": "wrong-" + uuid.uuid4().hex,  # pragma: allowlist secret - a wrong one, on purpose
            "provider": "db",
            "refresh": False,
        },
    )
    assert resp.status_code == 401


def test_sql_lab_query_through_a_trino_database(testbed: dict[str, str], superset: requests.Session) -> None:
    base = testbed["superset_url"]
    trino = urlparse(testbed["trino_url"])
    created = superset.post(
        f"{base}/api/v1/database/",
        allow_redirects=False,
        timeout=60,
        json={
            "database_name": f"testbed-trino-{uuid.uuid4().hex[:8]}",
            "sqlalchemy_uri": trino_sqlalchemy_uri(host=trino.hostname, port=trino.port),
            "expose_in_sqllab": True,
        },
    )
    assert created.status_code == 201, created.text
    db_id = created.json()["id"]
    try:

        def run(sql: str) -> list[dict]:
            resp = superset.post(
                f"{base}/api/v1/sqllab/execute/",
                allow_redirects=False,
                timeout=120,
                json={"database_id": db_id, "sql": sql, "runAsync": False, "client_id": uuid.uuid4().hex[:10]},
            )
            assert resp.status_code == 200, resp.text[:2000]
            body = resp.json()
            assert body["status"] == "success", body
            return body["data"]

        # The server that answers is the test bed's Trino 476 ...
        assert run("SELECT node_version, coordinator FROM system.runtime.nodes") == [
            {"node_version": "476", "coordinator": True}
        ]
        # ... and the rows come back exactly, through Superset's Trino driver.
        assert run("SELECT x, x * x AS sq FROM UNNEST(sequence(1, 5)) AS t(x) ORDER BY x") == [
            {"x": x, "sq": x * x} for x in range(1, 6)
        ]
        assert any(r.get("Catalog") == "delta" for r in run("SHOW CATALOGS"))
    finally:
        superset.delete(f"{base}/api/v1/database/{db_id}", allow_redirects=False, timeout=60)
