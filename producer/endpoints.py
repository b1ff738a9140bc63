"""Where the producer sends by default: the environment, the test bed, or the deployed stack.

In order: LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS / LAKEHOUSE_KAFKA_TOPIC (what the stack gives its
containers), `.testbed/endpoints.json` in this directory or a parent (a running test bed),
`pulumi stack output --json` run in the directory holding Pulumi.yaml (a deployed stack: Pulumi.yaml names
the clone's own backend, where `make up` keeps the state, and the two outputs read here are not secrets, so
no passphrase is needed). The variable and output names are the contract's (contract/names.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import NamedTuple

from contract.names import DEFAULT_TOPIC, ENV_BOOTSTRAP, ENV_TOPIC, OUTPUT_BOOTSTRAP, OUTPUT_TOPIC

TESTBED_FILE = Path(".testbed") / "endpoints.json"


class Target(NamedTuple):
    bootstrap_servers: str | None
    topic: str | None
    source: str


def _find_upwards(start: Path, relative: Path) -> Path | None:
    return next((d / relative for d in (start, *start.parents) if (d / relative).is_file()), None)


def _target(found: dict, servers_key: str, topic_key: str, source: str) -> Target | None:
    """A Target if `found` names bootstrap servers."""
    return Target(found[servers_key], found.get(topic_key) or None, source) if found.get(servers_key) else None


def from_env(env: dict[str, str]) -> Target | None:
    return _target(env, ENV_BOOTSTRAP, ENV_TOPIC, f"${ENV_BOOTSTRAP}")


def from_testbed(cwd: Path) -> Target | None:
    path = _find_upwards(cwd, TESTBED_FILE)
    if path is None:
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise ValueError(
            f"{path} is not readable JSON ({exc}); restart the test bed or pass --bootstrap-servers"
        ) from exc
    return _target(data, OUTPUT_BOOTSTRAP, OUTPUT_TOPIC, str(path))


def from_pulumi(cwd: Path) -> Target | None:
    project = _find_upwards(cwd, Path("Pulumi.yaml"))
    pulumi = shutil.which("pulumi")
    if project is None or pulumi is None:
        return None
    try:
        command = [pulumi, "stack", "output", "--json"]
        done = subprocess.run(command, cwd=project.parent, capture_output=True, text=True, timeout=60, check=False)
        outputs = json.loads(done.stdout) if done.returncode == 0 else {}
    except (OSError, ValueError, subprocess.TimeoutExpired):
        return None
    return _target(outputs, OUTPUT_BOOTSTRAP, OUTPUT_TOPIC, "pulumi stack output")


def resolve(
    bootstrap_servers: str | None, topic: str | None, *, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Target:
    """Flags win; otherwise the first source that names bootstrap servers. Raises ValueError if none does."""
    env = dict(os.environ) if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    found = None if bootstrap_servers and topic else (from_env(env) or from_testbed(cwd) or from_pulumi(cwd))
    servers = bootstrap_servers or (found.bootstrap_servers if found else None)
    if not servers:
        raise ValueError(
            "no Kafka bootstrap servers: pass --bootstrap-servers HOST:PORT[,HOST:PORT...], set "
            f"{ENV_BOOTSTRAP}, start the test bed (it writes {TESTBED_FILE}) or deploy the stack (`make up`; then "
            "`pulumi stack output` in the clone names them: a PULUMI_BACKEND_URL of another backend in your shell "
            "hides the clone's own, see `make env`)"
        )
    chosen_topic = topic or env.get(ENV_TOPIC) or (found.topic if found else None) or DEFAULT_TOPIC
    source = "--bootstrap-servers" if bootstrap_servers else (found.source if found else "?")
    return Target(servers, chosen_topic, source)
