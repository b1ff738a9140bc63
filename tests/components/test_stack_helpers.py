"""The shared container helpers and the memory sizing arithmetic."""

from __future__ import annotations

import pytest

from components import containers as c
from components import sizing

ANY = "0.0.0.0"  # noqa: S104 - the value under test, nothing binds here


def test_client_and_connect_addresses_follow_the_bind_address() -> None:
    assert c.client_host("127.0.0.1") == "localhost"
    assert c.client_host(ANY) == "localhost"
    assert c.client_host("192.168.1.20") == "192.168.1.20"
    assert c.connect_address(ANY) == "127.0.0.1"
    assert c.connect_address("127.0.0.1") == "127.0.0.1"
    assert c.connect_address("192.168.1.20") == "192.168.1.20"


def test_healthcheck_requires_a_docker_test_form() -> None:
    hc = c.healthcheck(["CMD", "true"])
    assert hc.tests == ["CMD", "true"]
    with pytest.raises(ValueError, match="CMD or CMD-SHELL"):
        c.healthcheck(["true"])


def test_http_probe_checks_a_json_field(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cmd = c.http_probe("http://localhost:8080/json/", json_field=("status", "ALIVE"))
    assert cmd[:2] == ["CMD", "python3"]
    code = cmd[3]
    assert "json.loads(b).get('status')=='ALIVE'" in code
    compile(code, "probe", "exec")


def test_env_list_refuses_a_name_given_twice() -> None:
    with pytest.raises(ValueError, match="AWS_SECRET_ACCESS_KEY"):
        c.env_list({"AWS_SECRET_ACCESS_KEY": "x"}, {"AWS_SECRET_ACCESS_KEY": "y"})


def test_memory_limits() -> None:
    assert sizing.jvm_limit_mib("512m") == 512 + sizing.JVM_OVERHEAD_MIB
    assert sizing.jvm_limit_mib("1g", 768) == 1024 + 768
    assert sizing.spark_worker_limit_mib(daemon_memory="256m", worker_memory="2g") == 256 + 384 + 2048 + 768
    assert sizing.orion_concurrent_apps(workers=2, worker_cores=1, cores_max=1) == 2
    assert sizing.orion_concurrent_apps(workers=1, worker_cores=1, cores_max=4) == 1
    assert sizing.orion_limit_mib(driver_memory="512m", workers=2, worker_cores=1, cores_max=1) == (
        512 + 2 * (512 + 384 + 512)
    )
