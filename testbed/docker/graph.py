"""The program's resource graph as the mocks record it, answered as the real providers answer (`EngineMocks`), and
the engine's order over it: each resource starts once all it depends on is done, as many at once as the graph
allows; teardown the other way round. An input computed from a dynamic resource's output is refused (it is not
known before that resource exists).
"""

from __future__ import annotations

import asyncio
import secrets
import string
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any

import pulumi

from testbed.docker.recording import (
    DYNAMIC_PREFIX,
    IMAGE,
    MINIO_USER,
    NETWORK,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    VOLUME,
    Recording,
    RecordingMocks,
    plain,
    run_stack,
)

STACK_TYPE = "pulumi:pulumi:Stack"


class GraphError(RuntimeError):
    """The graph cannot be replayed, or some of its resources failed."""


def random_password(inputs: Mapping[str, Any]) -> str:
    """A value pulumi-random's RandomPassword could return for these inputs (length, min_* per class, classes
    switched off, overrideSpecial)."""
    length = int(inputs["length"])
    classes = {"upper": string.ascii_uppercase, "lower": string.ascii_lowercase, "numeric": string.digits}
    classes["special"] = str(inputs.get("overrideSpecial") or "!@#$%&*()-_=+[]{}<>:?")
    rng = secrets.SystemRandom()
    on = {key: alphabet for key, alphabet in classes.items() if inputs.get(key, True) is not False}
    pool = "".join(on.values())
    chars = [rng.choice(a) for key, a in on.items() for _ in range(int(inputs.get(f"min{key.capitalize()}", 0) or 0))]
    if not pool:
        raise GraphError(f"RandomPassword inputs {dict(inputs)} switch every character class off")
    if len(chars) > length:
        raise GraphError(f"RandomPassword length {length} is below the sum of its minimums ({len(chars)})")
    chars += [rng.choice(pool) for _ in range(length - len(chars))]
    rng.shuffle(chars)
    return "".join(chars)


