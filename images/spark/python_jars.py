"""Put the Python packages that ride inside jars on a virtualenv's sys.path, with one `.pth` file.

Usage: python3 python_jars.py <venv python | site-packages dir> <jars dir>

Delta's Python API (`delta.tables`, which the streaming job imports) ships inside the delta-spark jar. This lists
every jar of <jars dir> that carries a Python package in `lakehouse-jars.pth`, so every driver and executor Python
worker imports them from the jar (zipimport); it fails when no jar carries `delta`. Standard library only: the
Spark image's build (images/spark/Dockerfile) and the test bed's virtualenv both run this very script.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

PTH_NAME = "lakehouse-jars.pth"
REQUIRED = {"delta": "delta-spark"}
"""Python package -> the jar (artifact name) that must carry it."""


def python_packages(jar: Path) -> list[str]:
    """Top-level Python packages inside a jar (directories with an __init__.py right under the root)."""
    try:
        with zipfile.ZipFile(jar) as zf:
            names = zf.namelist()
    except zipfile.BadZipFile as exc:
        raise SystemExit(f"python_jars: {jar} is not a readable jar: {exc}") from exc
    return sorted({n.split("/")[0] for n in names if n.count("/") == 1 and n.endswith("/__init__.py")})


def site_packages(target: Path) -> Path:
    """The site-packages directory of `target`: itself when it is a directory, else the interpreter's purelib."""
    if target.is_dir():
        return target
    if not target.exists():
        raise SystemExit(f"python_jars: {target} is neither a Python interpreter nor a site-packages directory")
    code = "import sysconfig; print(sysconfig.get_paths()['purelib'])"
    out = subprocess.run([str(target), "-c", code], capture_output=True, text=True, check=False)
    if out.returncode != 0:
        raise SystemExit(f"python_jars: {target} did not say where its site-packages is: {out.stderr.strip()}")
    path = Path(out.stdout.strip())
    if not path.is_dir():
        raise SystemExit(f"python_jars: {target}'s site-packages {path} does not exist")
    return path


def carriers(jars_dir: Path) -> dict[Path, list[str]]:
    """Each jar under `jars_dir` that carries Python packages, with those packages (sorted by jar name)."""
    if not jars_dir.is_dir():
        raise SystemExit(f"python_jars: the jars directory {jars_dir} does not exist")
    found = {}
    for jar in sorted(jars_dir.glob("*.jar")):
        packages = python_packages(jar)
        if packages:
            found[jar.resolve()] = packages
    return found


def write_pth(target: Path, jars_dir: Path) -> Path:
    """Write `lakehouse-jars.pth` for `jars_dir` into `target`'s site-packages; returns its path."""
    found = carriers(jars_dir)
    provided = {pkg: jar for jar, pkgs in found.items() for pkg in pkgs}
    for package, artifact in REQUIRED.items():
        if package not in provided:
            jars = sorted(p.name for p in jars_dir.glob("*.jar")) or ["(none)"]
            raise SystemExit(
                f"python_jars: no jar in {jars_dir} carries the Python package {package!r} (expected in the "
                f"{artifact} jar); jars there: {', '.join(jars)}"
            )
    pth = site_packages(target) / PTH_NAME
    header = f"# Written by images/spark/python_jars.py: jars of {jars_dir} that carry Python packages.\n"
    pth.write_text(header + "".join(f"{jar}\n" for jar in found))
    return pth


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__.strip().splitlines()[2], file=sys.stderr)
        return 2
    pth = write_pth(Path(argv[0]), Path(argv[1]))
    for jar, packages in carriers(Path(argv[1])).items():
        print(f"{pth.name}: {jar.name} ({', '.join(packages)})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
