"""The dashboards as code: superset_assets/ rendered into an import bundle for Superset 6.1.0.

superset_assets/ holds YAML in Superset's export format with stable uuids, so a re-import updates the same
objects. Unlike an export, values name the deployment with placeholders (`${trino_uri}`, `${catalog}`,
`${schema}`, `${events_table}`, `${rejected_table}`), and a chart's `query_context` may be a YAML mapping (the
bundle carries the JSON string Superset expects). The bundle, a zip of `type: assets` for /api/v1/assets/import/,
is byte-identical for the same inputs; a password in the Trino URI is masked in it and returned apart, as the
import API's `passwords` map. `instance` makes an independent copy on the same Superset (the tests' beside the
stack's): uuids become uuid5(uuid, instance) and names get the instance as a suffix.
"""

from __future__ import annotations

import copy
import hashlib
import io
import json
import re
import uuid as uuidlib
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from contract.names import DEFAULT_TABLE, rejected_table_name

REPO = Path(__file__).resolve().parent.parent
ASSETS_DIR = REPO / "superset_assets"
ROOT_FOLDER = "lakehouse_dashboards"
FORMAT_VERSION = "1.0.0"
# Fixed, so the zip is identical for identical inputs (Superset only checks that it parses).
TIMESTAMP = "2026-01-01T00:00:00+00:00"
_ZIP_DATE = (2026, 1, 1, 0, 0, 0)
KIND_DIRS = {"databases": "database", "datasets": "dataset", "charts": "chart", "dashboards": "dashboard"}
PLACEHOLDER = re.compile(r"\$\{([a-z_]+)\}")
IDENT = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
INSTANCE = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_IDENTIFIERS = ("catalog", "schema", "events_table", "rejected_table")
MASK = "XXXXXXXXXX"  # what Superset's own export writes in place of a password


class BundleError(ValueError):
    """superset_assets/ (or a parameter) is not a valid bundle; the message names the file and the problem."""


@dataclass(frozen=True)
class BundleParams:
    trino_uri: str  # SQLAlchemy URI of Trino as Superset reaches it, e.g. trino://superset@trino:8080/delta
    catalog: str = "delta"
    schema: str = "lakehouse"
    events_table: str = DEFAULT_TABLE
    rejected_table: str = rejected_table_name(DEFAULT_TABLE)
    instance: str = ""  # empty for the stack's own copy, else the suffix of an independent copy (tests)

    def __post_init__(self) -> None:
        if not self.trino_uri.startswith("trino://"):
            raise BundleError(f"trino_uri {self.trino_uri!r} must be a trino:// SQLAlchemy URI")
        for name in _IDENTIFIERS:
            value = getattr(self, name)
            if not IDENT.match(value):
                raise BundleError(f"{name} = {value!r} must be a lower-case SQL identifier (a-z, 0-9, '_')")
        if self.instance and not INSTANCE.match(self.instance):
            raise BundleError(f"instance = {self.instance!r} must be 1-32 characters of a-z, 0-9, '-'")

    def values(self) -> dict[str, str]:
        return {"trino_uri": masked_uri(self.trino_uri)[0], **{name: getattr(self, name) for name in _IDENTIFIERS}}


@dataclass(frozen=True)
class Bundle:
    data: bytes  # the zip
    files: dict[str, dict[str, Any]]  # rendered configs by path inside the root folder ('charts/x.yaml')
    passwords: dict[str, str]  # the import API's `passwords` map (database file -> password), maybe empty

    def uuids(self) -> dict[str, list[str]]:
        return uuids_by_kind(self.files)

    def dashboards(self) -> list[dict[str, str]]:
        """uuid, slug and title of each dashboard, in file order."""
        return [
            {"uuid": c["uuid"], "slug": c.get("slug") or "", "title": c["dashboard_title"]}
            for path, c in sorted(self.files.items())
            if kind_of(path) == "dashboard"
        ]


def source_files(assets_dir: Path = ASSETS_DIR) -> list[Path]:
    files = sorted(p for p in assets_dir.rglob("*.yaml") if p.is_file())
    if not files:
        raise BundleError(f"{assets_dir} holds no *.yaml file")
    return files


