"""Which checkpoint a submission will write: two drivers on one checkpoint (and one Delta table) lose data.

A job that supports it says so itself (contract 3 of the team brief): `python <job.py> <args> --describe`
prints one JSON object with "checkpoint_uri" and exits 0 without starting Spark. Orion runs that without a
shell, with a timeout, a cap on its output and the job's environment minus every secret-looking variable and
Spark's conf dir (a job that ignores the flag reaches neither the buckets nor the cluster). Otherwise the
checkpoint comes from a `--checkpoint-uri` argument, then the conf, or is unknown (None: not guarded).

Orion asks only jobs that can answer: the entry file, or a package of ORION_JOBS_DIR it imports, must contain
the literal `--describe`. Running any other job with an extra flag could run its whole body at submission.
"""

from __future__ import annotations

import ast
import json
import os
import posixpath
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from orion.codehash import package_dirs
from orion.launcher import send_signal
from orion.scrub import is_secret_name
from orion.settings import OrionSettings

DESCRIBE_FLAG = "--describe"
CHECKPOINT_FLAG = "--checkpoint-uri"
CHECKPOINT_CONF = "spark.sql.streaming.checkpointLocation"
# Never handed to a describe run: it would let a job that ignores --describe reach the cluster.
_DESCRIBE_DROP = {"SPARK_CONF_DIR", "PYSPARK_SUBMIT_ARGS"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://(.*)$", re.DOTALL)


def normalize(uri: str | None) -> str | None:
    """One spelling per location: s3a:// and s3n:// become s3://, the scheme lower case, no duplicate or
    trailing slash, file:// URIs and local paths as a normalized absolute path. None for nothing."""
    text = (uri or "").strip()
    if not text:
        return None
    m = _SCHEME.match(text)
    if m is None:
        if text.startswith("file:"):
            text = text[len("file:") :]
        return posixpath.normpath(text) if text.startswith("/") else text.rstrip("/") or text
    scheme, rest = m.group(1).lower(), m.group(2)
    scheme = "s3" if scheme in {"s3a", "s3n"} else scheme
    if scheme == "file":
        return posixpath.normpath("/" + rest.lstrip("/"))
    rest = re.sub(r"/{2,}", "/", rest).rstrip("/")
    return f"{scheme}://{rest}"


def from_args_or_conf(args: list[str], conf: Mapping[str, str]) -> str | None:
    """The fallback: `--checkpoint-uri X`, `--checkpoint-uri=X` (the last one wins, as with argparse), then conf."""
    found: str | None = None
    for i, arg in enumerate(args):
        if arg == CHECKPOINT_FLAG and i + 1 < len(args):
            found = args[i + 1]
        elif arg.startswith(CHECKPOINT_FLAG + "="):
            found = arg.split("=", 1)[1]
    return normalize(found if found is not None else conf.get(CHECKPOINT_CONF))


def _imported_top_names(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module.split(".")[0])
    return names


def supports_describe(entry: Path, jobs_dir: Path | None) -> bool:
    """True when the entry, or a package of `jobs_dir` it imports, mentions the --describe flag."""
    try:
        source = entry.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=str(entry))
    except (OSError, SyntaxError, ValueError):
        return False
    if DESCRIBE_FLAG in source:
        return True
    imported = _imported_top_names(tree)
    for path in [p for pkg in package_dirs(jobs_dir) if pkg.name in imported for p in sorted(pkg.rglob("*.py"))]:
        try:
            if DESCRIBE_FLAG in path.read_text(encoding="utf-8", errors="replace"):
                return True
        except OSError:
            continue
    return False


@dataclass(frozen=True)
class Described:
    checkpoint: str | None  # normalized; None when unknown
    how: str  # for the job's log: where it came from (describe, argument, conf, unknown), why not from describe


