"""The program's dynamic resources (`pulumi-python:dynamic/...`: KafkaTopic, StreamingJob, DeltaTables,
SupersetDashboards and whatever comes next) run with their providers' own code, as the engine's provider host
runs them: the provider unpickled from the `__provider` input (dill, base64), the properties as the engine
sends them (every number a float, secrets unwrapped), check() then create() on `up`; on a later `up` check()
with the stored inputs as olds, then diff() against the stored outputs and update() or a replacement when it
says so; delete() with the stored outputs at teardown. They reach the services through the published host
ports, as on a user's machine.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pulumi.dynamic.dynamic import PROVIDER_KEY

from testbed.docker.graph import Node
from testbed.docker.recording import as_engine_sends, provider_check, provider_of


class DynamicFailed(RuntimeError):
    """A dynamic provider refused the inputs or failed."""


@dataclass
class DynamicState:
    """What the engine keeps of a dynamic resource: its id, its checked inputs and its outputs."""

    id: str
    inputs: dict[str, Any]
    outs: dict[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {"id": self.id, "inputs": self.inputs, "outs": self.outs}


def _check(node: Node, olds: dict[str, Any]) -> dict[str, Any]:
    news = as_engine_sends(dict(node.inputs))
    result, refused = provider_check(news, olds)
    if refused:
        raise DynamicFailed(f"{node.label}: check refused the inputs: {refused}")
    # The engine keeps the checked inputs and sends them on over the wire: floats again.
    return as_engine_sends({**dict(result.inputs or news), PROVIDER_KEY: news[PROVIDER_KEY]})


def _outs(inputs: dict[str, Any], outs: dict[str, Any] | None) -> dict[str, Any]:
    return as_engine_sends({**dict(outs or {}), PROVIDER_KEY: inputs[PROVIDER_KEY]})


def create(node: Node) -> DynamicState:
    """check() then create(), as on the first `up`."""
    inputs = _check(node, {})
    result = provider_of(inputs).create(inputs)
    return DynamicState(str(result.id), inputs, _outs(inputs, result.outs))


@dataclass(frozen=True)
class Applied:
    """What a later `up` did with a dynamic resource: nothing, an update, or a replacement."""

    action: str  # "same" | "updated" | "replaced"
    state: DynamicState
    changed: bool
    replaces: tuple[str, ...] = ()


def up(node: Node, old: DynamicState) -> Applied:
    """A later `up`: check() with the stored inputs as olds, diff() against the stored outputs; update() or
    replace (delete-before-replace when the provider asks for it) when diff says so."""
    inputs = _check(node, old.inputs)
    provider = provider_of(inputs)
    d = provider.diff(old.id, old.outs, inputs)
    changed = bool(d.changes) if d.changes is not None else True
    replaces = tuple(d.replaces or ())
    if not changed:
        return Applied("same", DynamicState(old.id, inputs, old.outs), False)
    if not replaces:
        result = provider.update(old.id, old.outs, inputs)
        return Applied("updated", DynamicState(old.id, inputs, _outs(inputs, result.outs)), True)
    if d.delete_before_replace:
        delete(old)
        created = provider.create(inputs)
    else:
        created = provider.create(inputs)
        delete(old)
    return Applied("replaced", DynamicState(str(created.id), inputs, _outs(inputs, created.outs)), True, replaces)


def delete(state: DynamicState) -> None:
    """delete() with the stored outputs, by the provider pickled in them (the code that created it)."""
    provider_of(state.outs).delete(state.id, state.outs)
