"""The stack's containers, networks and volumes on the local Docker engine, exactly as the Pulumi program
declares them: `Deployment.up()` records the program under the mocks (graph.py), refuses what it cannot
reproduce before creating anything (an unknown resource type, Container input or MinIO input; a published
port that is taken), then creates every resource in the program's dependency order, in parallel where the
graph allows: networks and volumes, containers (created, uploads written, started, waited for as
`wait=True` does), the MinIO resources in the S3 stand-in, the dynamic resources with their own providers.

A later `up` is what a second `pulumi up` would do: each container is read back as pulumi-docker reads it
(readback.py) and adopted when nothing differs (replaced, like the engine, when something does: the report
names the changes); each dynamic resource goes through check/diff and update only when diff says so.
`compare()` is that read-back comparison on its own, `readopt()` calls every dynamic provider's create()
again (a lost state: it must adopt), `down()` deletes in the reverse order as the engine does (dynamic
deletes, containers with the provider's stop grace, volumes, network) and then removes whatever of the stack
is still there by name (`purge`), so `down` cleans up after a crash too.

The state the engine would keep - the generated passwords, the container inputs each was created with, the
dynamic resources' ids and outputs - is kept in memory and in `.dockercheck/<stack>.json` (mode 600, it holds
the secrets), so `python -m testbed.docker down` works from another process.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from testbed.docker import containers as C
from testbed.docker import dynamic
from testbed.docker import readback as R
from testbed.docker.graph import EngineMocks, Graph, GraphError, Node, Outcome, run_graph
from testbed.docker.minio import TYPES as MINIO_TYPES
from testbed.docker.minio import Admin, Minio
from testbed.docker.recording import (
    CONTAINER,
    IMAGE,
    NETWORK,
    PROJECT,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    VOLUME,
    run_stack,
)

REPO = Path(__file__).resolve().parents[2]
STATE_DIR = REPO / ".dockercheck"
DEFAULT_STACK = "dockercheck"
NETWORK_INPUTS = frozenset({"name", "driver", "labels"})
VOLUME_INPUTS = frozenset({"name", "driver", "labels", "driverOpts"})
Echo = Callable[[str], None]


class StackError(RuntimeError):
    """The check could not deploy, compare or tear down the stack; the message says what and why."""


def prefix(stack: str) -> str:
    """What every Docker name of the stack starts with (components.containers.stack_prefix)."""
    return f"{PROJECT}-{stack}-"


def _labels(items: Any) -> dict[str, str]:
    return {x["label"]: x["value"] for x in items or []}


@dataclass
class State:
    """What the engine would keep between runs (see the module docstring); saved on every change."""

    path: Path
    passwords: dict[str, str] = field(default_factory=dict)
    created_with: dict[str, dict[str, Any]] = field(default_factory=dict)
    dynamic: dict[str, dict[str, Any]] = field(default_factory=dict)
    minio: dict[str, str] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @classmethod
    def load(cls, path: Path) -> State:
        if not path.exists():
            return cls(path)
        data = json.loads(path.read_text())
        keys = ("passwords", "created_with", "dynamic", "minio")
        return cls(path, *(data.get(k, {}) for k in keys))

    def save(self) -> None:
        with self.lock:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            tmp = self.path.with_suffix(".tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as f:
                data = {"passwords": self.passwords, "created_with": self.created_with, "dynamic": self.dynamic}
                json.dump({**data, "minio": self.minio}, f)
            os.chmod(tmp, 0o600)
            tmp.replace(self.path)

    def forget(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        self.passwords.clear()
        self.created_with.clear()
        self.dynamic.clear()
        self.minio.clear()


@dataclass
class Report:
    """What one `up` or `down` did."""

    actions: dict[str, str] = field(default_factory=dict)
    changes: dict[str, list[str]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    healthy_after: dict[str, float] = field(default_factory=dict)
    outcome: Outcome | None = None
    seconds: float = 0.0

    def phase_seconds(self, graph: Graph, pick: Callable[[Node], bool]) -> float:
        """Seconds from the start of the run until the last node `pick` chooses was done."""
        ends = [e for urn, (_, e) in (self.outcome.spans if self.outcome else {}).items() if pick(graph.nodes[urn])]
        return max(ends, default=0.0)


class Deployment:
    """One stack of the check on one engine (see the module docstring)."""

    def __init__(
        self,
        client: Any,
        *,
        stack: str = DEFAULT_STACK,
        config: Mapping[str, str] | None = None,
        admin_for: Callable[[Mapping[str, Any]], Admin] | None = None,
        echo: Echo = print,
        state_dir: Path = STATE_DIR,
        observe_after_timeout: float = 300,
    ) -> None:
        self.client = client
        self.stack = stack
        self.config = dict(config or {})
        self.echo = echo
        self.state = State.load(state_dir / f"{stack}.json")
        self.admin_for = admin_for or _standin_admin(client, echo)
        self.minio = Minio(self.admin_for)
        self.observe_after_timeout = observe_after_timeout
        self.api_version = client.version()["ApiVersion"]
        self.graph: Graph | None = None

    # ----- recording -----

    def image_id(self, tag: str) -> str:
        import docker.errors

        try:
            return self.client.images.get(tag).id
        except docker.errors.ImageNotFound:
            raise StackError(
                f"image {tag} is not on the engine: testbed/docker/images.py ensure_images() provides it"
            ) from None

    def record(self, *, tolerate_missing_images: bool = False) -> Graph:
        """The program's graph under EngineMocks, with the passwords of the state (new ones generated)."""
        resolve = self.image_id
        if tolerate_missing_images:

            def resolve(tag: str) -> str:
                try:
                    return self.image_id(tag)
                except StackError:
                    return "sha256:" + "0" * 64

        mocks = EngineMocks(resolve, self.state.passwords)
        rec = _in_own_event_loop(lambda: run_stack(self.config, mocks=mocks, stack=self.stack))
        self.graph = Graph.from_recording(rec)
        self.state.save()
        return self.graph

    # ----- checks before anything is created -----

    def preflight(self, graph: Graph) -> list[str]:
        """Refuse what the check cannot reproduce, and ports that are taken, before creating anything."""
        notes: list[str] = []
        problems: list[str] = []
        for node in graph.nodes.values():
            try:
                if node.type == CONTAINER:
                    spec = C.translate(node.values, self.api_version)
                    notes += [f"{spec.name}: {n}" for n in spec.notes]
                    if self._find_container(spec.name) is None:
                        problems += _taken_ports(node.values)
                elif node.type == NETWORK:
                    _refuse_unknown(node, NETWORK_INPUTS)
                elif node.type == VOLUME:
                    _refuse_unknown(node, VOLUME_INPUTS)
                elif node.type in MINIO_TYPES:
                    from testbed.docker.minio import check_known

                    check_known(node)
                elif not (node.dynamic or node.type in (RANDOM_PASSWORD, REMOTE_IMAGE, IMAGE)):
                    problems.append(f"{node.label}: resource type {node.type} is not known to the check")
            except (C.UnknownInput, ValueError) as exc:
                problems.append(str(exc))
        if problems:
            raise StackError("the check cannot deploy this program:\n  " + "\n  ".join(problems))
        return notes

    # ----- up -----

    def up(self, *, replace_changed: bool = True) -> Report:
        """Create (or, on a later run, adopt/update) every resource; see the module docstring."""
        t0 = time.monotonic()
        graph = self.record()
        # A fresh binding to the stand-in per run: a stack re-created since holds other root credentials.
        self.minio = Minio(self.admin_for)
        report = Report(notes=self.preflight(graph))
        for note in report.notes:
            self.echo(f"NOTE {note}")
        lock = threading.Lock()

        def act(node: Node) -> None:
            try:
                action = self._apply(node, report, replace_changed)
            except Exception as exc:
                # Said at once: the run waits for what is already in flight before it reports.
                self.echo(f"FAILED {node.label}: {type(exc).__name__}: {exc}")
                raise
            with lock:
                report.actions[node.label] = action
            self.echo(f"{node.label}: {action}")

        report.outcome = run_graph(graph, act)
        report.seconds = time.monotonic() - t0
        if report.outcome.failures:
            raise StackError(self._failure_text("up", graph, report.outcome))
        return report

    def _apply(self, node: Node, report: Report, replace_changed: bool) -> str:
        if node.type == RANDOM_PASSWORD:
            return "kept"
        if node.type == REMOTE_IMAGE:
            self.client.images.get(node.values.get("name"))
            return "local"
        if node.type == IMAGE:
            self.client.images.get(node.values.get("imageName"))
            return "local"
        if node.type == NETWORK:
            return self._network(node)
        if node.type == VOLUME:
            return self._volume(node)
        if node.type == CONTAINER:
            return self._container(node, report, replace_changed)
        if node.type in MINIO_TYPES:
            self.minio.create(node)
            with self.state.lock:
                self.state.minio[node.urn] = node.label
            self.state.save()
            return "applied"
        if node.dynamic:
            return self._dynamic(node, report)
        raise GraphError(f"{node.label}: resource type {node.type} is not known to the check")

    def _network(self, node: Node) -> str:
        v = node.values
        found = self.client.api.networks(names=[v["name"]])
        found = [n for n in found if n["Name"] == v["name"]]
        if found:
            labels = found[0].get("Labels") or {}
            if labels != _labels(v.get("labels")) or found[0].get("Driver") != v.get("driver", "bridge"):
                raise StackError(f"network {v['name']} exists with other labels or driver: {found[0]}")
            return "adopted"
        self.client.api.create_network(
            v["name"], driver=v.get("driver", "bridge"), labels=_labels(v.get("labels")), check_duplicate=True
        )
        return "created"

    def _volume(self, node: Node) -> str:
        import docker.errors

        v = node.values
        try:
            self.client.api.inspect_volume(v["name"])
            return "adopted"
        except docker.errors.NotFound:
            pass
        self.client.api.create_volume(
            v["name"], driver=v.get("driver", "local"), driver_opts=v.get("driverOpts"), labels=_labels(v.get("labels"))
        )
        return "created"

    def _find_container(self, name: str) -> dict[str, Any] | None:
        import docker.errors

        try:
            return self.client.api.inspect_container(name)
        except docker.errors.NotFound:
            return None

    def _container(self, node: Node, report: Report, replace_changed: bool) -> str:
        values = node.values
        spec = C.translate(values, self.api_version)
        existing = self._find_container(spec.name)
        action = "created"
        if existing is not None:
            changes = self.changes_of(node, existing, spec)
            if not changes:
                if not existing["State"].get("Running"):
                    self.client.api.start(existing["Id"])  # the provider starts a stopped must_run container
                    action = "adopted (started)"
                else:
                    return "adopted"
            else:
                report.changes[spec.name] = [str(c) for c in changes]
                if not replace_changed:
                    raise StackError(f"{spec.name} differs from the program: {report.changes[spec.name]}")
                self.echo(f"{spec.name}: replacing (delete before replace), changed: {report.changes[spec.name]}")
                C.remove(
                    self.client, existing["Id"], grace=spec.destroy_grace_seconds, remove_volumes=spec.remove_volumes
                )
                action = "replaced"
        if action in ("created", "replaced"):
            cid = C.create_and_start(self.client, spec)
        else:
            cid = existing["Id"]
        with self.state.lock:
            self.state.created_with[node.urn] = values
        self.state.save()
        if spec.wait:
            took = C.wait_healthy(self.client, cid, spec, self.echo, observe_after_timeout=self.observe_after_timeout)
            report.healthy_after[spec.name] = took
            self.echo(f"{spec.name}: healthy after {took:.0f} s (wait_timeout {spec.wait_timeout} s)")
        return action

    def changes_of(self, node: Node, inspect: Mapping[str, Any], spec: C.ContainerSpec | None = None) -> list[R.Change]:
        """What the next `pulumi up` would show as changed for this container (readback.py)."""
        spec = spec or C.translate(node.values, self.api_version)
        created_with = self.state.created_with.get(node.urn, node.values)
        state = R.read_container(inspect, created_with)
        # Dropped on this engine (below API 1.44): compared as the engine the stack requires would store it.
        for dropped in spec.dropped:
            field_name = dropped.split(".", 1)[1]
            state.setdefault("healthcheck", {})[field_name] = node.values["healthcheck"][field_name]
        return R.diff_container(state, node.values)

    def _dynamic(self, node: Node, report: Report) -> str:
        old = self.state.dynamic.get(node.urn)
        if old is None:
            created = dynamic.create(node)
            action = "created"
            new_state = created
        else:
            applied = dynamic.up(node, dynamic.DynamicState.from_json(old))
            action, new_state = applied.action, applied.state
            if applied.replaces:
                report.changes[node.label] = list(applied.replaces)
        with self.state.lock:
            self.state.dynamic[node.urn] = new_state.to_json()
        self.state.save()
        return action

    # ----- the read-back comparison, re-adoption -----

    def compare(self) -> dict[str, list[R.Change]]:
        """Per container of the program: what the next `pulumi up` would show as changed."""
        graph = self.graph or self.record()
        out: dict[str, list[R.Change]] = {}
        for node in graph.of_type(CONTAINER):
            name = node.values["name"]
            inspect = self._find_container(name)
            if inspect is None:
                raise StackError(f"container {name} of the program does not exist: deploy first")
            out[name] = self.changes_of(node, inspect)
        return out

    def dynamic_outputs(self) -> dict[str, dict[str, Any]]:
        """The stored outputs of each dynamic resource, by its logical name."""
        graph = self.graph or self.record()
        return {graph.nodes[u].name: d["outs"] for u, d in self.state.dynamic.items() if u in graph.nodes}

    def readopt(self) -> dict[str, dynamic.DynamicState]:
        """Every dynamic provider's create() again, as after a lost state: each must adopt what exists."""
        graph = self.graph or self.record()
        out: dict[str, dynamic.DynamicState] = {}
        lock = threading.Lock()

        def act(node: Node) -> None:
            if node.dynamic:
                made = dynamic.create(node)
                with lock:
                    out[node.name] = made

        outcome = run_graph(graph, act)
        if outcome.failures:
            raise StackError(self._failure_text("re-create of the dynamic resources", graph, outcome))
        return out

    # ----- down -----

    def down(self) -> Report:
        """Delete every resource in the reverse order (as `pulumi destroy`), then remove what is left by name."""
        t0 = time.monotonic()
        graph = self.record(tolerate_missing_images=True)
        self.minio = Minio(self.admin_for)
        self.minio.load(list(graph.nodes.values()))
        report = Report()
        lock = threading.Lock()

        def act(node: Node) -> None:
            try:
                action = self._delete(node)
            except Exception as exc:
                self.echo(f"FAILED to delete {node.label}: {type(exc).__name__}: {exc}")
                raise
            with lock:
                report.actions[node.label] = action
            if action != "nothing":
                self.echo(f"{node.label}: {action}")

        report.outcome = run_graph(graph, act, reverse=True)
        removed = self.purge()
        if removed:
            report.notes.append(f"removed by name after the orderly teardown: {removed}")
        report.seconds = time.monotonic() - t0
        if report.outcome.failures:
            raise StackError(self._failure_text("down", graph, report.outcome))
        self.state.forget()
        return report

    def _delete(self, node: Node) -> str:
        import docker.errors

        v = node.values
        if node.dynamic:
            stored = self.state.dynamic.get(node.urn)
            if stored is None:
                return "nothing"
            gone = [n for n in self._containers_under(node) if not self._running(n)]
            if gone:
                # After a crash: the services it lives in are gone, and what it made went with their volumes.
                with self.state.lock:
                    self.state.dynamic.pop(node.urn, None)
                self.state.save()
                return f"nothing to delete: {', '.join(gone)} not running"
            dynamic.delete(dynamic.DynamicState.from_json(stored))
            with self.state.lock:
                self.state.dynamic.pop(node.urn, None)
            self.state.save()
            return "deleted"
        if node.type in MINIO_TYPES:
            # Only what was created (as the engine deletes only what its state holds), while the server runs.
            if node.urn not in self.state.minio or not self._find_container_by_role_port(node):
                return "nothing"
            self.minio.delete(node)
            with self.state.lock:
                self.state.minio.pop(node.urn, None)
            self.state.save()
            return "deleted"
        if node.type == CONTAINER:
            spec = C.translate(v, self.api_version)
            grace, volumes = spec.destroy_grace_seconds, spec.remove_volumes
            gone = C.remove(self.client, spec.name, grace=grace, remove_volumes=volumes)
            with self.state.lock:
                self.state.created_with.pop(node.urn, None)
            self.state.save()
            return "removed" if gone else "nothing"
        if node.type == VOLUME:
            try:
                self.client.api.remove_volume(v["name"])
                return "removed"
            except docker.errors.NotFound:
                return "nothing"
        if node.type == NETWORK:
            try:
                self.client.api.remove_network(v["name"])
                return "removed"
            except docker.errors.NotFound:
                return "nothing"
        return "nothing"

    def _containers_under(self, node: Node) -> list[str]:
        """The Docker names of the containers `node` depends on, directly or not."""
        graph = self.graph
        assert graph is not None
        seen: set[str] = set()
        todo = list(node.deps)
        while todo:
            urn = todo.pop()
            if urn not in seen and urn in graph.nodes:
                seen.add(urn)
                todo += graph.nodes[urn].deps
        return sorted(graph.nodes[u].values["name"] for u in seen if graph.nodes[u].type == CONTAINER)

    def _running(self, name: str) -> bool:
        found = self._find_container(name)
        return bool(found and found["State"].get("Running"))

    def _find_container_by_role_port(self, node: Node) -> bool:
        """Whether the S3 server the provider talks to still runs (nothing to delete in a removed server)."""
        provider = self.minio.providers.get(node.provider, {})
        server = str(provider.get("minioServer", ""))
        host, _, port = server.rpartition(":")
        try:
            with socket.create_connection((host or "127.0.0.1", int(port)), timeout=5):
                return True
        except (OSError, ValueError):
            return False

    def purge(self) -> list[str]:
        """Remove every container, volume and network whose name carries the stack's prefix."""
        removed: list[str] = []
        p = prefix(self.stack)
        for c in self.client.api.containers(all=True):
            names = [n.lstrip("/") for n in c.get("Names") or []]
            if any(n.startswith(p) for n in names):
                C.remove(self.client, c["Id"])
                removed += names
        for vol in (self.client.api.volumes() or {}).get("Volumes") or []:
            if vol["Name"].startswith(p):
                self.client.api.remove_volume(vol["Name"], force=True)
                removed.append(vol["Name"])
        for net in self.client.api.networks():
            if net["Name"].startswith(p):
                self.client.api.remove_network(net["Id"])
                removed.append(net["Name"])
        return removed

    def leftovers(self) -> dict[str, list[str]]:
        """Containers, volumes and networks of the stack still on the engine (by prefix)."""
        p = prefix(self.stack)
        names = [n.lstrip("/") for c in self.client.api.containers(all=True) for n in c.get("Names") or []]
        containers = [n for n in names if n.startswith(p)]
        volumes = [v["Name"] for v in (self.client.api.volumes() or {}).get("Volumes") or [] if v["Name"].startswith(p)]
        networks = [n["Name"] for n in self.client.api.networks() if n["Name"].startswith(p)]
        return {"containers": containers, "volumes": volumes, "networks": networks}

    # ----- status and measurements -----

    def status_rows(self) -> list[dict[str, Any]]:
        rows = []
        p = prefix(self.stack)
        for c in self.client.api.containers(all=True):
            name = (c.get("Names") or ["?"])[0].lstrip("/")
            if not name.startswith(p):
                continue
            rows.append({"name": name, "state": c.get("State"), "status": c.get("Status")})
        return sorted(rows, key=lambda r: r["name"])

    def memory(self) -> dict[str, dict[str, int]]:
        """Per running container of the stack: `usage`, `peak` (cgroup v1's max_usage) and `limit`, bytes."""
        out = {}
        for row in self.status_rows():
            if row["state"] != "running":
                continue
            stats = self.client.api.stats(row["name"], stream=False)
            mem = stats.get("memory_stats") or {}
            out[row["name"]] = {
                "usage": int(mem.get("usage") or 0),
                "peak": int(mem.get("max_usage") or mem.get("usage") or 0),
                "limit": int(mem.get("limit") or 0),
            }
        return out

    def _failure_text(self, what: str, graph: Graph, outcome: Outcome) -> str:
        lines = [f"{what} failed:"]
        for urn, exc in outcome.failures.items():
            lines.append(f"- {graph.nodes[urn].label}: {type(exc).__name__}: {exc}")
        if outcome.not_started:
            lines.append("not started: " + ", ".join(graph.nodes[u].label for u in outcome.not_started))
        return "\n".join(lines)


def _in_own_event_loop(fn: Callable[[], Any]) -> Any:
    """Run `fn` (the program under Pulumi's mocks) in a thread with an event loop of its own.

    Pulumi's mock runner drives whatever event loop is current in its thread, one callback at a time; in a
    thread that already has one (Playwright's sync API keeps its loop current in the main thread) it would run
    that loop's callbacks too - a browser route handler there deadlocked the e2e test."""

    def run() -> Any:
        import asyncio

        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return fn()
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="program") as pool:
        return pool.submit(run).result()


def _refuse_unknown(node: Node, known: frozenset[str]) -> None:
    unknown = sorted(set(node.values) - known)
    if unknown:
        raise ValueError(f"{node.label}: input(s) {unknown} are not reproduced; known: {sorted(known)}")


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


def _standin_admin(client: Any, echo: Echo) -> Callable[[Mapping[str, Any]], Admin]:
    """The S3 stand-in's admin operations for a pulumi-minio provider's inputs (testbed/docker/s3standin.py)."""

    def admin_for(provider: Mapping[str, Any]) -> Admin:
        from testbed.docker import s3standin

        return s3standin.admin(client, provider, echo)

    return admin_for