class EngineMocks(RecordingMocks):
    """Mocks that answer as the real providers would: `passwords` (by logical name) are kept and new ones added,
    `image_id` resolves a tag to the local image."""

    def __init__(self, image_id: Callable[[str], str], passwords: dict[str, str] | None = None) -> None:
        super().__init__()
        self.image_id = image_id
        self.passwords = passwords if passwords is not None else {}
        self._lock = threading.Lock()

    def answer(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        inputs = plain(dict(args.inputs))
        if args.typ == RANDOM_PASSWORD:
            with self._lock:
                value = self.passwords.get(args.name)
                if value is None or len(value) != int(inputs["length"]):
                    value = self.passwords[args.name] = random_password(inputs)
            return {"result": value}
        if args.typ == REMOTE_IMAGE:
            return {"imageId": self.image_id(inputs["name"])}
        if args.typ == IMAGE:
            return {"repoDigest": self.image_id(inputs["imageName"])}
        if args.typ in (NETWORK, VOLUME, MINIO_USER):
            return {"name": inputs.get("name", args.name)}
        return {}


@dataclass(frozen=True)
class Node:
    """One custom resource of the program: its inputs as recorded (secrets still wrapped) and what it waits for."""

    urn: str
    type: str
    name: str
    inputs: dict[str, Any]
    deps: frozenset[str]
    provider: str = ""
    property_dependencies: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def values(self) -> dict[str, Any]:
        return plain(self.inputs)

    @property
    def dynamic(self) -> bool:
        return self.type.startswith(DYNAMIC_PREFIX)

    @property
    def label(self) -> str:
        return f"{self.type.rsplit(':', 1)[-1]} {self.name}"


@dataclass
class Graph:
    """The custom resources of one program run, by URN, in registration order."""

    nodes: dict[str, Node]
    outputs: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_recording(cls, rec: Recording) -> Graph:
        by_key: dict[tuple[str, str], Any] = {}
        for res in rec.resources:
            key = (res.typ, res.name)
            if key in by_key:
                raise GraphError(f"two resources of type {res.typ} are named {res.name!r}: cannot tell them apart")
            by_key[key] = res
        regs = {r.urn: r for r in rec.registrations if r.type != STACK_TYPE}
        children: dict[str, list[str]] = {}
        for r in regs.values():
            children.setdefault(r.parent, []).append(r.urn)

        def expand(urns: Iterable[str]) -> frozenset[str]:
            # A dependency on a component is one on every custom resource inside it (as the SDK expands it).
            out: set[str] = set()
            for urn in (u for u in urns if u in regs):
                out |= {urn} if regs[urn].custom else expand(children.get(urn, []))
            return frozenset(out)

        nodes: dict[str, Node] = {}
        for r in (r for r in regs.values() if r.custom):
            provider = r.provider.rsplit("::", 1)[0] if r.provider else ""
            deps = expand(r.dependencies) | ({provider} if provider in regs else set())
            inputs = dict(by_key[(r.type, r.name)].inputs) if (r.type, r.name) in by_key else {}
            per_property = {k: expand(v) for k, v in r.property_dependencies.items()}
            nodes[r.urn] = Node(r.urn, r.type, r.name, inputs, deps, provider, per_property)
        graph = cls(nodes, dict(rec.outputs))
        graph._refuse_dynamic_outputs_as_inputs()
        return graph

    def _refuse_dynamic_outputs_as_inputs(self) -> None:
        for node in self.nodes.values():
            for prop, urns in node.property_dependencies.items():
                dynamic = [self.nodes[u].label for u in urns if u in self.nodes and self.nodes[u].dynamic]
                if dynamic and prop != "__provider":
                    raise GraphError(
                        f"{node.label}: input {prop!r} is computed from the outputs of {dynamic}, which exist only "
                        "once that resource is created; the check records the graph before creating anything "
                        "and cannot replay it (make it a depends_on, or teach testbed/docker/graph.py the value)"
                    )

    def of_type(self, typ: str) -> list[Node]:
        return [n for n in self.nodes.values() if n.type == typ]

    def upstream(self, node: Node) -> list[Node]:
        seen: set[str] = set()
        todo = list(node.deps)
        while todo:
            urn = todo.pop()
            if urn not in seen and urn in self.nodes:
                seen.add(urn)
                todo += self.nodes[urn].deps
        return [self.nodes[u] for u in seen]


@dataclass
class Outcome:
    """Per URN its (start, end) in seconds since the run began, the failures and the nodes never started."""

    spans: dict[str, tuple[float, float]] = field(default_factory=dict)
    failures: dict[str, BaseException] = field(default_factory=dict)
    not_started: list[str] = field(default_factory=list)


def run_graph(
    graph: Graph, action: Callable[[Node], None], *, reverse: bool = False, only: Iterable[str] | None = None
) -> Outcome:
    """Run `action` on every node (of `only`, if given) once all it waits for is done - its dependencies, or
    with `reverse` its dependents - as many at once as the graph allows, like the engine. After a failure no
    new node starts (those already running finish); the failures and the nodes never started are returned."""
    chosen = set(only) if only is not None else set(graph.nodes)
    forward = {u: set(graph.nodes[u].deps) & chosen for u in chosen}
    waits = {u: {d for d in chosen if u in forward[d]} for u in chosen} if reverse else forward
    order = [u for u in graph.nodes if u in chosen]  # registration order among the ready ones
    outcome = Outcome()
    done: set[str] = set()
    running: dict[Future[None], str] = {}
    started: set[str] = set()
    begin = time.monotonic()

    def timed(node: Node) -> None:
        start = time.monotonic() - begin
        try:
            action(node)
        finally:
            outcome.spans[node.urn] = (start, time.monotonic() - begin)

    with ThreadPoolExecutor(max_workers=16, thread_name_prefix="graph") as pool:
        while True:
            for urn in [] if outcome.failures else [u for u in order if u not in started and waits[u] <= done]:
                started.add(urn)
                running[pool.submit(timed, graph.nodes[urn])] = urn
            if not running:
                break
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            for fut in finished:
                urn = running.pop(fut)
                if (exc := fut.exception()) is not None:
                    outcome.failures[urn] = exc
                else:
                    done.add(urn)
    outcome.not_started = [u for u in order if u not in started]
    if not outcome.failures and outcome.not_started:
        raise GraphError(f"dependency cycle: never started {outcome.not_started}")
    return outcome


def record(mocks: EngineMocks, stack: str) -> Graph:
    """The whole program's graph (its default config) under `mocks`, run in a thread with an event loop of its own:
    Pulumi's mock runner drives whatever loop is current in its thread (Playwright's, in the e2e test: deadlock)."""

    def run() -> Recording:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            return run_stack(mocks=mocks, stack=stack)
        finally:
            asyncio.set_event_loop(None)
            loop.close()

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="program") as pool:
        return Graph.from_recording(pool.submit(run).result())
