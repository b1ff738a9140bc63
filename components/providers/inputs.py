"""What every dynamic provider of the stack does the same way: undo what the Pulumi engine does to property
values, hash the code a provider runs, and name the inputs that changed.

The engine carries every number as a float64: a provider receives (and gets its state back with) the `3` its
program declared as `3.0`, in every call; Pulumi's mocks keep ints. Hence `with_ints` on entry.
"""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any

from pulumi.dynamic import CheckFailure, CheckResult, DiffResult, ResourceProvider


def is_unknown(value: Any) -> bool:
    """Whether `value` is, or holds (in a list, map or secret), Pulumi's "not known yet" placeholder: what a
    `preview` sends for an input computed from a resource not created yet, as a `pulumi.output.Unknown` object
    (or the wire string `rpc.UNKNOWN`, as older hosts and the mocks pass it on)."""
    from pulumi.output import Unknown
    from pulumi.runtime.rpc import UNKNOWN, is_rpc_secret, unwrap_rpc_secret

    if isinstance(value, Unknown) or (isinstance(value, str) and value == UNKNOWN):
        return True
    if is_rpc_secret(value):
        return is_unknown(unwrap_rpc_secret(value))
    if isinstance(value, dict):
        value = list(value.values())
    return isinstance(value, list | tuple) and any(is_unknown(v) for v in value)


def known_failures(props: Mapping[str, Any], failures: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`failures` without those of properties not known yet: they are checked again, known, at `up`."""
    return [(prop, reason) for prop, reason in failures if not is_unknown(props.get(prop))]


def integral(value: Any) -> Any:
    """`3.0` -> `3`; anything else (3.5, "3", None, True) unchanged, so validation still sees it."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def with_ints(props: Mapping[str, Any] | None, names: Iterable[str]) -> dict[str, Any]:
    """A copy of `props` with each property in `names` turned back into an int where the engine made it a float."""
    out = dict(props or {})
    return out | {name: integral(out[name]) for name in names if name in out}


def code_hash(*sources: ModuleType | Path) -> str:
    """SHA-256 of the files (modules or paths; this one always counts) a provider runs: its input `provider_hash`,
    without which the engine would keep running the code pickled into the state after the code was edited."""
    digest = hashlib.sha256()
    for source in (*sources, Path(__file__)):
        path = Path(source.__file__ or "") if isinstance(source, ModuleType) else source
        digest.update(path.read_bytes())
    return digest.hexdigest()


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any], props: Iterable[str]) -> list[str]:
    """The properties of `props` whose stored value differs from the program's (outputs are not compared)."""
    return [k for k in props if olds.get(k) != news.get(k)]


def _ints_on_entry(method: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(method)
    def call(self: Provider, *args: Any) -> Any:
        return method(self, *(with_ints(a, self.INT_PROPS) if isinstance(a, dict) else a for a in args))

    return call


class Provider(ResourceProvider):
    """Integers back from the engine's floats (`INT_PROPS`) in the property dicts every call receives, `check`
    through `failures` (values not known yet pass), `diff` through `changes`."""

    # It captures nothing (credentials arrive as secret inputs), so its pickled form need not be a secret.
    serialize_as_secret_always = False
    INT_PROPS: tuple[str, ...] = ()
    DELETE_BEFORE_REPLACE = True

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        for name in ("create", "read", "update", "delete"):
            if name in vars(cls):
                setattr(cls, name, _ints_on_entry(vars(cls)[name]))

    def failures(self, news: dict[str, Any], olds: dict[str, Any]) -> list[tuple[str, str]]:
        raise NotImplementedError

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[Any, list[str]]:
        """(what changed, truthy when anything did; the properties forcing a replacement)."""
        raise NotImplementedError

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        news = with_ints(news, self.INT_PROPS)
        failures = known_failures(news, self.failures(news, with_ints(olds, self.INT_PROPS)))
        return CheckResult(news, [CheckFailure(prop, reason) for prop, reason in failures])

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed, replaces = self.changes(with_ints(olds, self.INT_PROPS), with_ints(news, self.INT_PROPS))
        dbr = self.DELETE_BEFORE_REPLACE and bool(replaces)
        return DiffResult(changes=bool(changed), replaces=replaces, stables=[], delete_before_replace=dbr)
