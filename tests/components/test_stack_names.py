"""Two stacks on one Docker host: every Docker name (container, volume, network) carries the stack's name, so
none collides, while the hostnames and network aliases the generated configuration refers to stay the same."""

from __future__ import annotations

import pytest
from stack_harness import CONTAINER, NETWORK, VOLUME, Recording, run_stack

from components.containers import docker_name, stack_prefix

# A second stack needs ports of its own (the host has one of each); its names come from the stack alone.
OTHER_PORTS = {
    "kafkaHostPortBase": "29092",
    "minioApiPort": "29000",
    "minioConsolePort": "29001",
    "sparkMasterUiPort": "28080",
    "orionPort": "28000",
    "trinoPort": "28085",
    "supersetPort": "28088",
}


@pytest.fixture(scope="module")
def prod() -> Recording:
    return run_stack(OTHER_PORTS, stack="prod")


@pytest.mark.parametrize("typ", [CONTAINER, VOLUME, NETWORK])
def test_two_stacks_share_no_docker_name(default_stack: Recording, prod: Recording, typ: str) -> None:
    dev, other = default_stack.docker_names(typ), prod.docker_names(typ)
    assert dev and other
    assert not dev & other, f"both stacks would create {sorted(dev & other)}"
    assert all(n.startswith("lakehouse-dev-") for n in dev)
    assert all(n.startswith("lakehouse-prod-") for n in other)


def test_the_names_inside_the_network_are_the_same_in_both(default_stack: Recording, prod: Recording) -> None:
    expected = {
        "kafka-1",
        "kafka-2",
        "kafka-3",
        "minio",
        "spark-master",
        "spark-worker-1",
        "spark-worker-2",
        "spark-orion",
        "trino",
        "superset",
    }
    for stack in (default_stack, prod):
        containers = stack.containers()
        assert set(containers) == expected
        for host, c in containers.items():
            assert c["hostname"] == host
            assert [alias for n in c["networksAdvanced"] for alias in n["aliases"]] == [host]
    # So the generated files naming them are the same too (Kafka's differ only by the host ports set above).
    for host in ("spark-master", "spark-orion", "trino"):
        assert default_stack.uploads(host) == prod.uploads(host), host


def test_exact_names_of_the_dev_stack(default_stack: Recording) -> None:
    assert default_stack.docker_names(NETWORK) == {"lakehouse-dev-minio_lake_net"}
    assert default_stack.docker_names(VOLUME) == {
        "lakehouse-dev-kafka-1-kraft-c3-data",
        "lakehouse-dev-kafka-2-kraft-c3-data",
        "lakehouse-dev-kafka-3-kraft-c3-data",
        "lakehouse-dev-minio-data",
        "lakehouse-dev-orion-data",
        "lakehouse-dev-superset-home",
    }
    assert "lakehouse-dev-spark-orion" in default_stack.docker_names(CONTAINER)


def test_name_helpers() -> None:
    assert stack_prefix("lakehouse", "dev") == "lakehouse-dev"
    assert docker_name("lakehouse-dev", "minio") == "lakehouse-dev-minio"
    assert docker_name("", "minio") == "minio"
    with pytest.raises(ValueError, match="cannot prefix Docker names"):
        stack_prefix("lakehouse", "my stack")