def assets_hash(assets_dir: Path = ASSETS_DIR) -> str:
    """SHA-256 over every asset file (path and content) and this builder's code: an edit of either changes it."""
    digest = hashlib.sha256()
    for path in source_files(assets_dir):
        digest.update(path.relative_to(assets_dir).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    digest.update(Path(__file__).read_bytes())
    return digest.hexdigest()


def kind_of(path: str) -> str | None:
    return KIND_DIRS.get(path.split("/", 1)[0])


def masked_uri(uri: str) -> tuple[str, str | None]:
    """(the URI with its password replaced by Superset's mask, the password or None)."""
    parts = urlsplit(uri)
    if parts.password is None:
        return uri, None
    netloc = f"{parts.username or ''}:{MASK}@{parts.hostname}" + (f":{parts.port}" if parts.port else "")
    return urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment)), parts.password


def load_sources(assets_dir: Path = ASSETS_DIR) -> dict[str, dict[str, Any]]:
    """Every asset file parsed (placeholders still in), by path relative to `assets_dir`."""
    import yaml

    out: dict[str, dict[str, Any]] = {}
    for path in source_files(assets_dir):
        rel = path.relative_to(assets_dir).as_posix()
        if kind_of(rel) is None:
            raise BundleError(f"{rel}: asset files live under {sorted(KIND_DIRS)}/")
        try:
            doc = yaml.safe_load(path.read_text())
        except yaml.YAMLError as exc:
            raise BundleError(f"{rel} is not valid YAML: {exc}") from exc
        if not isinstance(doc, dict) or "uuid" not in doc:
            raise BundleError(f"{rel} must be a mapping with a uuid")
        out[rel] = doc
    return out


def _walk(value: Any, fn) -> Any:
    """`value` with `fn` applied to every string, keys included."""
    if isinstance(value, str):
        return fn(value)
    if isinstance(value, dict):
        return {_walk(k, fn): _walk(v, fn) for k, v in value.items()}
    if isinstance(value, list):
        return [_walk(v, fn) for v in value]
    return value


def _fill(text: str, values: Mapping[str, str], where: str) -> str:
    def one(m: re.Match[str]) -> str:
        if m.group(1) not in values:
            raise BundleError(f"{where}: unknown placeholder ${{{m.group(1)}}} (known: {sorted(values)})")
        return values[m.group(1)]

    return PLACEHOLDER.sub(one, text)


def render(sources: Mapping[str, dict[str, Any]], params: BundleParams) -> dict[str, dict[str, Any]]:
    """The configs as they go into the bundle: placeholders filled, query_context as JSON, instance applied."""
    values = params.values()
    rendered = {
        rel: _walk(copy.deepcopy(doc), lambda s, rel=rel: _fill(s, values, rel)) for rel, doc in sources.items()
    }
    if params.instance:
        rendered = _apply_instance(rendered, params.instance)
    for rel, doc in rendered.items():
        if kind_of(rel) == "chart" and isinstance(doc.get("query_context"), dict):
            # The query context's form_data is the chart's params (Superset's own export carries both).
            context = {**doc["query_context"], "form_data": doc["query_context"].get("form_data") or doc["params"]}
            doc["query_context"] = json.dumps(context, sort_keys=True)
    return rendered


def _apply_instance(files: dict[str, dict[str, Any]], instance: str) -> dict[str, dict[str, Any]]:
    known = {str(doc["uuid"]) for doc in files.values()}
    mapping = {u: str(uuidlib.uuid5(uuidlib.UUID(u), instance)) for u in known}
    pattern = re.compile("|".join(re.escape(u) for u in sorted(known)))
    out = {}
    for rel, doc in files.items():
        doc = _walk(doc, lambda s: pattern.sub(lambda m: mapping[m.group(0)], s))
        kind = kind_of(rel)
        if kind == "database":
            doc["database_name"] = f"{doc['database_name']} ({instance})"
        elif kind == "dataset" and doc.get("sql"):
            # Superset's SQLite metadata keeps dataset names unique across schemas and databases: a virtual
            # dataset's name is only a label, so the copy gets its own. (A physical one is its table's name:
            # a copy on the same Superset needs tables of other names.)
            doc["table_name"] = f"{doc['table_name']}_{instance.replace('-', '_')}"
        elif kind == "dashboard":
            doc["dashboard_title"] = f"{doc['dashboard_title']} ({instance})"
            if doc.get("slug"):
                doc["slug"] = f"{doc['slug']}-{instance}"
        out[rel] = doc
    return out


