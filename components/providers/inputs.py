"""What every dynamic provider of the stack does the same way: undo what the Pulumi engine does to property
values, hash the code a provider runs, and name the inputs that changed.

The engine carries every number as a float64 (a protobuf Struct): a dynamic provider receives the `3` its
program declared as `3.0`, in `check`, `diff`, `create`, `update`, `read` and `delete` alike, and gets the
stored state back the same way. Pulumi's mocks keep ints, so only the real engine shows it. Every provider
passes its properties through `with_ints` on entry, naming its integer properties once.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import ModuleType
from typing import Any


def known_failures(props: Mapping[str, Any], failures: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """`failures` without those of properties whose value is not known yet.

    During a `preview` of a fresh stack the engine sends an input computed from another resource (a generated
    password, a container's output) as Pulumi's "unknown" placeholder: it is checked again once known, at `up`.
    Mocks never send one, so only the real engine shows it."""
    from pulumi.runtime.rpc import UNKNOWN

    return [(prop, reason) for prop, reason in failures if props.get(prop) != UNKNOWN]


def integral(value: Any) -> Any:
    """`3.0` -> `3`; anything else (3.5, "3", None, True) unchanged, so validation still sees it."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def with_ints(props: Mapping[str, Any] | None, names: Iterable[str]) -> dict[str, Any]:
    """A copy of `props` with each property in `names` turned back into an int where the engine made it a float."""
    out = dict(props or {})
    for name in names:
        if name in out:
            out[name] = integral(out[name])
    return out


def code_hash(*sources: ModuleType | Path) -> str:
    """SHA-256 of the files a provider runs (its module and the lakehouse modules it calls, given as modules or
    paths; this module always counts too). Providers carry it as the input `provider_hash`: without it the
    engine would keep running the code pickled into the state after the code was edited."""
    digest = hashlib.sha256()
    for source in (*sources, Path(__file__)):
        path = Path(source.__file__ or "") if isinstance(source, ModuleType) else source
        digest.update(path.read_bytes())
    return digest.hexdigest()


def changed_inputs(olds: Mapping[str, Any], news: Mapping[str, Any], props: Iterable[str]) -> list[str]:
    """The properties of `props` whose stored value differs from the program's (outputs are not compared)."""
    return [k for k in props if olds.get(k) != news.get(k)]
