"""Config loading: a bad `lakehouse:*` value stops the program before any resource is registered.

Each case runs the whole program under recording mocks and checks both the message (key, value, what is
allowed) and that the mocks saw no resource at all.
"""

from __future__ import annotations

import pytest
from stack_harness import RecordingMocks, run_stack

from components.config import StackConfig, check_secret, load_stack_config
from lakehouse.settings import ConfigError


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({"kafkaBrokers": "0"}, ["lakehouse:kafkaBrokers = 0", "an integer from 1 to 9"]),
        ({"sparkWorkerMemory": "-1g"}, ["lakehouse:sparkWorkerMemory = '-1g'", "a memory size from 512m to 512g"]),
        ({"kafkaHeap": "-512m"}, ["lakehouse:kafkaHeap = '-512m'", "a memory size from 64m to 512g"]),
        ({"trinoHeap": "200m"}, ["lakehouse:trinoHeap = '200m'", "a memory size from 256m"]),
        ({"sparkExecutorMemory": "256m"}, ["lakehouse:sparkExecutorMemory = '256m'", "from 512m"]),
        ({"kafkaBrokers": "2"}, ["lakehouse:kafkaBrokers = 2", "at least lakehouse:kafkaControllers (3)"]),
        ({"kafkaControllers": "2"}, ["lakehouse:kafkaControllers = 2", "1 or 3"]),
        ({"kafkaTopic": ".."}, ["lakehouse:kafkaTopic = '..'", "not '.' or '..'"]),
        ({"lakeBucket": "my..lake"}, ["lakehouse:lakeBucket = 'my..lake'", "no '..'"]),
        ({"allowNetworkExposure": "yes"}, ["lakehouse:allowNetworkExposure = 'yes'", "true or false"]),
        ({"streamTriggerInterval": "9999999 seconds"}, ["lakehouse:streamTriggerInterval", "a duration"]),
        ({"kafkaMode": "kafka"}, ["lakehouse:kafkaMode = 'kafka'", "'kraft', 'zookeeper'"]),
        ({"trinoPort": "8088"}, ["host port 8088", "superset", "trino", "must be unique"]),
        ({"kafkaHostPortBase": "8079"}, ["host port 8080", "kafka-2", "spark-master (web UI)"]),
        ({"sparkWorkers": "many"}, ["lakehouse:sparkWorkers = 'many'", "must be an integer"]),
        ({"kafkaBroker": "3"}, ["unknown config key(s) lakehouse:kafkaBroker", "allowed:", "kafkaBrokers"]),
        ({"bindAddress": "localhost"}, ["lakehouse:bindAddress = 'localhost'", "an IPv4 address"]),
        ({"bindAddress": "0.0.0.0"}, ["lakehouse:bindAddress = '0.0.0.0'", "lakehouse:allowNetworkExposure"]),  # noqa: S104
    ],
)
def test_bad_config_stops_before_any_resource(config: dict[str, str], expected: list[str]) -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as err:
        run_stack(config, mocks=mocks)
    for text in expected:
        assert text in str(err.value)
    assert mocks.resources == []


def test_secret_set_in_plain_text_is_refused_without_showing_it() -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as err:
        run_stack({"orionToken": "plain-text-token-123456"}, secret_keys=[], mocks=mocks)
    assert "lakehouse:orionToken is stored in plain text" in str(err.value)
    assert "--secret" in str(err.value)
    assert "plain-text-token-123456" not in str(err.value)
    assert mocks.resources == []


def test_too_short_secret_is_refused_without_showing_it() -> None:
    mocks = RecordingMocks()
    with pytest.raises(ConfigError) as err:
        # pragma: allowlist nextline secret - a test's fake value
        run_stack({"supersetSecretKey": "short-key"}, secret_keys=["supersetSecretKey"], mocks=mocks)
    message = str(err.value)
    assert "lakehouse:supersetSecretKey" in message and "32 to 256 characters" in message
    assert "short-key" not in message
    assert mocks.resources == []


def test_empty_secret_default_means_generated() -> None:
    # Pulumi.yaml declares each secret key with default "": that value must mean "generate it".
    st = run_stack({"orionToken": ""})
    assert any(r.name == "secrets-orion-token" for r in st.resources)


def test_check_secret_rules() -> None:
    check_secret("orionToken", "x" * 16, is_secret=True)
    with pytest.raises(ConfigError, match="16 to 256"):
        check_secret("orionToken", "x" * 15, is_secret=True)
    with pytest.raises(ConfigError, match="8 to 40"):
        check_secret("minioRootPassword", "x" * 41, is_secret=True)


def test_loader_reads_every_key_and_returns_secrets_as_secrets() -> None:
    from stack_harness import run_program

    seen: dict[str, StackConfig] = {}

    def program() -> dict[str, object]:
        loaded = load_stack_config()
        seen["config"] = loaded
        return {"token": loaded.secrets["orionToken"]}

    rec = run_program(
        program,
        {"kafkaBrokers": "4", "kafkaMode": "zookeeper", "sparkWorkerMemory": "2g", "orionToken": "t" * 20},
        secret_keys=["orionToken"],
    )
    loaded = seen["config"]
    assert loaded.settings.kafka_brokers == 4
    assert loaded.settings.kafka_mode == "zookeeper"
    assert loaded.settings.spark_worker_memory == "2g"
    assert set(loaded.secrets) == {"orionToken"}
    assert rec.outputs["token"] == "t" * 20
    assert rec.secret_outputs == {"token"}


def test_only_components_config_reads_pulumi_config() -> None:
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    offenders = []
    for path in [root / "__main__.py", *sorted((root / "components").rglob("*.py"))]:
        if path.name == "config.py" and path.parent.name == "components":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Attribute) and node.attr in ("Config", "get_config", "CONFIG"):
                offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