def uuids_by_kind(files: Mapping[str, dict[str, Any]]) -> dict[str, list[str]]:
    """kind -> sorted uuids ('database', 'dataset', 'chart', 'dashboard')."""
    out: dict[str, list[str]] = {k: [] for k in KIND_DIRS.values()}
    for rel, doc in files.items():
        out[kind_of(rel)].append(str(doc["uuid"]))
    return {k: sorted(v) for k, v in out.items()}


def problems(files: Mapping[str, dict[str, Any]]) -> list[str]:
    """Every broken reference or duplicate in rendered configs; an empty list for a good bundle."""
    by_kind = uuids_by_kind(files)
    all_uuids = [u for us in by_kind.values() for u in us]
    found = [
        f"uuid {dup} is used by more than one file" for dup in sorted({u for u in all_uuids if all_uuids.count(u) > 1})
    ]
    databases, datasets, charts = set(by_kind["database"]), set(by_kind["dataset"]), set(by_kind["chart"])
    for rel, doc in sorted(files.items()):
        kind = kind_of(rel)
        if kind == "dataset" and str(doc.get("database_uuid")) not in databases:
            found.append(f"{rel}: database_uuid {doc.get('database_uuid')} is no database of the bundle")
        if kind == "chart":
            if str(doc.get("dataset_uuid")) not in datasets:
                found.append(f"{rel}: dataset_uuid {doc.get('dataset_uuid')} is no dataset of the bundle")
            if not doc.get("query_context"):
                found.append(f"{rel}: no query_context (GET /api/v1/chart/<id>/data/ would answer 400)")
        if kind == "dashboard":
            linked = set(chart_uuids_in_layout(doc))
            for missing in sorted(linked - charts):
                found.append(f"{rel}: the layout references chart {missing}, which is not in the bundle")
            if not linked:
                found.append(f"{rel}: the layout shows no chart")
    return found


def chart_uuids_in_layout(dashboard: Mapping[str, Any]) -> list[str]:
    """The chart uuids of a dashboard's CHART-* layout entries (Superset links a chart only through these)."""
    out = []
    for key, node in (dashboard.get("position") or {}).items():
        if isinstance(node, dict) and node.get("type") == "CHART":
            out.append(str((node.get("meta") or {}).get("uuid")))
        elif str(key).startswith("CHART-"):
            out.append("None")
    return out


def _dump(doc: Mapping[str, Any]) -> bytes:
    import yaml

    return yaml.safe_dump(dict(doc), sort_keys=True, allow_unicode=True, width=1_000_000).encode()


def build(params: BundleParams, assets_dir: Path = ASSETS_DIR) -> Bundle:
    """Render superset_assets/ for `params`, check it, and zip it under one root folder."""
    files = render(load_sources(assets_dir), params)
    found = problems(files)
    if found:
        raise BundleError(f"{assets_dir} is not a valid bundle: " + "; ".join(found))
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        metadata = {"version": FORMAT_VERSION, "type": "assets", "timestamp": TIMESTAMP}
        for rel, doc in [("metadata.yaml", metadata), *sorted(files.items())]:
            info = zipfile.ZipInfo(f"{ROOT_FOLDER}/{rel}", date_time=_ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, _dump(doc))
    password = masked_uri(params.trino_uri)[1]
    passwords = {rel: password for rel in files if kind_of(rel) == "database"} if password else {}
    return Bundle(buf.getvalue(), files, passwords)
