"""The stack's health probes and Trino's memory rule, on the real servers of the test bed.

- The Kafka and Trino healthchecks are bash scripts (no JVM inside the container's memory limit): the very
  scripts the containers run are run here against the test bed's brokers and Trino, and against a port where
  no such server answers.
- Trino refuses to start when query memory + 30 % heap headroom exceed the heap: a Trino started here with the
  old fixed 512MB at -Xmx700m is refused with Trino's own message; one started with the generated files at
  the smallest heap the settings allow (256m) starts and answers the probe and a catalog query.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lakehouse.clients.trino_sql import query
from lakehouse.generators.kafka import broker_probe_script
from lakehouse.generators.properties import parse_properties, render_properties
from lakehouse.generators.s3 import S3Endpoint
from lakehouse.generators.trino import ACCESS_KEY_ENV, SECRET_KEY_ENV, etc_files, query_probe_script
from lakehouse.settings import MIN_TRINO_HEAP_MIB
from testbed.proc import Proc, spawn, stop_group, wait_for
from tests.integration.spare_ports import SparePlan

pytestmark = pytest.mark.integration

SPARE = SparePlan()


def run_probe(script: str, timeout: float = 60) -> int:
    return subprocess.run(["bash", "-c", script], capture_output=True, timeout=timeout, check=False).returncode


def test_kafka_probe_answers_on_every_broker_of_the_test_bed(testbed: dict[str, str], require_services) -> None:
    require_services("kafka")
    for address in testbed["testbed_kafka_internal_bootstrap"].split(","):
        host, _, port = address.rpartition(":")
        assert run_probe(broker_probe_script(int(port), host)) == 0, f"broker {address} not seen healthy"


def test_kafka_probe_fails_where_no_broker_answers(testbed: dict[str, str], require_services) -> None:
    require_services("trino")
    host, port = testbed["trino_url"].removeprefix("http://").split(":")
    assert run_probe(broker_probe_script(int(port), host)) != 0, "an HTTP server passed for a broker"
    assert run_probe(broker_probe_script(SPARE.kafka_host(1))) != 0, "a closed port passed for a broker"


def test_trino_probe_runs_a_query_on_the_test_bed(testbed: dict[str, str], require_services) -> None:
    require_services("trino", "s3")
    host, port = testbed["trino_url"].removeprefix("http://").split(":")
    began = time.monotonic()
    assert run_probe(query_probe_script(int(port), host)) == 0
    print(f"\n[probe] trino healthcheck (bash, REST): {time.monotonic() - began:.2f} s")
    s_host, s_port = testbed["s3_endpoint"].removeprefix("http://").split(":")
    assert run_probe(query_probe_script(int(s_port), s_host)) != 0, "an S3 server passed for Trino"
    assert run_probe(query_probe_script(SPARE.trino)) != 0, "a closed port passed for Trino"


# ----- Trino's memory rule, on the test bed's Trino binary -----


@pytest.fixture
def trino_parts(testbed: dict[str, str], require_services) -> dict[str, object]:
    require_services("s3", "trino")
    from lakehouse import versions
    from testbed import artifacts, prereqs

    return {
        "home": artifacts.trino_home(versions.load()),
        "java": prereqs.trino_jdk(),
        "env": {
            "PATH": "/usr/bin:/bin",
            ACCESS_KEY_ENV: testbed["testbed_s3_trino_access_key"],
            SECRET_KEY_ENV: testbed["testbed_s3_trino_secret_key"],
        },
        "s3": S3Endpoint(testbed["s3_endpoint"], region=testbed["testbed_s3_region"]),
        "metastore": testbed["testbed_metastore_bucket"],
    }


def start_trino(parts: dict[str, object], run_dir: Path, heap: str, query_memory: str | None = None) -> Proc:
    from testbed.services.trino import argv

    files = etc_files(
        http_port=SPARE.trino,
        heap=heap,
        node_id="probe-trino",
        data_dir=str(run_dir / "data"),
        s3=parts["s3"],  # type: ignore[arg-type]
        metastore_bucket=str(parts["metastore"]),
        bind_ip="127.0.0.1",
    )
    if query_memory is not None:  # what the generator wrote before: a fixed query memory
        config = parse_properties(files["config.properties"])
        config["query.max-memory"] = config["query.max-memory-per-node"] = query_memory
        files["config.properties"] = render_properties(config)
    etc = run_dir / "etc"
    for rel, text in files.items():
        (etc / rel).parent.mkdir(parents=True, exist_ok=True)
        (etc / rel).write_text(text)
    java = parts["java"]
    env = {**parts["env"], "JAVA_HOME": str(java.home)}  # type: ignore[attr-defined, dict-item]
    return spawn("probe-trino", argv(java.java, parts["home"], etc), env=env, log=run_dir / "trino.log", cwd=run_dir)  # type: ignore[attr-defined, arg-type]


@pytest.fixture
def stopped_after() -> Iterator[list[Proc]]:
    procs: list[Proc] = []
    yield procs
    for p in procs:
        stop_group(p.pid, timeout=20, popen=p.popen)


def test_trino_refuses_a_fixed_512mb_query_memory_at_700m(trino_parts, tmp_path: Path, stopped_after) -> None:
    proc = start_trino(trino_parts, tmp_path, heap="700m", query_memory="512MB")
    stopped_after.append(proc)
    wait_for(lambda: not proc.alive(), service="probe-trino", what="Trino exits (refused)", timeout=240)
    log = (tmp_path / "trino.log").read_text()
    assert proc.returncode() != 0
    assert "Invalid memory configuration. The sum of max query memory per node (536870912) and heap headroom" in log


def test_trino_starts_at_the_smallest_heap_the_settings_allow(trino_parts, tmp_path: Path, stopped_after) -> None:
    heap = f"{MIN_TRINO_HEAP_MIB}m"
    proc = start_trino(trino_parts, tmp_path, heap=heap)
    stopped_after.append(proc)
    config = parse_properties((tmp_path / "etc" / "config.properties").read_text())
    assert config["query.max-memory-per-node"] == f"{MIN_TRINO_HEAP_MIB // 2}MB"
    probe = query_probe_script(SPARE.trino)
    wait_for(
        lambda: run_probe(probe) == 0,
        service="probe-trino",
        what="the healthcheck script passes",
        timeout=300,
        interval=2.0,
        proc=proc,
    )
    assert query(f"http://127.0.0.1:{SPARE.trino}", "SHOW SCHEMAS FROM delta", timeout=30)
    assert proc.alive()
