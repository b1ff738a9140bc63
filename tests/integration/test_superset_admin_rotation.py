"""Rotating the Superset admin password on a real Superset 6.1.0 (issue 11): a second start with a new
password on the same metadata database must make the new password the only one that works.

Both bootstrap paths run here, each on a private Superset (its own SUPERSET_HOME and port, the test bed's
Superset virtualenv; the shared test bed's Superset is never touched):
- the stack container's own start command (components.superset.bootstrap_command), run by bash;
- the test bed's bootstrap (testbed.services.superset.start_private -> the same admin script).
Neither log may contain a password.
"""

from __future__ import annotations

import os
import secrets
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from components.superset import bootstrap_command
from lakehouse.clients.superset_api import SupersetClient, SupersetError
from lakehouse.generators.superset import ADMIN_PASSWORD_ENV, ADMIN_SCRIPT_NAME, ADMIN_USER_ENV
from lakehouse.versions import load
from testbed import artifacts
from testbed.proc import Proc, spawn, stop_group
from testbed.services import superset as bed

pytestmark = pytest.mark.integration

USER = "admin"
PASSED_ENV = ("PATH", "HOME", "LANG", "LC_ALL", "TZ", "TMPDIR", "USER", "LOGNAME")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def venv() -> Path:
    return artifacts.superset_venv(load())


@pytest.fixture
def private(tmp_path: Path) -> Iterator[dict]:
    """A home, a port, a log, and whatever processes the test starts (stopped at the end)."""
    procs: list[Proc] = []
    base = {k: os.environ[k] for k in PASSED_ENV if k in os.environ}
    yield {
        "home": tmp_path / "home",
        "port": free_port(),
        "log": tmp_path / "superset.log",
        "procs": procs,
        "base": base,
    }
    for p in procs:
        stop_group(p.pid, timeout=30, popen=p.popen)


def assert_only_this_password_works(url: str, good: str, refused: list[str]) -> None:
    with SupersetClient.login(url, USER, good) as client:
        me = client.request("GET", "/api/v1/me/", what="reading the current user").json()["result"]
        assert me["username"] == USER
    for old in refused:
        with pytest.raises(SupersetError) as err:
            SupersetClient.login(url, USER, old)
        assert err.value.status == 401


def run_container_command(venv: Path, env: dict[str, str], p: dict, password: str) -> Proc:
    """The container's start command, as Docker runs it (bash -c ...), on 127.0.0.1 instead of 0.0.0.0."""
    argv = bootstrap_command(port=p["port"], host="127.0.0.1", admin_script_path=str(p["home"] / ADMIN_SCRIPT_NAME))
    proc = spawn(
        "superset-command", argv, env={**env, ADMIN_USER_ENV: USER, ADMIN_PASSWORD_ENV: password}, log=p["log"]
    )
    p["procs"].append(proc)
    return proc


def test_container_start_command_rotates_the_admin_password(venv: Path, private: dict) -> None:
    p = private
    bed.write_home(p["home"])
    env = bed.server_env(p["base"], venv, p["home"], secret_key=secrets.token_urlsafe(48))
    url = f"http://127.0.0.1:{p['port']}"
    first, second = secrets.token_urlsafe(18), secrets.token_urlsafe(18)

    proc = run_container_command(venv, env, p, first)
    bed.wait_logged_in(url, USER, first, proc=proc, timeout=600)
    assert_only_this_password_works(url, first, [second])
    stop_group(proc.pid, timeout=30, popen=proc.popen)

    # The container re-created with a new password (Pulumi replaces it when its env changes), same volume.
    proc = run_container_command(venv, env, p, second)
    bed.wait_logged_in(url, USER, second, proc=proc, timeout=600)
    assert_only_this_password_works(url, second, [first])

    log = p["log"].read_text()
    assert "admin user 'admin': created" in log and "admin user 'admin': password rotated" in log
    assert first not in log and second not in log


def test_test_bed_bootstrap_rotates_the_admin_password(venv: Path, private: dict) -> None:
    p = private
    url = f"http://127.0.0.1:{p['port']}"
    key = secrets.token_urlsafe(48)
    first, second = secrets.token_urlsafe(18), secrets.token_urlsafe(18)

    def start(password: str) -> Proc:
        proc = bed.start_private(
            venv, p["home"], p["port"], base_env=p["base"], secret_key=key, admin_user=USER,
            admin_password=password, log=p["log"],
        )  # fmt: skip
        p["procs"].append(proc)
        bed.wait_logged_in(url, USER, password, proc=proc, timeout=300)
        return proc

    proc = start(first)
    assert_only_this_password_works(url, first, [second])
    stop_group(proc.pid, timeout=30, popen=proc.popen)
    start(second)  # the same home: the admin exists
    assert_only_this_password_works(url, second, [first])
    log = p["log"].read_text()
    assert log.count("admin user 'admin': created") == 1 and "admin user 'admin': password rotated" in log
    assert first not in log and second not in log
