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


def test_durations_are_written_as_go_prints_them() -> None:
    # time.Duration.String() in Go: what the docker provider stores when it reads a healthcheck back.
    assert [c.go_duration(n) for n in (0, 3, 15, 59, 60, 90, 120, 3599, 3600, 3661)] == [
        "0s", "3s", "15s", "59s", "1m0s", "1m30s", "2m0s", "59m59s", "1h0m0s", "1h1m1s",
    ]  # fmt: skip
    hc = c.healthcheck(["CMD", "true"], interval=30, timeout=20, start_period=90, start_interval=3)
    assert (hc.interval, hc.timeout, hc.start_period, hc.start_interval) == ("30s", "20s", "1m30s", "3s")
    for bad in (-1, 1.5, "90s", True):
        with pytest.raises(ValueError, match="whole number of seconds"):
            c.go_duration(bad)  # type: ignore[arg-type]


def test_memory_limit_sets_swap_that_docker_keeps_as_given() -> None:
    assert c.memory_limit(896) == {"memory": 896, "memory_swap": -1}
    with pytest.raises(ValueError, match="whole number of MiB"):
        c.memory_limit(0)


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
    assert sizing.spark_worker_limit_mib(daemon_memory="256m", worker_memory="2g") == (
        256 + sizing.WORKER_DAEMON_OVERHEAD_MIB + 2048 + sizing.EXECUTOR_OVERHEAD_MIB
    )
    assert sizing.orion_concurrent_apps(workers=2, worker_cores=1, cores_max=1) == 2
    assert sizing.orion_concurrent_apps(workers=1, worker_cores=1, cores_max=4) == 1
    assert sizing.orion_limit_mib(driver_memory="512m", workers=2, worker_cores=1, cores_max=1) == (
        sizing.ORION_BASE_MIB + 2 * (512 + sizing.JVM_OVERHEAD_MIB + sizing.DRIVER_OVERHEAD_MIB)
    )
