"""Pulumi.yaml's config block and the README's table are what lakehouse/config_docs.py generates from Settings;
what it generates is what Pulumi needs; Pulumi.dev.yaml is valid."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import yaml

from lakehouse.config_docs import PULUMI_YAML, config_rows, markdown_table, pulumi_yaml
from lakehouse.settings import NAMESPACE, SECRET_KEYS, Settings

ROOT = Path(__file__).resolve().parents[2]


def project() -> dict:
    return yaml.safe_load((ROOT / "Pulumi.yaml").read_text())


def declared() -> dict[str, dict]:
    """Config declarations by key, namespace prefix removed."""
    return {key.removeprefix(f"{NAMESPACE}:"): spec for key, spec in project()["config"].items()}


def test_project_name_and_python_runtime_with_the_virtualenv() -> None:
    p = project()
    assert p["name"] == "lakehouse"
    assert p["runtime"]["name"] == "python"
    assert p["runtime"]["options"]["virtualenv"] == ".venv"


def test_pulumi_yaml_is_the_generated_one() -> None:
    assert PULUMI_YAML.read_text() == pulumi_yaml(PULUMI_YAML.read_text()), (
        "Pulumi.yaml's config block is stale: run `python -m lakehouse.config_docs --pulumi-yaml`"
    )


def test_every_setting_is_declared_with_its_type_default_and_description() -> None:
    decl = declared()
    for key, f in Settings.config_keys().items():
        assert key in decl, f"{key} is not declared in Pulumi.yaml"
        spec = decl[key]
        yaml_type = {"int": "integer", "bool": "boolean"}.get(getattr(f.type, "__name__", f.type), "string")
        assert spec["type"] == yaml_type, key
        assert spec["default"] == f.default, f"{key}: Pulumi.yaml default {spec['default']!r} != {f.default!r}"
        assert spec["description"] == f.metadata["doc"], key
        assert "secret" not in spec, key


def test_every_secret_key_is_declared_secret_and_may_stay_unset() -> None:
    decl = declared()
    for key, doc in SECRET_KEYS.items():
        spec = decl[key]
        assert spec["secret"] is True, key
        assert doc in spec["description"], key
        # An empty default keeps the key optional (Pulumi requires keys without a default); untyped so Pulumi
        # does not demand that the empty default be encrypted.
        assert spec["default"] == "", key
        assert "type" not in spec, key


def test_no_other_keys_are_declared() -> None:
    assert set(declared()) == set(Settings.config_keys()) | set(SECRET_KEYS)


def test_dev_stack_config_is_valid() -> None:
    dev = yaml.safe_load((ROOT / "Pulumi.dev.yaml").read_text())
    values = {k.removeprefix(f"{NAMESPACE}:"): str(v) for k, v in (dev.get("config") or {}).items()}
    assert all(k in Settings.config_keys() for k in values), values
    assert Settings.from_config(values).bind_address == "127.0.0.1"
    # `pulumi stack init` adds an encryptionsalt to this file; nothing else may be there.
    assert set(dev) <= {"config", "encryptionsalt", "secretsprovider"}


def test_config_table_lists_every_key_with_its_default() -> None:
    rows = {key: default for key, default, _doc in config_rows()}
    for key, f in Settings.config_keys().items():
        if f.default is not dataclasses.MISSING:
            expected = str(f.default).lower() if isinstance(f.default, bool) else str(f.default)
            assert rows[f"{NAMESPACE}:{key}"] == expected
    for key in SECRET_KEYS:
        assert rows[f"{NAMESPACE}:{key}"] == "generated (secret)"
    table = markdown_table()
    assert table.startswith("| Key | Default | Description |")
    assert table.count("\n") == len(rows) + 2


def test_the_readme_shows_the_generated_config_table() -> None:
    # A changed default or description reaches the README only through `python -m lakehouse.config_docs`.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    assert markdown_table() in readme, "README's configuration table is stale: paste `python -m lakehouse.config_docs`"
