"""The Docker check's translation of pulumi-docker Container inputs into Engine API calls
(testbed/docker/containers.py), no engine: every field, an unknown one refused, start_interval only on API 1.44+."""

from __future__ import annotations

import io
import tarfile

import pytest

from testbed.docker.containers import KNOWN_INPUTS, UnknownInput, translate, upload_tar
from testbed.docker.graph import EngineMocks, Graph
from testbed.docker.recording import CONTAINER, run_stack

MIB = 1024 * 1024
FULL = {
    "name": "lakehouse-x-kafka-1",
    "image": "sha256:" + "a" * 64,
    "hostname": "kafka-1",
    "command": ["bash", "-c", "exec x"],
    "entrypoints": ["/entry"],
    "envs": ["A=1", "B=2"],
    "labels": [{"label": "lakehouse.project", "value": "lakehouse"}],
    "user": "1000:1000",
    "workingDir": "/w",
    "uploads": [
        {"file": "/opt/a/server.properties", "content": "x=1\n", "executable": False},
        {"file": "/opt/a/run.sh", "content": "#!/bin/sh\n", "executable": True},
    ],
    "volumes": [{"volumeName": "lakehouse-x-data", "containerPath": "/data"}],
    "ports": [{"internal": 9092.0, "external": 19092.0, "ip": "127.0.0.1", "protocol": "tcp"}],
    "networksAdvanced": [{"name": "lakehouse-x-net", "aliases": ["kafka-1"]}],
    "healthcheck": {
        "tests": ["CMD", "bash", "-c", "probe"],
        "interval": "30s",
        "timeout": "20s",
        "startPeriod": "1m30s",
        "startInterval": "3s",
        "retries": 5.0,
    },
    "restart": "unless-stopped",
    "memory": 1792.0,
    "memorySwap": -1.0,
    "init": True,
    "stopTimeout": 150.0,
    "destroyGraceSeconds": 150.0,
    "wait": True,
    "waitTimeout": 180.0,
}


def test_every_field_becomes_its_engine_api_counterpart() -> None:
    spec = translate(FULL, "1.44")
    body, host = spec.body, spec.body["HostConfig"]
    assert body["Image"] == FULL["image"] and body["Hostname"] == "kafka-1"
    assert body["Cmd"] == FULL["command"] and body["Entrypoint"] == ["/entry"]
    assert body["Env"] == ["A=1", "B=2"] and body["Labels"] == {"lakehouse.project": "lakehouse"}
    assert body["User"] == "1000:1000" and body["WorkingDir"] == "/w"
    assert body["ExposedPorts"] == {"9092/tcp": {}}
    assert host["PortBindings"] == {"9092/tcp": [{"HostIp": "127.0.0.1", "HostPort": "19092"}]}
    assert body["Volumes"] == {"/data": {}} and host["Binds"] == ["lakehouse-x-data:/data:rw"]
    assert body["Healthcheck"] == {
        "Test": ["CMD", "bash", "-c", "probe"],
        "Interval": 30 * 10**9,
        "Timeout": 20 * 10**9,
        "StartPeriod": 90 * 10**9,
        "StartInterval": 3 * 10**9,
        "Retries": 5,
    }
    assert host["RestartPolicy"] == {"Name": "unless-stopped", "MaximumRetryCount": 0}
    assert host["Memory"] == 1792 * MIB and host["MemorySwap"] == -1  # MiB in, bytes out; -1 as it is
    assert host["Init"] is True and body["StopTimeout"] == 150
    assert host["NetworkMode"] == "bridge"  # created on bridge, then moved to the networks below
    assert spec.networks == [("lakehouse-x-net", ["kafka-1"])]
    assert [(u.path, u.mode) for u in spec.uploads] == [("/opt/a/server.properties", 0o644), ("/opt/a/run.sh", 0o744)]
    assert (spec.wait, spec.wait_timeout, spec.destroy_grace_seconds) == (True, 180, 150)
    assert spec.dropped == () and spec.notes == []


def test_unset_inputs_get_the_providers_defaults() -> None:
    spec = translate({"name": "c", "image": "img"}, "1.44")
    host = spec.body["HostConfig"]
    assert host["RestartPolicy"]["Name"] == "no" and host["Init"] is False
    assert "Memory" not in host and "MemorySwap" not in host  # Docker then derives MemorySwap itself
    assert (spec.wait, spec.wait_timeout, spec.destroy_grace_seconds, spec.remove_volumes) == (False, 60, 0, True)


def test_start_interval_is_dropped_below_api_1_44_and_says_so() -> None:
    spec = translate(FULL, "1.41")
    assert "StartInterval" not in spec.body["Healthcheck"]
    assert spec.dropped == ("healthcheck.startInterval",)
    assert "start_interval 3s dropped" in spec.notes[0] and "1.41" in spec.notes[0]


@pytest.mark.parametrize(
    ("inputs", "named"),
    [
        ({**FULL, "gpus": "all"}, "gpus"),
        ({**FULL, "uploads": [{"file": "/f", "content": "x", "owner": "1000"}]}, "owner"),
        ({**FULL, "volumes": [{"volumeName": "v", "containerPath": "/d", "fromContainer": "x"}]}, "fromContainer"),
        ({**FULL, "healthcheck": {**FULL["healthcheck"], "startSomething": "1s"}}, "startSomething"),
        ({**FULL, "networksAdvanced": [{"name": "n", "ipv4Address": "10.0.0.2"}]}, "ipv4Address"),
    ],
)
def test_an_unknown_input_or_field_is_refused_by_name(inputs: dict, named: str) -> None:
    with pytest.raises(UnknownInput, match=named):
        translate(inputs, "1.44")


def test_a_fractional_number_is_not_an_integer_input() -> None:
    with pytest.raises(UnknownInput, match="integer"):
        translate({**FULL, "memory": 1.5}, "1.44")


def test_upload_tar_holds_one_file_at_its_absolute_path_with_its_mode() -> None:
    spec = translate(FULL, "1.44")
    with tarfile.open(fileobj=io.BytesIO(upload_tar(spec.uploads[1]))) as tar:
        (member,) = tar.getmembers()
        assert member.name.lstrip("/") == "opt/a/run.sh" and member.mode == 0o744
        assert tar.extractfile(member).read() == b"#!/bin/sh\n"


def test_every_container_of_the_program_translates() -> None:
    """The program's containers use no input the check does not know (a new one fails here first)."""
    rec = run_stack(mocks=EngineMocks(lambda tag: "sha256:" + "b" * 64), stack="dockercheck")
    containers = Graph.from_recording(rec).of_type(CONTAINER)
    assert len(containers) >= 10
    for node in containers:
        assert set(node.values) <= KNOWN_INPUTS
        spec = translate(node.values, "1.41")
        assert spec.wait and spec.body["HostConfig"]["Memory"] > 0, spec.name
