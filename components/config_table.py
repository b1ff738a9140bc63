"""Print the Markdown table of every `lakehouse:*` config key (README material).

Run `python -m components.config_table`. It reads only `lakehouse.settings` (the same metadata
Pulumi.yaml is checked against), so the table and the program cannot disagree.
"""

from __future__ import annotations

import dataclasses

from lakehouse.settings import NAMESPACE, SECRET_KEYS, Settings


def config_value(value: object) -> str:
    """A default as `pulumi config` spells it (booleans are true/false)."""
    return str(value).lower() if isinstance(value, bool) else str(value)


def config_rows() -> list[tuple[str, str, str]]:
    """(key, default, description) for each setting, then each secret key (default: generated)."""
    rows = [
        (f"{NAMESPACE}:{key}", config_value(f.default), f.metadata["doc"])
        for key, f in Settings.config_keys().items()
        if f.default is not dataclasses.MISSING
    ]
    rows += [
        (f"{NAMESPACE}:{key}", "generated (secret)", f"{doc} Set with `pulumi config set --secret`.")
        for key, doc in SECRET_KEYS.items()
    ]
    return rows


def markdown_table() -> str:
    lines = ["| Key | Default | Description |", "| --- | --- | --- |"]
    lines += [f"| `{key}` | `{default}` | {doc} |" for key, default, doc in config_rows()]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
