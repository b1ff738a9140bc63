"""Java .properties rendering shared by the Kafka, Spark and Trino generators."""

from __future__ import annotations

from collections.abc import Mapping


def render_properties(props: Mapping[str, object], header: str = "") -> str:
    """key=value lines in the given order, with an optional comment header; values are str()-ed."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()] if header else []
    for key, value in props.items():
        if "\n" in str(value):
            raise ValueError(f"property {key!r} has a newline in its value: {value!r}")
        lines.append(f"{key}={value}")
    return "\n".join(lines) + "\n"


def parse_properties(text: str) -> dict[str, str]:
    """The inverse of render_properties for the simple files we write (no continuations)."""
    out: dict[str, str] = {}
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", "!")):
            continue
        key, _, value = line.partition("=")
        out[key.strip()] = value.strip()
    return out
