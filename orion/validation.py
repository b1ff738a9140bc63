"""Checks on what a client submits; each error names the field, what was wrong and what is allowed."""

from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from typing import Any

from contract.units import memory_bytes
from orion.settings import OrionSettings

MAX_ARGS = 256
MAX_ARG_LEN = 4096
MAX_CONF = 128
_JOB_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,99}$")
_CONF_KEY = re.compile(r"^spark\.[A-Za-z0-9_.\-]{1,200}$")
# Orion decides these: every job goes to ORION_SPARK_MASTER_URL in client mode with ORION_JOBS_DIR's packages.
_FIXED_CONF = {"spark.master", "spark.submit.deployMode", "spark.submit.pyFiles"}


class InvalidRequest(Exception):
    def __init__(self, detail: str, status_code: int = 422) -> None:
        super().__init__(detail)
        self.detail = detail
        self.status_code = status_code


def _json_field(field: str, raw: str | None, send: str, empty: Any) -> Any:
    """The form field's JSON value (`empty` when the field is empty)."""
    if raw is None or raw.strip() == "":
        return empty
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"{field} is not valid JSON ({exc}); send {send}") from None


def parse_args(raw: str | None) -> list[str]:
    value = _json_field("args", raw, 'a JSON array of strings, e.g. ["--x", "1"]', [])
    if not isinstance(value, list) or not all(isinstance(a, str) for a in value):
        raise InvalidRequest('args must be a JSON array of strings, e.g. ["--rows", "100"]')
    if len(value) > MAX_ARGS:
        raise InvalidRequest(f"args has {len(value)} items; at most {MAX_ARGS} are allowed")
    if any(len(a) > MAX_ARG_LEN or "\0" in a for a in value):
        raise InvalidRequest(f"each arg must be at most {MAX_ARG_LEN} characters without NUL bytes")
    return value


def _conf_value(key: str, value: object) -> str:
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, int | float | str):
        text = str(value)
        if len(text) > MAX_ARG_LEN or any(c in text for c in "\0\r\n"):
            raise InvalidRequest(f"conf {key!r}: at most {MAX_ARG_LEN} characters on one line")
        return text
    raise InvalidRequest(f"conf {key!r}: the value must be a string, number or boolean, not {type(value).__name__}")


# Memory properties: (default unit when the value has none, the setting that bounds it).
_MIB, _BYTES = 1024 * 1024, 1
_MEMORY_CONF: dict[str, tuple[int, str]] = {
    "spark.driver.memory": (_MIB, "max_driver_memory"),
    "spark.driver.maxResultSize": (_BYTES, "max_driver_memory"),
    "spark.executor.memory": (_MIB, "max_executor_memory"),
    "spark.executor.pyspark.memory": (_MIB, "max_executor_memory"),
    "spark.python.worker.memory": (_MIB, "max_executor_memory"),
    "spark.memory.offHeap.size": (_BYTES, "max_executor_memory"),
    "spark.driver.memoryOverhead": (_MIB, "max_memory_overhead"),
    "spark.executor.memoryOverhead": (_MIB, "max_memory_overhead"),
}
# Core and executor counts: the smallest allowed value; the largest is ORION_CORES_MAX.
_COUNT_CONF = dict.fromkeys(
    ("spark.cores.max", "spark.executor.cores", "spark.driver.cores", "spark.task.cpus", "spark.executor.instances",
     "spark.dynamicAllocation.maxExecutors"), 1,
) | dict.fromkeys(("spark.dynamicAllocation.minExecutors", "spark.dynamicAllocation.initialExecutors"), 0)  # fmt: skip
_FACTOR_CONF = {"spark.driver.memoryOverheadFactor", "spark.executor.memoryOverheadFactor"}
# They choose which program runs (spark-submit would exec it): never from a client.
_EXECUTABLE_CONF = {
    "spark.pyspark.python", "spark.pyspark.driver.python", "spark.r.command", "spark.r.driver.command",
    "spark.executorEnv.PYSPARK_PYTHON", "spark.executorEnv.PYSPARK_DRIVER_PYTHON",
}  # fmt: skip
# HotSpot runs these options' values through /bin/sh -c.
_SHELL_JVM_OPTIONS = re.compile(r"(?i)-XX:\+?(OnOutOfMemoryError|OnError)\b")


