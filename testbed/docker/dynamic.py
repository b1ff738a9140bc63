"""The program's dynamic resources run with their providers' own code, as the engine's provider host runs them
(recording.py): check() then create() on `up`; on a later `up` check() against the stored inputs, diff() against
the stored outputs, then update() or a replacement; delete() with the stored outputs at teardown.
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


def _check(node: Node, olds: dict[str, Any]) -> dict[str, Any]:
    news = as_engine_sends(dict(node.inputs))
    result, refused = provider_check(news, olds)
    if refused:
        raise DynamicFailed(f"{node.label}: check refused the inputs: {refused}")
    # The engine keeps the checked inputs and sends them on over the wire: floats again.
    return as_engine_sends({**dict(result.inputs or news), PROVIDER_KEY: news[PROVIDER_KEY]})


def _state(id_: Any, inputs: dict[str, Any], outs: dict[str, Any] | None) -> DynamicState:
    return DynamicState(str(id_), inputs, as_engine_sends({**dict(outs or {}), PROVIDER_KEY: inputs[PROVIDER_KEY]}))


def create(node: Node) -> DynamicState:
    inputs = _check(node, {})
    result = provider_of(inputs).create(inputs)
    return _state(result.id, inputs, result.outs)


def up(node: Node, old: DynamicState) -> tuple[str, DynamicState, tuple[str, ...]]:
    """A later `up`: (what it did - same, updated or replaced -, the new state, the properties that replaced it)."""
    inputs = _check(node, old.inputs)
    provider = provider_of(inputs)
    d = provider.diff(old.id, old.outs, inputs)
    if d.changes is not None and not d.changes:
        return "same", DynamicState(old.id, inputs, old.outs), ()
    if not d.replaces:
        return "updated", _state(old.id, inputs, provider.update(old.id, old.outs, inputs).outs), ()
    if d.delete_before_replace:
        delete(old)
    created = provider.create(inputs)
    if not d.delete_before_replace:
        delete(old)
    return "replaced", _state(created.id, inputs, created.outs), tuple(d.replaces)


def delete(state: DynamicState) -> None:
    """delete() with the stored outputs, by the provider pickled in them (the code that created it)."""
    provider_of(state.outs).delete(state.id, state.outs)
