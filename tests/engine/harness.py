"""Run the project's dynamic providers through the real Pulumi engine: `up`, `preview`, `refresh`, `destroy`.

The Pulumi mocks of the unit tests never run a provider, never pickle it into another process, never carry
numbers as floats and never write a state file. This harness does all of that with the real CLI (built once
per version into the artifact cache: `tests/engine/pulumi_build.py`) and the Automation API, offline:

- a clone: the project's files (tracked and untracked, as the working tree has them) copied into a temp
  dir, with `.venv` pointing at the running virtualenv, so the program and the dynamic-provider host both
  import the clone's code and a test can edit a provider there (`engine.edit(...)`) and see `preview`
  report the update;
- a local file backend, a PULUMI_HOME of its own and a throw-away passphrase per `Engine`; no update check,
  no plugin download; the dynamic-provider host `pulumi-resource-pulumi-python` on PATH beside the CLI;
- each operation runs in a subprocess (tests/engine/runner.py) with the clone as its working directory,
  as `pulumi up` runs in a user's clone, so nothing of the test process (its imports, its sys.path) leaks in.

Writing a lifecycle test for a provider (see tests/engine/test_engine_kafka_topic.py for a complete one):

1. Write the program as a module-level function without arguments in your test module (or any file of the
   repository). It runs in the clone, in the runner process: declare the resource exactly as the stack
   does (the same class, the same input builders from `lakehouse/`), read what the test varies with
   `harness.params()` (plain JSON) and secrets with `harness.secret("name")` (an `Output[str]`), and
   return a dict of stack outputs::

       def program() -> dict:
           p = harness.params()
           spec = topic_spec(name=p["topic"], partitions=p["partitions"], brokers=p["brokers"])
           topic = KafkaTopic("events-topic", bootstrap_servers=p["bootstrap"], topic=spec.name, ...)
           return {"topic": topic.name, "probe": harness.secret("probe")}

2. Mark the module `pytestmark = [pytest.mark.integration, pytest.mark.engine]` and take the `engine`
   fixture (tests/engine/conftest.py: one Engine per test, torn down with a `destroy` of whatever is left)
   and, for real services, the `testbed` fixture::

       def test_mything_lifecycle(engine, testbed):
           stack = engine.stack(program, params={...}, secrets={"probe": secrets.token_urlsafe(24)})
           assert stack.up().changes == {"create": 2}          # the stack resource counts too
           assert stack.preview().changed() == {}              # nothing to do
           assert stack.up(partitions=8).changes == {"update": 1, "same": 1}
           assert stack.preview(partitions=9).step("events-topic").changed_inputs == ["partitions"]
           assert stack.preview(replication=1).step("events-topic").keys == ["replication_factor"]
           engine.edit("lakehouse/clients/kafka_topic.py", append="\\n# an edit\\n")
           assert stack.preview().changed() == {"update": 1}
           assert stack.refresh().changed() == {...}           # after changing the service out of band
           stack.assert_no_plaintext(list(stack.secrets.values()))
           assert stack.destroy().changes == {"delete": 2}

   `up(**params)` / `preview(**params)` / ... update the params first (they stay for later operations).
   A failing operation raises `EngineError` (its message has the engine's output: check failures, provider
   tracebacks). `OpResult.changes` is the engine's own summary (op -> count, "same" included);
   `changed()` drops "same"; `steps` / `step(name)` are the engine's step events (op; keys = the
   properties forcing a replacement; changed_inputs = the inputs that differ between state and program).

3. Check what the engine keeps: `stack.outputs()` / `stack.secret_outputs()`, `stack.state_text()` (the raw
   state file), `stack.resources(type_)` (its resources as JSON) and `stack.assert_no_plaintext(values)`,
   which fails when any value appears in plain text in the state file, in the backend's history and
   backups, or inside a pickled provider (`__provider` is base64 of a dill pickle: a provider that captured
   a secret would hide it there).

What the engine shows that mocks do not: numbers arrive as floats in check/diff/create/update/read/delete
(contract 1 in COMMON.md: `with_ints`), unknown inputs during a preview, the provider pickled by reference
and re-imported from the working directory, `read` feeding refresh, what the state file holds.
"""

from __future__ import annotations

import base64
import json
import os
import secrets as secrets_module
import shutil
import subprocess
import sys
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
PROJECT = "lakehouse"
"""The project name of the clone's own Pulumi.yaml (the engine tests use the stack's project file)."""
NAMESPACE = "engine"
"""Config namespace of the harness: `engine:params` (JSON) and `engine:<secret name>` (secret)."""
OP_TIMEOUT = 1800.0
"""Bound of one operation; generous, the machine is shared (a topic's `up` takes seconds)."""


