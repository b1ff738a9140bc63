"""What the Pulumi engine does to a dynamic provider's property values, undone in one place.

The engine carries every number as a float64 (a protobuf Struct): a dynamic provider receives the `3` its
program declared as `3.0`, in `check`, `diff`, `create`, `update`, `read` and `delete` alike, and gets the
stored state back the same way. Pulumi's mocks keep ints, so only the real engine shows it. Every provider
passes its properties through `with_ints` on entry, naming its integer properties once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
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
