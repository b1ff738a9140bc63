"""Where the test bed keeps its run state (.testbed/ in the clone) and its artifacts (a cache outside it)."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

CACHE_ENV = "LAKEHOUSE_CACHE"
"""Overrides the artifact cache (default ~/.cache/lakehouse-testbed); CI and fresh clones share it."""
DIR_ENV = "LAKEHOUSE_TESTBED_DIR"
"""Overrides the run directory (default <clone>/.testbed)."""


def testbed_dir() -> Path:
    return Path(os.environ.get(DIR_ENV) or REPO / ".testbed").resolve()


def cache_dir() -> Path:
    raw = os.environ.get(CACHE_ENV) or str(Path.home() / ".cache" / "lakehouse-testbed")
    return Path(raw).expanduser().resolve()


def logs_dir(run_dir: Path | None = None) -> Path:
    return (run_dir or testbed_dir()) / "logs"


def endpoints_file(run_dir: Path | None = None) -> Path:
    return (run_dir or testbed_dir()) / "endpoints.json"


def state_file(run_dir: Path | None = None) -> Path:
    return (run_dir or testbed_dir()) / "state.json"


def write_private(path: Path, text: str) -> Path:
    """Write a file that holds secrets: mode 600 from its creation on, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    tmp.replace(path)
    return path
