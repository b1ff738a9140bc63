"""The Docker check's pieces on the real engine, on a tiny image of its own (busybox in an imported rootfs, made
here): a container created as pulumi-docker creates it (network alias, volume, uploads with their modes,
published port, healthcheck, memory) is waited for as wait=True does, read back as the provider reads it,
and shows exactly the changes the issue found - and none once the inputs are written as Docker keeps them."""

from __future__ import annotations

import io
import shutil
import socket
import tarfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from testbed.docker import containers as C
from testbed.docker import readback as R

pytestmark = [pytest.mark.docker, pytest.mark.timeout(600)]
BUSYBOX = shutil.which("busybox") or "/bin/busybox"


@pytest.fixture(scope="module")
def client(docker_engine: Any) -> Any:
    return docker_engine.client


@pytest.fixture(scope="module")
def tiny_image(client: Any) -> Iterator[str]:
    """A rootfs with a static busybox, imported: the smallest image that runs a shell and a probe."""
    if not Path(BUSYBOX).exists():
        pytest.fail("busybox is missing: apt-get install -y busybox-static (Debian's package)")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        tar.add(BUSYBOX, arcname="bin/busybox")
        for applet in ("sh", "sleep", "cat", "test", "touch", "nc", "stat"):
            link = tarfile.TarInfo(f"bin/{applet}")
            link.type, link.linkname = tarfile.SYMTYPE, "busybox"
            tar.addfile(link)
        tmp = tarfile.TarInfo("tmp")
        tmp.type, tmp.mode = tarfile.DIRTYPE, 0o1777
        tar.addfile(tmp)
    tag = f"dockercheck-tiny:{uuid.uuid4().hex[:8]}"
    repo, _, version = tag.partition(":")
    client.api.import_image_from_data(buf.getvalue(), repository=repo, tag=version)
    yield client.images.get(tag).id
    client.api.remove_image(tag, force=True)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_a_container_as_the_provider_makes_it(client: Any, tiny_image: str) -> None:
    rid = uuid.uuid4().hex[:8]
    net, vol, name = f"dockercheck-pieces-{rid}-net", f"dockercheck-pieces-{rid}-data", f"dockercheck-pieces-{rid}"
    port = _free_port()
    program = {
        "name": name,
        "image": tiny_image,
        "hostname": "piece",
        "command": ["sh", "-c", "/opt/p/start.sh"],
        "envs": ["GREETING=hello"],
        "labels": [{"label": "lakehouse.project", "value": "dockercheck-pieces"}],
        "uploads": [
            {
                "file": "/opt/p/start.sh",
                "content": "#!/bin/sh\ntouch /tmp/ready\nexec nc -ll -p 7000 -e cat\n",
                "executable": True,
            },
            {"file": "/opt/p/conf/app.properties", "content": "a=1\n"},
        ],
        "volumes": [{"volumeName": vol, "containerPath": "/data"}],
        "ports": [{"internal": 7000, "external": port, "ip": "127.0.0.1", "protocol": "tcp"}],
        "networksAdvanced": [{"name": net, "aliases": ["piece"]}],
        "healthcheck": {
            "tests": ["CMD", "test", "-f", "/tmp/ready"],
            "interval": "1s",
            "timeout": "5s",
            "startPeriod": "2s",
            "startInterval": "1s",
            "retries": 3,
        },
        "restart": "unless-stopped",
        "memory": 64,
        "wait": True,
        "waitTimeout": 120,
    }
    client.api.create_network(net, driver="bridge")
    client.api.create_volume(vol)
    try:
        spec = C.translate(program, client.version()["ApiVersion"])
        cid = C.create_and_start(client, spec)
        took = C.wait_healthy(client, cid, spec, print)
        assert took < 120
        # Uploads: at their paths with the provider's modes (0744 executable, 0644 otherwise).
        modes = client.api.exec_start(
            client.api.exec_create(cid, ["stat", "-c", "%a %n", "/opt/p/start.sh", "/opt/p/conf/app.properties"])
        )
        assert modes.decode().split("\n")[:2] == ["744 /opt/p/start.sh", "644 /opt/p/conf/app.properties"]
        info = client.api.inspect_container(cid)
        assert list(info["NetworkSettings"]["Networks"]) == [net]  # off the default bridge, on its network
        assert "piece" in info["NetworkSettings"]["Networks"][net]["Aliases"]
        with socket.create_connection(("127.0.0.1", port), timeout=10):
            pass  # published on 127.0.0.1
        # The read-back: Docker derives MemorySwap (2 x memory); "2s" start_period reads back as "2s".
        changes = R.diff_container(R.read_container(info, program), program, skip=spec.dropped)
        swap = info["HostConfig"]["MemorySwap"]
        assert [str(c) for c in changes] == [f"memorySwap: {swap // 2**20 if swap > 0 else swap} => None"]
        assert swap in (128 * 2**20, -1)
        # A duration the program writes otherwise than Go does is a change; one written Go's way is not.
        kept_swap = swap // 2**20 if swap > 0 else swap
        hc = {**program["healthcheck"], "interval": "1000ms"}
        other_way = {**program, "memorySwap": kept_swap, "healthcheck": hc}
        state = R.read_container(info, program)
        assert [c.prop for c in R.diff_container(state, other_way, skip=spec.dropped)] == ["healthcheck.interval"]
        go_way = {**other_way, "healthcheck": {**program["healthcheck"], "interval": "1s"}}
        assert R.diff_container(state, go_way, skip=spec.dropped) == []
        # The provider's delete: stop with no grace, remove; the named volume stays.
        assert C.remove(client, cid, grace=0) is True
        assert C.remove(client, cid, grace=0) is False
        client.api.inspect_volume(vol)
    finally:
        C.remove(client, name)
        client.api.remove_volume(vol, force=True)
        client.api.remove_network(net)


def test_a_container_that_never_gets_healthy_fails_with_its_logs(client: Any, tiny_image: str) -> None:
    name = f"dockercheck-pieces-{uuid.uuid4().hex[:8]}"
    program = {
        "name": name,
        "image": tiny_image,
        "command": ["sh", "-c", "echo starting up; echo the config is missing >&2; exec sleep 600"],
        "healthcheck": {"tests": ["CMD", "test", "-f", "/tmp/ready"], "interval": "1s", "retries": 2},
        "wait": True,
        "waitTimeout": 8,
    }
    spec = C.translate(program, client.version()["ApiVersion"])
    try:
        cid = C.create_and_start(client, spec)
        with pytest.raises(C.ContainerFailed, match="did not become healthy within its wait_timeout of 8 s") as err:
            C.wait_healthy(client, cid, spec, print, observe_after_timeout=3)
        assert "the config is missing" in str(err.value) and "health=unhealthy" in str(err.value)
        assert "still not healthy" in str(err.value)
    finally:
        C.remove(client, name)
