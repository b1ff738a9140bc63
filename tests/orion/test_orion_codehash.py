"""orion/codehash.py: which files a job ships, its code hash, the deterministic zip, and the image's use of it."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from orion import codehash

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "images" / "spark" / "Dockerfile"


def _jobs(tmp_path: Path) -> Path:
    jobs = tmp_path / "jobs"
    (jobs / "pkg" / "sub").mkdir(parents=True)
    (jobs / "pkg" / "__init__.py").write_text("from .rules import double\n")
    (jobs / "pkg" / "rules.py").write_text("def double(x):\n    return 2 * x\n")
    (jobs / "pkg" / "sub" / "__init__.py").write_text("")
    (jobs / "pkg" / "sub" / "table.json").write_text('{"a": 1}\n')
    (jobs / "notapkg").mkdir()
    (jobs / "notapkg" / "x.py").write_text("X = 1\n")
    (jobs / "entry.py").write_text("import pkg\nprint(pkg.double(21))\n")
    return jobs


def test_packages_are_the_dirs_with_init_and_every_file_below_them_but_caches(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    (jobs / "pkg" / "__pycache__").mkdir()
    (jobs / "pkg" / "__pycache__" / "rules.cpython-311.pyc").write_bytes(b"\0")
    (jobs / "pkg" / "rules.pyc").write_bytes(b"\0")
    (jobs / "pkg" / ".hidden.py").write_text("")
    (jobs / "pkg" / "rules.py~").write_text("")
    (jobs / "pkg" / "link.py").symlink_to(jobs / "entry.py")
    assert [p.name for p in codehash.package_dirs(jobs)] == ["pkg"]
    assert [a for a, _ in codehash.package_files(jobs)] == [
        "pkg/__init__.py", "pkg/rules.py", "pkg/sub/__init__.py", "pkg/sub/table.json",
    ]  # fmt: skip
    assert codehash.package_dirs(None) == [] and codehash.package_dirs(tmp_path / "missing") == []


def test_code_hash_follows_the_code_not_the_caches_nor_the_entrys_name(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    entry = jobs / "entry.py"
    first = codehash.job_code_hash(jobs, entry)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    (jobs / "pkg" / "__pycache__").mkdir()
    (jobs / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"junk")
    (jobs / "notapkg" / "x.py").write_text("X = 2\n")  # not a package: not shipped
    copy = tmp_path / "uploads" / "abc" / "other_name.py"
    copy.parent.mkdir(parents=True)
    copy.write_bytes(entry.read_bytes())
    assert codehash.job_code_hash(jobs, entry) == first == codehash.job_code_hash(jobs, copy)

    (jobs / "pkg" / "rules.py").write_text("def double(x):\n    return x + x\n")
    changed_pkg = codehash.job_code_hash(jobs, entry)
    (jobs / "pkg" / "new.py").write_text("")
    added_file = codehash.job_code_hash(jobs, entry)
    entry.write_text("import pkg\nprint(pkg.double(2))\n")
    changed_entry = codehash.job_code_hash(jobs, entry)
    assert len({first, changed_pkg, added_file, changed_entry}) == 4


def test_zip_is_byte_for_byte_deterministic_and_importable(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    one = codehash.build_zip(jobs, tmp_path / "one.zip")
    for _, path in codehash.package_files(jobs):  # other mtimes on every file must not change a byte
        os.utime(path, (1_900_000_000, 1_900_000_000))
    two = codehash.build_zip(jobs, tmp_path / "two.zip")
    assert one is not None and two is not None and one.read_bytes() == two.read_bytes()
    with zipfile.ZipFile(one) as zf:
        assert zf.namelist() == [a for a, _ in codehash.package_files(jobs)]
        assert zf.read("pkg/rules.py") == (jobs / "pkg" / "rules.py").read_bytes()
    # As --py-files does: the zip on sys.path, the package imported from it (nothing else on the path).
    out = subprocess.run(
        [sys.executable, "-c", "import pkg, sys; print(pkg.double(21), pkg.__file__)"],
        cwd=tmp_path, env={"PYTHONPATH": str(one), "PATH": os.environ["PATH"]}, capture_output=True, text=True,
        timeout=60,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["42", str(one / "pkg" / "__init__.py")]
    assert codehash.build_zip(tmp_path / "notapkg_only", tmp_path / "none.zip") is None
    assert not (tmp_path / "none.zip").exists()


def test_codehash_imports_without_fastapi_or_pydantic_and_its_cli_gives_the_same_hash(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path)
    blocked = "fastapi pydantic pydantic_settings starlette uvicorn requests".split()
    code = (
        f"import sys; sys.modules.update(dict.fromkeys({blocked!r}))\n"
        "from pathlib import Path\nfrom orion.codehash import job_code_hash\n"
        f"print(job_code_hash(Path({str(jobs)!r}), Path({str(jobs / 'entry.py')!r})))"
    )
    imported = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert imported.returncode == 0, imported.stderr
    script = subprocess.run(
        [sys.executable, str(ROOT / "orion" / "codehash.py"), "hash", str(jobs), str(jobs / "entry.py")],
        cwd=tmp_path, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert script.returncode == 0, script.stderr
    assert imported.stdout.strip() == script.stdout.strip() == codehash.job_code_hash(jobs, jobs / "entry.py")


def _dockerfile_runs() -> list[str]:
    """RUN instructions of the final stage, continuation lines joined."""
    text = DOCKERFILE.read_text().replace("\\\n", " ")
    final_stage = text.split("\nFROM ")[-1]
    return [line[4:].strip() for line in final_stage.splitlines() if line.startswith("RUN ")]


def _copies() -> dict[str, str]:
    text = DOCKERFILE.read_text().split("\nFROM ")[-1]
    return {dst: src for src, dst in re.findall(r"^COPY (?!--)(\S+) (\S+)$", text, re.M)}


def test_spark_image_builds_the_packages_zip_with_orions_own_builder(tmp_path: Path) -> None:
    runs = [r for r in _dockerfile_runs() if "codehash.py" in r]
    assert len(runs) == 1, "images/spark/Dockerfile must build the packages zip with orion/codehash.py"
    python, script, command, jobs_dir, out = shlex.split(runs[0])
    copies = _copies()
    # The builder it calls is the one in this repository, copied into the image before it runs.
    image_orion = next(dst for dst, src in copies.items() if src == "orion")
    assert script == f"{image_orion}/codehash.py" and (ROOT / "orion" / "codehash.py").is_file()
    assert python == "/opt/lakehouse/venv/bin/python3" and command == "zip"
    image_jobs = next(dst for dst, src in copies.items() if src == "jobs")
    assert jobs_dir == image_jobs and out == f"{image_jobs}/{codehash.ZIP_NAME}"
    text = DOCKERFILE.read_text()
    assert text.index("COPY jobs ") < text.index(runs[0]) and text.index("COPY orion ") < text.index(runs[0])

    # Run that very command with the image's paths mapped onto a copy of this repository's jobs/.
    image = tmp_path / "image"
    shutil.copytree(ROOT / "orion", image / image_orion.lstrip("/"), ignore=shutil.ignore_patterns("__pycache__"))
    local_jobs = image / image_jobs.lstrip("/")
    shutil.copytree(ROOT / "jobs", local_jobs, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    image_contract = next(dst for dst, src in copies.items() if src == "contract")
    shutil.copytree(ROOT / "contract", image / image_contract.lstrip("/"), ignore=shutil.ignore_patterns("__pycache__"))
    if not codehash.package_dirs(local_jobs):  # until jobs/ has its package, prove it with one of ours
        (local_jobs / "examplepkg").mkdir()
        (local_jobs / "examplepkg" / "__init__.py").write_text("VALUE = 7\n")
    result = subprocess.run(
        [sys.executable, str(image / script.lstrip("/")), command, str(local_jobs), str(image / out.lstrip("/"))],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    built = image / out.lstrip("/")
    with zipfile.ZipFile(built) as zf:
        assert zf.namelist() == [a for a, _ in codehash.package_files(local_jobs)]
        assert "contract/__init__.py" in zf.namelist()  # the jobs' shared package ships with them
    # What Orion ships for the same tree is the same zip, byte for byte.
    assert codehash.build_zip(local_jobs, tmp_path / "orion.zip").read_bytes() == built.read_bytes()  # type: ignore[union-attr]


@pytest.mark.parametrize("missing", ["jobs_dir", "packages"])
def test_codehash_cli_refuses_a_missing_dir_or_no_package(tmp_path: Path, missing: str) -> None:
    target = tmp_path / ("nowhere" if missing == "jobs_dir" else "empty")
    if missing == "packages":
        target.mkdir()
    result = subprocess.run(
        [sys.executable, str(ROOT / "orion" / "codehash.py"), "zip", str(target), str(tmp_path / "o.zip")],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode != 0 and "codehash:" in result.stderr
