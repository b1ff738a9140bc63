"""`pulumi` commands typed in the clone reach the stack `make up` made: the real CLI, the clone's own backend.

`make up` keeps the state in `<clone>/.pulumi-state` (the Makefile's environment). A user then types
`python -m producer --rate 200` or `pulumi stack output` in the clone, in a shell with no PULUMI_* variables:
Pulumi.yaml names that backend, so the producer finds the stack's bootstrap servers without a passphrase (its
two outputs are not secrets); what reads secrets needs the passphrase, which `eval "$(make -s env)"` provides.
A stack is deployed here exactly where `make up` puts it, then each of those is run as the user runs it.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.engine import harness

pytestmark = [pytest.mark.integration, pytest.mark.engine]

BOOTSTRAP = "localhost:19092,localhost:19093,localhost:19094"


def program() -> dict[str, Any]:
    import pulumi

    # The two outputs the producer reads, and a secret one, as the stack exports them.
    return {
        "kafka_bootstrap_servers": BOOTSTRAP,
        "kafka_topic": "logistics-events",
        "orion_token": pulumi.Output.secret(harness.params()["token"]),
    }


def _user_shell(engine: harness.Engine) -> dict[str, str]:
    """A user's shell: the CLI on PATH, their own PULUMI_HOME (where `make up` selected the stack), nothing else
    of Pulumi's (no backend URL, no passphrase)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_")}
    env["PATH"] = os.pathsep.join([str(engine.cli_dir), env.get("PATH", "")])
    env |= {"PULUMI_HOME": str(engine.home), "PULUMI_SKIP_UPDATE_CHECK": "true"}
    return env


def make_env(clone: Path, tmp_path: Path) -> dict[str, str]:
    """What `make -s env` exports (the environment `make up` runs pulumi with)."""
    done = subprocess.run(["make", "-s", "env", f"PASSPHRASE_FILE={tmp_path / 'passphrase'}"], cwd=clone,
                          capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    return {
        k: v.strip("'") for k, _, v in (line.removeprefix("export ").partition("=") for line in done.stdout.split())
    }


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False)


def test_commands_typed_in_the_clone_reach_the_stack_make_up_made(engine: harness.Engine, tmp_path: Path) -> None:
    # Where `make up` keeps the state and the passphrase (Makefile: PULUMI_STATE, PASSPHRASE_FILE).
    state = engine.clone / ".pulumi-state"
    state.mkdir()
    engine.backend, engine.backend_url = state, make_env(engine.clone, tmp_path)["PULUMI_BACKEND_URL"]
    passphrase = tmp_path / "passphrase"
    passphrase.write_text(engine.passphrase + "\n")
    token = "token-" + os.urandom(8).hex()
    stack = engine.stack(program, name="dev", params={"token": token})
    assert stack.up().changes == {"create": 1}

    shell = _user_shell(engine)
    # The README's next step: the producer's default target is the deployed stack.
    code = (
        "import json, pathlib; from producer import endpoints; "
        "t = endpoints.resolve(None, None, cwd=pathlib.Path.cwd()); "
        "print(json.dumps([t.bootstrap_servers, t.topic, t.source]))"
    )
    found = _run([sys.executable, "-c", code], engine.clone, shell)
    assert found.returncode == 0, found.stderr
    assert json.loads(found.stdout) == [BOOTSTRAP, "logistics-events", "pulumi stack output"]

    # `pulumi stack output` as typed: the secret stays masked; with `make env`'s exports it is readable.
    typed = _run(["pulumi", "stack", "output", "--json"], engine.clone, shell)
    assert typed.returncode == 0, typed.stderr
    assert json.loads(typed.stdout)["orion_token"] == "[secret]"
    exports = f'eval "$(make -s env PASSPHRASE_FILE={shlex.quote(str(passphrase))})"'
    shown = _run(["bash", "-c", f"{exports} && pulumi stack output --json --show-secrets"], engine.clone, shell)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["orion_token"] == token