def describe_env(environ: Mapping[str, str], python_path: list[str]) -> dict[str, str]:
    env = {
        k: v
        for k, v in environ.items()
        if not k.upper().startswith("ORION_") and not is_secret_name(k) and k not in _DESCRIBE_DROP
    }
    python_path = os.pathsep.join([*python_path, *filter(None, [environ.get("PYTHONPATH")])])
    # PYTHONDONTWRITEBYTECODE: never leave __pycache__ in the jobs dir (it would not change the hash).
    return env | {"PYTHONPATH": python_path, "PYTHONUNBUFFERED": "1", "PYTHONDONTWRITEBYTECODE": "1"}


def run_describe(
    python: str, entry: Path, args: list[str], env: Mapping[str, str], *, cwd: Path, timeout: float, max_bytes: int
) -> tuple[dict[str, object] | None, str]:
    """Run `python entry args --describe`: (the JSON object, "") or (None, why not)."""
    argv = [python, str(entry), *args, DESCRIBE_FLAG]
    try:
        proc = subprocess.Popen(
            argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
            env=dict(env), cwd=str(cwd), start_new_session=True, close_fds=True,
        )  # fmt: skip
    except OSError as exc:
        return None, f"could not start {python}: {exc}"
    out = bytearray()

    def read() -> None:
        assert proc.stdout is not None
        while len(out) <= max_bytes and (chunk := proc.stdout.read1(65536)):
            out.extend(chunk)
        if len(out) > max_bytes:
            send_signal(-proc.pid, signal.SIGKILL)
        proc.stdout.close()

    reader = threading.Thread(target=read, name=f"orion-describe-{proc.pid}", daemon=True)
    reader.start()
    deadline = time.monotonic() + timeout
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        send_signal(-proc.pid, signal.SIGKILL)
        proc.wait(10)
        reader.join(5)
        return None, f"--describe did not answer within {timeout:g} s (ORION_DESCRIBE_TIMEOUT_SECONDS)"
    # A grandchild may still hold the pipe: end the group, then the reader sees EOF.
    send_signal(-proc.pid, signal.SIGKILL)
    reader.join(max(deadline - time.monotonic(), 1.0))
    if len(out) > max_bytes:
        return None, f"--describe printed more than {max_bytes} bytes"
    if rc != 0:
        return None, f"--describe exited with code {rc}"
    return _parse(bytes(out))


def _parse(out: bytes) -> tuple[dict[str, object] | None, str]:
    text = out.decode("utf-8", errors="replace").strip()
    for candidate in [text, *reversed([line.strip() for line in text.splitlines() if line.strip().startswith("{")])]:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value, ""
    return None, "--describe printed no JSON object"


def for_submission(
    settings: OrionSettings, entry: Path, args: list[str], conf: Mapping[str, str], environ: Mapping[str, str]
) -> Described:
    """The checkpoint of a submission: --describe (with the environment its driver would get) if the job
    supports it, else the fallbacks."""
    scratch = settings.data_dir / "describe"
    scratch.mkdir(parents=True, exist_ok=True)
    why = "the job does not support --describe"
    if supports_describe(entry, settings.jobs_dir):
        python = environ.get("PYSPARK_DRIVER_PYTHON") or environ.get("PYSPARK_PYTHON") or sys.executable
        env = describe_env(environ, list(dict.fromkeys(str(p.parent) for p in package_dirs(settings.jobs_dir))))
        data, why = run_describe(
            python, entry, args, env, cwd=scratch, timeout=settings.describe_timeout_seconds,
            max_bytes=settings.describe_max_bytes,
        )  # fmt: skip
        if data is not None:
            value = data.get("checkpoint_uri")
            if isinstance(value, str) and value.strip():
                return Described(normalize(value), "from --describe")
            why = "--describe gave no checkpoint_uri"
    fallback = from_args_or_conf(args, conf)
    if fallback is not None:
        source = "argument" if any(a.startswith(CHECKPOINT_FLAG) for a in args) else f"conf {CHECKPOINT_CONF}"
        return Described(fallback, f"from the {source} ({why})")
    return Described(None, f"unknown ({why}; no {CHECKPOINT_FLAG} argument, no {CHECKPOINT_CONF} conf)")