class EngineError(RuntimeError):
    """A Pulumi operation failed; the message holds the engine's error output."""

    def __init__(self, op: str, message: str, details: str = "") -> None:
        super().__init__(f"pulumi {op} failed: {message}\n{details}".rstrip())
        self.op = op
        self.message = message


# ----- inside a program (the runner process) -----


def params() -> dict[str, Any]:
    """The test's parameters (`engine.stack(params=...)`, `stack.up(**params)`), inside a program."""
    import pulumi

    return pulumi.Config(NAMESPACE).get_object("params") or {}


def secret(name: str) -> Any:
    """A secret the test generated (`engine.stack(secrets={name: value})`), inside a program: Output[str]."""
    import pulumi

    return pulumi.Config(NAMESPACE).require_secret(name)


# ----- results -----


@dataclass(frozen=True)
class Step:
    """One step event of the engine: `op` (create, same, update, replace, delete, refresh, ...), the
    resource's `name`, `type` and `urn`, `keys` (the properties forcing a replacement, from the provider's
    diff), `diffs` (the properties that differ as the provider reported them: a Python dynamic provider
    reports none) and `changed_inputs` (the inputs whose old and new values the engine holds differ,
    `__provider` left out: what a dynamic provider's diff compared)."""

    op: str
    name: str
    type: str
    urn: str
    keys: list[str]
    diffs: list[str]
    changed_inputs: list[str]


@dataclass
class OpResult:
    op: str
    changes: dict[str, int]
    """The engine's summary: operation -> number of resources ("same" included)."""
    steps: list[Step] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    secret_outputs: set[str] = field(default_factory=set)
    stdout: str = ""
    diagnostics: list[dict[str, Any]] = field(default_factory=list)

    def changed(self) -> dict[str, int]:
        """The summary without the resources left as they were."""
        return {op: n for op, n in self.changes.items() if op != "same" and n}

    def step(self, name: str) -> Step:
        """The (last) step event of the resource with logical name `name`."""
        found = [s for s in self.steps if s.name == name]
        if not found:
            raise KeyError(f"no step for {name!r}; steps: {[(s.op, s.name) for s in self.steps]}")
        return found[-1]

    def ops(self, name: str) -> list[str]:
        """Every step operation of resource `name`, in order (a replacement: e.g. delete-replaced, replace...)."""
        return [s.op for s in self.steps if s.name == name]


# ----- the engine -----


def _project_files() -> list[Path]:
    """What a user's clone of the working tree holds: tracked and untracked files, not the ignored ones."""
    done = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=120,
    )
    names = [n for n in done.stdout.decode().split("\0") if n]
    return [Path(n) for n in names if (REPO / n).is_file()]


