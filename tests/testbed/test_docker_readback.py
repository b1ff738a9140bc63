"""The Docker check's read-back (testbed/docker/readback.py), no engine: Go durations, the provider's read of a
`docker inspect`, and which properties the next `pulumi up` would show as changed."""

from __future__ import annotations

import pytest

from testbed.docker.readback import diff_container, go_duration, parse_duration, read_container

S = 10**9


@pytest.mark.parametrize(
    ("ns", "text"),
    [
        (0, "0s"),
        (3 * S, "3s"),
        (60 * S, "1m0s"),
        (90 * S, "1m30s"),
        (120 * S, "2m0s"),
        (3600 * S, "1h0m0s"),
        (3601 * S, "1h0m1s"),
        (1500 * 10**6, "1.5s"),
        (500 * 10**6, "500ms"),
        (1500 * 10**3, "1.5ms"),
        (100 * 10**3, "100µs"),
        (7, "7ns"),
    ],
)
def test_go_duration_prints_as_go_does(ns: int, text: str) -> None:
    assert go_duration(ns) == text
    assert parse_duration(text) == ns


@pytest.mark.parametrize(("text", "ns"), [("90s", 90 * S), ("1m30s", 90 * S), ("0", 0), ("1.5h", 5400 * S)])
def test_parse_duration_reads_what_go_reads(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("bad", ["", "90", "1x", "s", "1m30"])
def test_parse_duration_refuses_what_go_refuses(bad: str) -> None:
    with pytest.raises(ValueError, match="not a Go duration"):
        parse_duration(bad)


PROGRAM = {
    "name": "lakehouse-x-kafka-1",
    "image": "sha256:" + "a" * 64,
    "hostname": "kafka-1",
    "command": ["bash", "-c", "x"],
    "envs": ["A=1", "B=2"],
    "ports": [{"internal": 9092, "external": 19092, "ip": "127.0.0.1", "protocol": "tcp"}],
    "healthcheck": {"tests": ["CMD", "x"], "interval": "30s", "timeout": "20s", "startPeriod": "90s", "retries": 5},
    "restart": "unless-stopped",
    "memory": 1792,
    "labels": [{"label": "a", "value": "b"}],
}


def inspect(**host: object) -> dict:
    return {
        "Name": "/lakehouse-x-kafka-1",
        "Image": "sha256:" + "a" * 64,
        "Config": {
            "Hostname": "kafka-1",
            "Cmd": ["bash", "-c", "x"],
            "Entrypoint": ["/__cacert_entrypoint.sh"],
            "Env": ["A=1", "B=2", "PATH=/usr/bin"],  # the image's env comes on top: never read
            "Healthcheck": {
                "Test": ["CMD", "x"],
                "Interval": 30 * S,
                "Timeout": 20 * S,
                "StartPeriod": 90 * S,
                "Retries": 5,
            },
            "User": "appuser",
        },
        "HostConfig": {
            "RestartPolicy": {"Name": "unless-stopped", "MaximumRetryCount": 0},
            "Memory": 1792 * 2**20,
            "MemorySwap": 2 * 1792 * 2**20,  # what Docker derives when only Memory is given
            "NetworkMode": "bridge",
            "Init": False,
            "ShmSize": 64 * 2**20,
            "LogConfig": {"Type": "json-file", "Config": {}},
            **host,
        },
        "NetworkSettings": {"Ports": {"9092/tcp": [{"HostIp": "127.0.0.1", "HostPort": "19092"}], "9093/tcp": None}},
    }


def test_the_issues_findings_show_as_changes() -> None:
    """ "90s" is read back as "1m30s"; Docker's MemorySwap (2 x memory) diffs against the unset input."""
    changes = {c.prop: c for c in diff_container(read_container(inspect(), PROGRAM), PROGRAM)}
    assert set(changes) == {"healthcheck.startPeriod", "memorySwap"}
    assert (changes["healthcheck.startPeriod"].state, changes["healthcheck.startPeriod"].program) == ("1m30s", "90s")
    assert (changes["memorySwap"].state, changes["memorySwap"].program) == (3584, None)


def test_the_fixed_program_shows_no_change() -> None:
    fixed = {**PROGRAM, "healthcheck": {**PROGRAM["healthcheck"], "startPeriod": "1m30s"}, "memorySwap": -1}
    state = read_container(inspect(MemorySwap=-1), fixed)
    assert diff_container(state, fixed) == []
    # Computed properties the program leaves unset (entrypoint, user from the image, shm size) never differ.
    assert state["entrypoints"] == ["/__cacert_entrypoint.sh"] and state["user"] == "appuser"


def test_changes_of_the_programs_own_inputs_between_runs_show() -> None:
    fixed = {**PROGRAM, "healthcheck": {**PROGRAM["healthcheck"], "startPeriod": "1m30s"}, "memorySwap": -1}
    state = read_container(inspect(MemorySwap=-1), fixed)
    assert diff_container(state, {**fixed, "envs": ["B=2", "A=1"]}) == []  # a set: order does not matter
    changed = diff_container(state, {**fixed, "envs": ["A=1", "B=3"], "restart": "always", "memory": 1024})
    assert {c.prop for c in changed} == {"envs", "restart", "memory"}
    moved = {**fixed, "ports": [{"internal": 9092, "external": 19093, "ip": "127.0.0.1", "protocol": "tcp"}]}
    assert [c.prop for c in diff_container(state, moved)] == ["ports"]


def test_defaults_stand_in_for_unset_inputs() -> None:
    program = {k: v for k, v in PROGRAM.items() if k != "restart"}
    program |= {"healthcheck": {**PROGRAM["healthcheck"], "startPeriod": "1m30s"}, "memorySwap": -1}
    # Docker says unless-stopped, the program says nothing: the Default "no" differs.
    [change] = diff_container(read_container(inspect(MemorySwap=-1), program), program)
    assert (change.prop, change.state, change.program) == ("restart", "unless-stopped", None)
    # A start_interval the program never set reads back as "0s", its Default: no change.
    assert read_container(inspect(MemorySwap=-1), program)["healthcheck"]["startInterval"] == "0s"


def test_empty_user_leaves_dockers_value() -> None:
    program = {**PROGRAM, "user": "", "healthcheck": {**PROGRAM["healthcheck"], "startPeriod": "1m30s"}}
    program["memorySwap"] = -1
    assert diff_container(read_container(inspect(MemorySwap=-1), program), program) == []
