"""The stack on the local Docker engine, as `pulumi up` would make it: `Deployment.up()` records the program
(graph.py), refuses what it cannot reproduce before creating anything, then creates every resource in the graph's
order. A later `up` adopts each container whose read-back (readback.py) shows no change and replaces the others;
each dynamic resource goes through check/diff/update. `compare()` is that read-back alone, `down()` the reverse
order, then whatever of the stack is still there by name. What the engine would keep (passwords, the inputs each
container was created with, the dynamic resources' state) is in `.dockercheck/<stack>.json` (mode 600: secrets).
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from testbed.docker import Echo, dynamic, inventory
from testbed.docker import containers as C
from testbed.docker import readback as R
from testbed.docker.graph import EngineMocks, Graph, GraphError, Node, Outcome, record, run_graph
from testbed.docker.minio import TYPES as MINIO_TYPES
from testbed.docker.minio import Admin, Minio, check_known
from testbed.docker.recording import CONTAINER, IMAGE, NETWORK, RANDOM_PASSWORD, REMOTE_IMAGE, VOLUME
from testbed.paths import REPO

STATE_DIR = REPO / ".dockercheck"
DEFAULT_STACK = "dockercheck"
OBSERVE_AFTER_TIMEOUT = 300  # seconds a container past its wait_timeout is still watched, to say if it got healthy
KNOWN_INPUTS = {NETWORK: frozenset({"name", "driver", "labels"})}
KNOWN_INPUTS[VOLUME] = KNOWN_INPUTS[NETWORK] | {"driverOpts"}
IMAGE_TAG = {REMOTE_IMAGE: "name", IMAGE: "imageName"}


class StackError(RuntimeError):
    """The check could not deploy, compare or tear down the stack; the message says what and why."""


@dataclass
class State:
    """What the engine would keep between runs; saved on every change."""

    path: Path
    passwords: dict[str, str] = field(default_factory=dict)
    created_with: dict[str, dict[str, Any]] = field(default_factory=dict)
    dynamic: dict[str, dict[str, Any]] = field(default_factory=dict)
    minio: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)
    KINDS = ("passwords", "created_with", "dynamic", "minio")

    @classmethod
    def load(cls, path: Path) -> State:
        data = json.loads(path.read_text()) if path.exists() else {}
        return cls(path, *(data.get(k, {}) for k in cls.KINDS))

    def put(self, kind: str, urn: str, value: Any = None) -> None:
        with self.lock:
            if value is None:
                getattr(self, kind).pop(urn, None)
            else:
                getattr(self, kind)[urn] = value
        self.save()

    def save(self) -> None:
        with self.lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w") as f:
                json.dump({k: getattr(self, k) for k in self.KINDS}, f)
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)

    def forget(self) -> None:
        self.path.unlink(missing_ok=True)
        for kind in self.KINDS:
            getattr(self, kind).clear()


@dataclass
class Report:
    """What one `up` or `down` did."""

    actions: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    healthy_after: dict[str, float] = field(default_factory=dict)
    outcome: Outcome | None = None
    seconds: float = 0.0


class Deployment:
    """One stack of the check on one engine (see the module docstring)."""

    def __init__(self, client: Any, *, stack: str = DEFAULT_STACK, echo: Echo = print) -> None:
        from testbed.docker import s3standin

        self.client = client
        self.stack = stack
        self.echo = echo
        self.state = State.load(STATE_DIR / f"{stack}.json")
        self.admin_for: Callable[[Mapping[str, Any]], Admin] = lambda provider: s3standin.admin(client, provider, echo)
        self.minio = Minio(self.admin_for)
        self.api_version = client.version()["ApiVersion"]
        self.graph: Graph | None = None

    def record(self, *, tolerate_missing_images: bool = False) -> Graph:
        """The program's graph under EngineMocks, with the passwords of the state (new ones generated)."""

        def resolve(tag: str) -> str:
            import docker.errors

            try:
                return self.client.images.get(tag).id
            except docker.errors.ImageNotFound:
                if tolerate_missing_images:
                    return "sha256:" + "0" * 64
                raise StackError(
                    f"image {tag} is not on the engine: testbed/docker/images.py ensure_images() provides it"
                ) from None

        self.graph = record(EngineMocks(resolve, self.state.passwords), self.stack)
        self.state.save()
        return self.graph

    def preflight(self, graph: Graph) -> list[str]:
        """Refuse what the check cannot reproduce, and ports that are taken, before creating anything."""
        notes: list[str] = []
        problems: list[str] = []
        for node in graph.nodes.values():
            try:
                if node.type == CONTAINER:
                    spec = C.translate(node.values, self.api_version)
                    notes += [f"{spec.name}: {n}" for n in spec.notes]
                    if C.find(self.client, spec.name) is None:
                        problems += _taken_ports(node.values)
                elif node.type in KNOWN_INPUTS:
                    if unknown := sorted(set(node.values) - KNOWN_INPUTS[node.type]):
                        known = sorted(KNOWN_INPUTS[node.type])
                        problems.append(f"{node.label}: input(s) {unknown} are not reproduced; known: {known}")
                elif node.type in MINIO_TYPES:
                    check_known(node)
                elif not (node.dynamic or node.type in (RANDOM_PASSWORD, *IMAGE_TAG)):
                    problems.append(f"{node.label}: resource type {node.type} is not known to the check")
            except ValueError as exc:  # C.UnknownInput, MinioUnsupported, a bad duration
                problems.append(str(exc))
        if problems:
            raise StackError("the check cannot deploy this program:\n  " + "\n  ".join(problems))
        return notes

    def _run(self, graph: Graph, step: Callable[[Node], str], report: Report, reverse: bool) -> None:
        """`step` on every node in the graph's order (see run_graph), each action said and kept in `report`."""
        lock = threading.Lock()

        def act(node: Node) -> None:
            try:
                action = step(node)
            except Exception as exc:
                # Said at once: the run waits for what is already in flight before it reports.
                self.echo(f"FAILED {'to delete ' * reverse}{node.label}: {type(exc).__name__}: {exc}")
                raise
            with lock:
                report.actions[node.label] = action
            if action != "nothing":
                self.echo(f"{node.label}: {action}")

        report.outcome = run_graph(graph, act, reverse=reverse)

    def up(self, *, replace_changed: bool = True) -> Report:
        t0 = time.monotonic()
        graph = self.record()
        # A fresh binding to the stand-in per run: a stack re-created since holds other root credentials.
        self.minio = Minio(self.admin_for)
        report = Report(notes=self.preflight(graph))
        for note in report.notes:
            self.echo(f"NOTE {note}")
        self._run(graph, lambda node: self._apply(node, report, replace_changed), report, reverse=False)
        report.seconds = time.monotonic() - t0
        _raise_failures("up", graph, report.outcome)
        return report

    def _apply(self, node: Node, report: Report, replace_changed: bool) -> str:
        if node.type == RANDOM_PASSWORD:
            return "kept"
        if node.type in IMAGE_TAG:
            self.client.images.get(node.values.get(IMAGE_TAG[node.type]))
            return "local"
        if node.type == NETWORK:
            return C.ensure_network(self.client, node.values)
        if node.type == VOLUME:
            return C.ensure_volume(self.client, node.values)
        if node.type == CONTAINER:
            return self._container(node, report, replace_changed)
        if node.type in MINIO_TYPES:
            self.minio.create(node)
            self.state.put("minio", node.urn, node.label)
            return "applied"
        if node.dynamic:
            return self._dynamic(node, report)
        raise GraphError(f"{node.label}: resource type {node.type} is not known to the check")

    def _container(self, node: Node, report: Report, replace_changed: bool) -> str:
        spec = C.translate(node.values, self.api_version)
        existing = C.find(self.client, spec.name)
        action = "created"
        if existing is not None:
            changes = self.changes_of(node, existing, spec)
            if not changes:
                if existing["State"].get("Running"):
                    return "adopted"
                self.client.api.start(existing["Id"])  # the provider starts a stopped must_run container
                action = "adopted (started)"
            else:
                found = report.changes[spec.name] = [str(c) for c in changes]
                if not replace_changed:
                    raise StackError(f"{spec.name} differs from the program: {found}")
                self.echo(f"{spec.name}: replacing (delete before replace), changed: {found}")
                C.remove(
                    self.client, existing["Id"], grace=spec.destroy_grace_seconds, remove_volumes=spec.remove_volumes
                )
                action = "replaced"
        cid = existing["Id"] if action == "adopted (started)" else C.create_and_start(self.client, spec)
        self.state.put("created_with", node.urn, node.values)
        if spec.wait:
            took = C.wait_healthy(self.client, cid, spec, self.echo, observe_after_timeout=OBSERVE_AFTER_TIMEOUT)
            report.healthy_after[spec.name] = took
            self.echo(f"{spec.name}: healthy after {took:.0f} s (wait_timeout {spec.wait_timeout} s)")
        return action

    def changes_of(self, node: Node, inspect: Mapping[str, Any], spec: C.ContainerSpec | None = None) -> list[R.Change]:
        """What the next `pulumi up` would show as changed for this container (readback.py)."""
        spec = spec or C.translate(node.values, self.api_version)
        state = R.read_container(inspect, self.state.created_with.get(node.urn, node.values))
        # Dropped on this engine (below API 1.44): compared as the engine the stack requires would store it.
        for dropped in spec.dropped:
            field_name = dropped.split(".", 1)[1]
            state.setdefault("healthcheck", {})[field_name] = node.values["healthcheck"][field_name]
        return R.diff_container(state, node.values)

    def _dynamic(self, node: Node, report: Report) -> str:
        old = self.state.dynamic.get(node.urn)
        if old is None:
            action, new_state = "created", dynamic.create(node)
        else:
            action, new_state, replaces = dynamic.up(node, dynamic.DynamicState(**old))
            if replaces:
                report.changes[node.label] = list(replaces)
        self.state.put("dynamic", node.urn, asdict(new_state))
        return action

    def compare(self) -> dict[str, list[R.Change]]:
        graph = self.graph or self.record()
        out: dict[str, list[R.Change]] = {}
        for node in graph.of_type(CONTAINER):
            name = node.values["name"]
            if (inspect := C.find(self.client, name)) is None:
                raise StackError(f"container {name} of the program does not exist: deploy first")
            out[name] = self.changes_of(node, inspect)
        return out

    def down(self) -> Report:
        """Delete every resource in the reverse order (as `pulumi destroy`), then remove what is left by name."""
        t0 = time.monotonic()
        graph = self.record(tolerate_missing_images=True)
        self.minio = Minio(self.admin_for)
        self.minio.load(list(graph.nodes.values()))
        report = Report()
        self._run(graph, self._delete, report, reverse=True)
        if removed := inventory.purge(self.client, self.stack):
            report.notes.append(f"removed by name after the orderly teardown: {removed}")
        report.seconds = time.monotonic() - t0
        _raise_failures("down", graph, report.outcome)
        self.state.forget()
        return report

    def _delete(self, node: Node) -> str:
        v = node.values
        if node.dynamic:
            stored = self.state.dynamic.get(node.urn)
            if stored is None:
                return "nothing"
            under = self.graph.upstream(node) if self.graph else []
            gone = sorted(
                n.values["name"] for n in under if n.type == CONTAINER and not self._running(n.values["name"])
            )
            if not gone:
                dynamic.delete(dynamic.DynamicState(**stored))
            self.state.put("dynamic", node.urn)
            # After a crash: the services it lives in are gone, and what it made went with their volumes.
            return f"nothing to delete: {', '.join(gone)} not running" if gone else "deleted"
        if node.type in MINIO_TYPES:
            # Only what was created (as the engine deletes only what its state holds), while the server runs.
            if node.urn not in self.state.minio or not self.minio.server_answers(node):
                return "nothing"
            self.minio.delete(node)
            self.state.put("minio", node.urn)
            return "deleted"
        if node.type == CONTAINER:
            spec = C.translate(v, self.api_version)
            gone = C.remove(
                self.client, spec.name, grace=spec.destroy_grace_seconds, remove_volumes=spec.remove_volumes
            )
            self.state.put("created_with", node.urn)
            return "removed" if gone else "nothing"
        if node.type in (VOLUME, NETWORK):
            remove = self.client.api.remove_volume if node.type == VOLUME else self.client.api.remove_network
            return "nothing" if C.missing(remove, v["name"]) else "removed"
        return "nothing"

    def _running(self, name: str) -> bool:
        found = C.find(self.client, name)
        return bool(found and found["State"].get("Running"))

    def leftovers(self) -> dict[str, list[str]]:
        return {kind: [name for _, name in found] for kind, found in inventory.objects(self.client, self.stack).items()}


def _raise_failures(what: str, graph: Graph, outcome: Outcome | None) -> None:
    if outcome is None or not outcome.failures:
        return
    lines = [f"{what} failed:"]
    lines += [f"- {graph.nodes[urn].label}: {type(exc).__name__}: {exc}" for urn, exc in outcome.failures.items()]
    if outcome.not_started:
        lines.append("not started: " + ", ".join(graph.nodes[u].label for u in outcome.not_started))
    raise StackError("\n".join(lines))


def _taken_ports(values: Mapping[str, Any]) -> list[str]:
    """The published ports of a container that something on this machine already holds."""
    out = []
    for p in values.get("ports") or []:
        ip, port = p.get("ip", "0.0.0.0"), int(p["external"])  # noqa: S104 - the provider's default
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            try:
                s.bind((ip, port))
            except OSError as exc:
                out.append(
                    f"{values['name']}: port {ip}:{port} is taken ({exc.strerror}); the stack publishes there "
                    "by default: stop what holds it (`ss -ltnp 'sport = :{port}'`) or run the check elsewhere"
                )
    return out
