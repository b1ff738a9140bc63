"""The code a job ships: its entry file plus every Python package of the jobs directory.

Standard library only: the stack's StreamingJob provider imports it on the host to compute the `code_hash`
Orion reports on a job, and the Spark image runs it at build time to make the zip Orion ships (`--py-files`):

    python orion/codehash.py zip <jobs dir> <out.zip>      # the packages, as one deterministic zip
    python orion/codehash.py hash <jobs dir> <entry.py>    # the job's code hash (sha256 hex)

A package is a directory directly under the jobs directory holding an `__init__.py`, or one of SHARED_PACKAGES
beside it. All its regular files count but caches, hidden files and editor leftovers (those .dockerignore keeps
out of the image, so checkout and image hash alike) and symbolic links (a zip holds none). The zip is the same
bytes for the same files: sorted entries, fixed time stamps and modes, stored uncompressed (deflate output may
differ between zlib builds; the packages are small).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import re
import sys
import zipfile
from collections.abc import Iterable
from pathlib import Path

# The zip's name in a job's run directory and in the Spark image, where images/spark/Dockerfile builds it beside
# the entry files, so `spark-submit --py-files /opt/lakehouse/jobs/packages.zip .../<job>.py` works by hand.
ZIP_NAME = "packages.zip"
_PACKAGE_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
SHARED_PACKAGES = ("contract",)  # imported by the jobs' own, kept beside the jobs directory (repository and image)
_SKIP_DIRS = {"__pycache__"}
_SKIP_SUFFIXES = (".pyc", ".pyo", "~", ".swp")
_ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip can hold


def _is_package(p: Path) -> bool:
    return p.is_dir() and not p.is_symlink() and bool(_PACKAGE_NAME.match(p.name)) and (p / "__init__.py").is_file()


def package_dirs(jobs_dir: Path | None) -> list[Path]:
    """The package directories directly under `jobs_dir`, then the SHARED_PACKAGES beside it, sorted by name."""
    if jobs_dir is None or not jobs_dir.is_dir():
        return []
    own = sorted(p for p in jobs_dir.iterdir() if _is_package(p))
    return own + [jobs_dir.parent / name for name in SHARED_PACKAGES if own and _is_package(jobs_dir.parent / name)]


def _kept(name: str) -> bool:
    return not name.startswith(".") and not name.endswith(_SKIP_SUFFIXES)


def package_files(jobs_dir: Path | None) -> list[tuple[str, Path]]:
    """(path inside the zip, file) of every file of every package, sorted by the zip path."""
    files: list[tuple[str, Path]] = []
    for pkg in package_dirs(jobs_dir):
        for root, dirs, names in os.walk(pkg, followlinks=False):
            dirs[:] = [d for d in dirs if d not in _SKIP_DIRS and _kept(d) and not (Path(root) / d).is_symlink()]
            for name in names:
                path = Path(root) / name
                if _kept(name) and path.is_file() and not path.is_symlink():
                    files.append((path.relative_to(pkg.parent).as_posix(), path))
    return sorted(files)


def snapshot(jobs_dir: Path | None) -> list[tuple[str, bytes]]:
    """The packages' files read once, so the hash and the zip of one launch describe the same bytes."""
    return [(arcname, path.read_bytes()) for arcname, path in package_files(jobs_dir)]


def code_hash(entry: bytes, packages: Iterable[tuple[str, bytes]]) -> str:
    """sha256 hex of an entry file's bytes and a snapshot of the packages (see `snapshot`)."""
    h = hashlib.sha256(b"orion-code-hash-v1\0")
    # Lengths before contents: no two different file sets can produce the same byte stream.
    h.update(b"entry\0%d\0" % len(entry))
    h.update(entry)
    for arcname, data in packages:
        name = arcname.encode("utf-8")
        h.update(b"file\0%d\0%d\0" % (len(name), len(data)))
        h.update(name)
        h.update(data)
    return h.hexdigest()


def job_code_hash(jobs_dir: Path | None, entry_file: Path) -> str:
    """The code hash of the job whose entry is `entry_file` (its contents, not its name or place: an uploaded
    copy of a shipped job has its hash), with the packages of `jobs_dir`."""
    return code_hash(Path(entry_file).read_bytes(), snapshot(jobs_dir))


def write_zip(packages: Iterable[tuple[str, bytes]], target: Path) -> Path:
    """Write the packages as a deterministic zip, atomically (a reader never sees half a file)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    try:
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_STORED) as zf:
            for arcname, data in sorted(packages):
                info = zipfile.ZipInfo(arcname, date_time=_ZIP_TIME)
                info.create_system = 3  # unix, so the mode below means what it says
                info.external_attr = 0o100644 << 16
                zf.writestr(info, data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def build_zip(jobs_dir: Path | None, target: Path) -> Path | None:
    """The packages of `jobs_dir` as one zip at `target`; None (and no file) when there are none."""
    return write_zip(packages, target) if (packages := snapshot(jobs_dir)) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="codehash.py", description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    z = sub.add_parser("zip", help="write the packages of JOBS_DIR as one deterministic zip")
    z.add_argument("jobs_dir", type=Path)
    z.add_argument("out", type=Path)
    h = sub.add_parser("hash", help="print the code hash of a job (entry file + the packages of JOBS_DIR)")
    h.add_argument("jobs_dir", type=Path)
    h.add_argument("entry", type=Path)
    opts = parser.parse_args(argv)
    if not opts.jobs_dir.is_dir():
        print(f"codehash: {opts.jobs_dir} is not a directory", file=sys.stderr)
        return 2
    if opts.command == "zip":
        written = build_zip(opts.jobs_dir, opts.out)
        if written is None:
            print(f"codehash: no package (a directory with __init__.py) in {opts.jobs_dir}", file=sys.stderr)
            return 1
        print(f"{written} ({len(package_files(opts.jobs_dir))} files)")
        return 0
    print(job_code_hash(opts.jobs_dir, opts.entry))
    return 0


if __name__ == "__main__":
    sys.exit(main())
