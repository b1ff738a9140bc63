"""Spark Orion as the test bed starts it (`python -m orion` with the ORION_* environment): it sees the test
bed's Spark master and guards its API with the test bed's token."""

from __future__ import annotations

import pytest
import requests

pytestmark = pytest.mark.integration


def test_orion_reports_the_test_beds_master(testbed: dict[str, str], require_services) -> None:
    require_services("orion", "spark")
    body = requests.get(f"{testbed['orion_url']}/health", timeout=10).json()
    assert body["spark_master"]["url"] == testbed["spark_master_ui"]
    assert body["spark_master"]["reachable"] is True and body["spark_master"]["alive_workers"] == 2


def test_orion_api_needs_the_test_beds_token(testbed: dict[str, str], require_services) -> None:
    require_services("orion")
    url = f"{testbed['orion_url']}/jobs"
    assert requests.get(url, timeout=10).status_code == 401
    assert (
        requests.get(url, headers={"Authorization": "Bearer not-the-token-0123456789"}, timeout=10).status_code == 401
    )
    ok = requests.get(url, headers={"Authorization": f"Bearer {testbed['orion_token']}"}, timeout=10)
    assert ok.status_code == 200 and isinstance(ok.json(), list)