def _bound(key: str, value: str, limits: OrionSettings) -> None:
    """Within the settings' limits (ORION_CORES_MAX, ORION_MAX_*)."""
    if key in _MEMORY_CONF:
        unit, setting = _MEMORY_CONF[key]
        limit = getattr(limits, setting)
        size = memory_bytes(value, spark=True, default_unit=unit)
        if size is None or size <= 0 or size > memory_bytes(limit):  # type: ignore[operator]
            raise InvalidRequest(
                f"conf {key}={value!r}: must be a size from 1 byte to {limit} (ORION_{setting.upper()}), e.g. 512m"
            )
    elif key in _COUNT_CONF:
        low = _COUNT_CONF[key]
        if not value.strip().isdigit() or not low <= int(value) <= limits.cores_max:
            raise InvalidRequest(
                f"conf {key}={value!r}: must be an integer from {low} to {limits.cores_max} (ORION_CORES_MAX)"
            )
    elif key in _FACTOR_CONF:
        try:
            factor = float(value)
        except ValueError:
            factor = -1.0
        if not 0 < factor <= 1:
            raise InvalidRequest(f"conf {key}={value!r}: must be a number above 0 and at most 1")


def parse_conf(raw: str | None, limits: OrionSettings) -> dict[str, str]:
    value = _json_field("conf", raw, 'a JSON object, e.g. {"spark.executor.memory": "512m"}', {})
    if not isinstance(value, dict):
        raise InvalidRequest('conf must be a JSON object of Spark properties, e.g. {"spark.executor.memory": "512m"}')
    if len(value) > MAX_CONF:
        raise InvalidRequest(f"conf has {len(value)} properties; at most {MAX_CONF} are allowed")
    conf: dict[str, str] = {}
    for key, v in value.items():
        if not _CONF_KEY.match(key):
            raise InvalidRequest(
                f"conf key {key!r} is not a Spark property: keys look like spark.<name> (letters, digits, . _ -)"
            )
        if key in _FIXED_CONF:
            raise InvalidRequest(
                f"conf key {key!r} is set by Orion (ORION_SPARK_MASTER_URL, client mode, the packages of "
                "ORION_JOBS_DIR); leave it out"
            )
        if key in _EXECUTABLE_CONF:
            raise InvalidRequest(f"conf key {key!r} chooses the program Spark runs; Orion does not take it")
        text = _conf_value(key, v)
        if _SHELL_JVM_OPTIONS.search(text):
            raise InvalidRequest(
                f"conf {key}: -XX:OnOutOfMemoryError / -XX:OnError run a shell command; leave them out"
            )
        _bound(key, text, limits)
        conf[key] = text
    return conf


def shipped_jobs(jobs_dir: Path | None) -> list[Path]:
    if jobs_dir is None:
        return []
    return sorted(p for p in jobs_dir.glob("*.py") if _JOB_NAME.match(p.stem) and not p.stem.startswith("_"))


def shipped_job_path(jobs_dir: Path | None, name: str) -> Path:
    if jobs_dir is None:
        raise InvalidRequest(
            f"unknown job {name!r}: no shipped jobs (ORION_JOBS_DIR is not set); upload a file instead"
        )
    available = {p.stem: p for p in shipped_jobs(jobs_dir)}
    if name not in available:
        names = ", ".join(sorted(available)) or "none"
        raise InvalidRequest(f"unknown job {name!r}: shipped jobs are {names}")
    return available[name]


def upload_name(filename: str | None) -> str:
    """A safe file name for an upload (basename, restricted characters, must end in .py)."""
    base = Path((filename or "").replace("\\", "/")).name
    if not base.endswith(".py") or base == ".py":
        raise InvalidRequest(f"file {base!r} is not a Python file: only .py uploads are accepted")
    stem = re.sub(r"[^A-Za-z0-9_]", "_", base[:-3])[:100]
    return f"{stem}.py"


def check_upload(name: str, data: bytes, max_bytes: int) -> None:
    if len(data) > max_bytes:
        raise InvalidRequest(
            f"file {name!r} is larger than the upload limit of {max_bytes} bytes (ORION_UPLOAD_MAX_BYTES)", 413
        )
    if not data.strip():
        raise InvalidRequest(f"file {name!r} is empty")
    try:
        ast.parse(data.decode("utf-8"), filename=name)
    except UnicodeDecodeError:
        raise InvalidRequest(f"file {name!r} is not UTF-8 text; upload a Python source file") from None
    except SyntaxError as exc:
        raise InvalidRequest(f"file {name!r} is not valid Python: line {exc.lineno}: {exc.msg}") from None


def describe(path: Path) -> str:
    """First line of a job file's docstring (for the UI's list of shipped jobs)."""
    try:
        doc = ast.get_docstring(ast.parse(path.read_text(encoding="utf-8"))) or ""
    except (OSError, SyntaxError, ValueError):
        return ""
    return doc.strip().splitlines()[0] if doc.strip() else ""