class Engine:
    """One clone, one file backend, one PULUMI_HOME and passphrase; any number of stacks."""

    def __init__(self, cli_dir: Path, workdir: Path, *, op_timeout: float = OP_TIMEOUT) -> None:
        self.cli_dir = Path(cli_dir)
        self.workdir = Path(workdir)
        self.clone = self.workdir / "clone"
        self.backend = self.workdir / "backend"
        self.home = self.workdir / "pulumi-home"
        self.op_timeout = op_timeout
        self.passphrase = secrets_module.token_urlsafe(24)
        self.backend_url = self.backend.as_uri()
        """PULUMI_BACKEND_URL of every operation (a test may point it elsewhere, as `make up` does)."""
        self._stacks: list[EngineStack] = []
        for d in (self.backend, self.home):
            d.mkdir(parents=True, exist_ok=True)
        for rel in _project_files():
            dest = self.clone / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / rel, dest)
        # A user's clone has its own virtualenv at .venv (Pulumi.yaml says so): this one is the running one.
        (self.clone / ".venv").symlink_to(Path(sys.prefix).resolve(), target_is_directory=True)

    def env(self) -> dict[str, str]:
        """The environment of every operation: the CLI and the provider host on PATH, offline, isolated."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("PULUMI_") and k != "PYTHONPATH"}
        venv_bin = self.clone / ".venv" / "bin"
        env.update(
            {
                "PATH": os.pathsep.join([str(self.cli_dir), str(venv_bin), env.get("PATH", "")]),
                "PULUMI_HOME": str(self.home),
                "PULUMI_BACKEND_URL": self.backend_url,
                "PULUMI_CONFIG_PASSPHRASE": self.passphrase,
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                # The dynamic-provider host script runs `$PULUMI_PYTHON_CMD -m pulumi.dynamic`.
                "PULUMI_PYTHON_CMD": str(venv_bin / "python"),
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def stack(
        self,
        program: Callable[[], dict[str, Any] | None],
        *,
        name: str | None = None,
        params: dict[str, Any] | None = None,
        secrets: dict[str, str] | None = None,
        config: dict[str, str] | None = None,
        secret_config: dict[str, str] | None = None,
    ) -> EngineStack:
        """A stack running `program` (a module-level function of a file in the repository).

        `params` (JSON) and `secrets` reach the program through `params()` / `secret(name)`; `config` and
        `secret_config` are raw keys such as `lakehouse:kafkaTopicAdoptExisting`.
        """
        stack = EngineStack(
            self,
            program,
            name or f"engine-{uuid.uuid4().hex[:8]}",
            params=dict(params or {}),
            secrets=dict(secrets or {}),
            config=dict(config or {}),
            secret_config=dict(secret_config or {}),
        )
        self._stacks.append(stack)
        return stack

    def edit(self, relpath: str, *, old: str | None = None, new: str = "", append: str | None = None) -> None:
        """Change a file of the clone: replace `old` by `new` (exactly once), or append `append`."""
        path = self.clone / relpath
        text = path.read_text()
        if append is not None:
            text += append
        else:
            if old is None or text.count(old) != 1:
                raise ValueError(f"{relpath}: {old!r} must occur exactly once to be replaced")
            text = text.replace(old, new)
        path.write_text(text)

    def close(self) -> list[str]:
        """Destroy every stack that may still hold resources; returns the failures (the fixture reports them)."""
        failures: list[str] = []
        for stack in self._stacks:
            if stack.may_hold_resources:
                try:
                    stack.destroy()
                except EngineError as exc:
                    failures.append(f"{stack.name}: {exc}")
        return failures


class EngineStack:
    """One stack of an Engine; every operation is a real CLI run in the clone."""

    def __init__(
        self,
        engine: Engine,
        program: Callable[[], Any],
        name: str,
        *,
        params: dict[str, Any],
        secrets: dict[str, str],
        config: dict[str, str],
        secret_config: dict[str, str],
    ) -> None:
        self.engine = engine
        self.name = name
        self.params = params
        self.secrets = secrets
        self.config = config
        self.secret_config = secret_config
        self.may_hold_resources = False
        self._program = _program_ref(program)

    # ----- operations -----

    def up(self, **params: Any) -> OpResult:
        self.may_hold_resources = True
        return self._op("up", params)

    def preview(self, **params: Any) -> OpResult:
        return self._op("preview", params)

    def refresh(self, **params: Any) -> OpResult:
        return self._op("refresh", params)

    def destroy(self) -> OpResult:
        result = self._op("destroy", {})
        self.may_hold_resources = False
        return result

    def outputs(self) -> dict[str, Any]:
        return self._op("outputs", {}).outputs

    def secret_outputs(self) -> set[str]:
        return self._op("outputs", {}).secret_outputs

    # ----- the state the engine keeps -----

    def state_file(self) -> Path:
        found = sorted(self.engine.backend.glob(f".pulumi/stacks/**/{self.name}.json"))
        if not found:
            raise FileNotFoundError(f"no state file of stack {self.name} under {self.engine.backend}")
        return found[0]

    def state_text(self) -> str:
        """The raw state file, as the backend stores it."""
        return self.state_file().read_text()

    def resources(self, type_: str | None = None) -> list[dict[str, Any]]:
        """The state's resources (each with urn, type, inputs, outputs, ...), optionally of one type."""
        deployment = json.loads(self.state_text()).get("checkpoint", {}).get("latest") or {}
        found = deployment.get("resources") or []
        return [r for r in found if type_ is None or r.get("type") == type_]

    def plaintext_findings(self, values: Iterable[str]) -> list[str]:
        """Where any of `values` appears in plain text: '<file>: value #i', '<file>: value #i in a pickled provider'."""
        wanted = [(i, v) for i, v in enumerate(values) if v]
        findings: list[str] = []
        files = [self.state_file(), *sorted(p for p in self.engine.backend.rglob("*") if p.is_file())]
        for path in dict.fromkeys(files):
            raw = path.read_bytes()
            rel = path.relative_to(self.engine.backend)
            for i, value in wanted:
                if value.encode() in raw or json.dumps(value)[1:-1].encode() in raw:
                    findings.append(f"{rel}: value #{i}")
            for blob in _pickled_providers(raw):
                for i, value in wanted:
                    if value.encode() in blob:
                        findings.append(f"{rel}: value #{i} in a pickled provider")
        config_file = self.engine.clone / f"Pulumi.{self.name}.yaml"
        if config_file.exists():
            raw = config_file.read_bytes()
            findings += [f"{config_file.name}: value #{i}" for i, v in wanted if v.encode() in raw]
        return findings

    def assert_no_plaintext(self, values: Iterable[str]) -> None:
        """Fail when any of `values` (this run's secrets) is readable in the state, its history or the config."""
        values = list(values)
        assert values, "give the secrets to look for"
        findings = self.plaintext_findings(values)
        assert not findings, f"secrets in plain text: {findings}"

    # ----- plumbing -----

    def _config(self) -> dict[str, dict[str, Any]]:
        config = {f"{NAMESPACE}:params": {"value": json.dumps(self.params, sort_keys=True), "secret": False}}
        config.update({f"{NAMESPACE}:{k}": {"value": v, "secret": True} for k, v in self.secrets.items()})
        config.update({k: {"value": v, "secret": False} for k, v in self.config.items()})
        config.update({k: {"value": v, "secret": True} for k, v in self.secret_config.items()})
        return config

    def _op(self, op: str, params: dict[str, Any]) -> OpResult:
        self.params.update(params)
        request = {
            "op": op,
            "stack": self.name,
            "project": PROJECT,
            "program": self._program,
            "config": self._config(),
            "cli_root": str(self.engine.cli_dir.parent),
        }
        io_dir = self.engine.workdir / "ops"
        io_dir.mkdir(exist_ok=True)
        tag = uuid.uuid4().hex[:8]
        request_file, result_file = io_dir / f"{op}-{tag}.json", io_dir / f"{op}-{tag}.result.json"
        request_file.write_text(json.dumps(request))
        try:
            done = subprocess.run(
                [
                    str(self.engine.clone / ".venv" / "bin" / "python"),
                    str(self.engine.clone / "tests" / "engine" / "runner.py"),
                    str(request_file),
                    str(result_file),
                ],
                cwd=self.engine.clone,
                env=self.engine.env(),
                capture_output=True,
                text=True,
                timeout=self.engine.op_timeout,
                check=False,
            )
        finally:
            request_file.unlink(missing_ok=True)  # it holds the secrets in plain text
        if not result_file.exists():
            raise EngineError(op, f"the runner exited {done.returncode} without a result", done.stderr[-6000:])
        result = json.loads(result_file.read_text())
        result_file.unlink()
        if not result["ok"]:
            raise EngineError(op, result["error"], result.get("traceback", "")[-3000:])
        outputs = result.get("outputs") or {}
        return OpResult(
            op=op,
            changes={k: int(v) for k, v in (result.get("changes") or {}).items()},
            steps=[Step(**s) for s in result.get("steps") or []],
            outputs={k: v["value"] for k, v in outputs.items()},
            secret_outputs={k for k, v in outputs.items() if v["secret"]},
            stdout=result.get("stdout") or "",
            diagnostics=result.get("diagnostics") or [],
        )


def _program_ref(program: Callable[[], Any]) -> dict[str, str]:
    """Where the runner finds `program` in the clone: its file relative to the repository and its name."""
    module = sys.modules.get(program.__module__)
    source = Path(getattr(module, "__file__", "") or "").resolve()
    if "." in program.__qualname__ or program.__name__ == "<lambda>":
        raise ValueError(f"the program {program.__qualname__} must be a module-level function")
    try:
        rel = source.relative_to(REPO)
    except ValueError:
        raise ValueError(f"the program {program.__qualname__} must live in a file of {REPO}, not {source}") from None
    return {"file": str(rel), "function": program.__name__}


def _pickled_providers(raw: bytes) -> list[bytes]:
    """The decoded `__provider` values (base64 dill pickles) found in a state file's text."""
    try:
        data = json.loads(raw)
    except ValueError:
        return []
    blobs: list[bytes] = []

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "__provider" and isinstance(v, str):
                    try:
                        blobs.append(base64.b64decode(v, validate=True))
                    except ValueError:
                        pass
                else:
                    walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(data)
    return blobs
