"""__main__.py, the Pulumi program itself: config -> components -> exports, as `pulumi up` runs it.

It is executed under the recording mocks of tests/components (loaded by path: this file sits beside
the test bed's conftest, not theirs) with `lakehouse:*` config, and `pulumi.export` is captured.
"""

from __future__ import annotations

import importlib.util
import runpy
import sys
from pathlib import Path
from typing import Any

import pulumi
import pytest

from lakehouse import endpoints
from lakehouse.settings import ConfigError

ROOT = Path(__file__).resolve().parent.parent
MAIN = ROOT / "__main__.py"


def _harness() -> Any:
    name = "stack_harness"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, ROOT / "tests/components/stack_harness.py")
        assert spec and spec.loader
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def run_main(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, str], secret_keys: list[str] | None = None, mocks: Any = None
) -> Any:
    harness = _harness()
    exported: dict[str, Any] = {}
    monkeypatch.setattr(pulumi, "export", lambda key, value: exported.__setitem__(key, value))

    def program() -> dict[str, Any]:
        runpy.run_path(str(MAIN), run_name="__main__")
        return exported

    return harness.run_program(program, config, secret_keys, mocks)


def test_main_exports_every_endpoint_key(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = run_main(monkeypatch, {})
    assert set(endpoints.ALL_KEYS) <= set(rec.outputs)
    assert rec.secret_outputs == set(endpoints.SECRET_KEYS)
    assert rec.outputs["kafka_bootstrap_servers"] == "localhost:19092,localhost:19093,localhost:19094"
    assert rec.outputs["kafka_topic"] == "logistics-events"
    assert rec.outputs["orion_url"] == "http://localhost:8000"
    assert rec.outputs["superset_admin_user"] == "admin"
    types = {r.typ for r in rec.resources}
    assert {
        f"lakehouse:index:{t}"
        for t in ("Network", "Secrets", "KafkaCluster", "Storage", "Spark", "Orion", "Trino", "Superset")
    } <= types


def test_main_follows_the_config(monkeypatch: pytest.MonkeyPatch) -> None:
    rec = run_main(
        monkeypatch, {"kafkaBrokers": "5", "sparkWorkers": "3", "kafkaMode": "zookeeper", "orionPort": "18000"}
    )
    names = {r.inputs["hostname"] for r in rec.resources if r.typ == "docker:index/container:Container"}
    assert {"kafka-5", "spark-worker-3", "zookeeper"} <= names
    assert rec.outputs["orion_url"] == "http://localhost:18000"
    assert rec.outputs["kafka_bootstrap_servers"].count(",") == 4


@pytest.mark.parametrize(
    ("config", "text"),
    [
        ({"kafkaBrokers": "0"}, "lakehouse:kafkaBrokers = 0 is not allowed"),
        ({"sparkExecutorMemory": "-512m"}, "lakehouse:sparkExecutorMemory = '-512m' is not allowed"),
        ({"kafkaMode": "raft"}, "lakehouse:kafkaMode = 'raft' is not allowed: one of 'kraft', 'zookeeper'"),
        ({"orionPort": "9000"}, "host port 9000 is given to both minio (S3 API) and orion"),
    ],
)
def test_main_stops_on_bad_config_before_registering_anything(
    monkeypatch: pytest.MonkeyPatch, config: dict[str, str], text: str
) -> None:
    mocks = _harness().RecordingMocks()
    with pytest.raises(ConfigError) as err:
        run_main(monkeypatch, config, mocks=mocks)
    assert text in str(err.value)
    assert mocks.resources == []
