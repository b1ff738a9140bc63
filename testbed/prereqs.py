"""What the test bed needs on the machine (JDKs, Maven, pyspark), found or explained: `check()` says what is
missing and how to install it; `python -m testbed check` prints it and `up` refuses to start without it."""

from __future__ import annotations

import contextlib
import glob
import importlib.util
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

JAVA_ENV = "LAKEHOUSE_JAVA_HOME"
"""JDK for Kafka, ZooKeeper and Spark (17 or newer, a full JDK: Spark 4 asks for jdk.incubator.vector)."""
TRINO_JAVA_ENV = "LAKEHOUSE_TRINO_JAVA_HOME"
"""JDK for Trino 476 (24 or newer)."""
TRINO_MIN_JAVA = 24


class PrerequisiteError(RuntimeError):
    """Something the test bed needs is missing; the message lists what and how to install it."""


@dataclass(frozen=True)
class Jdk:
    home: Path
    major: int

    @property
    def java(self) -> str:
        return str(self.home / "bin" / "java")


_VERSION = re.compile(r'^JAVA_VERSION="(\d+)(?:\.(\d+))?')


def jdk_major(home: Path) -> int | None:
    """Major version of the JDK at `home`, from its `release` file (no JVM start needed)."""
    if not (home / "bin" / "java").exists():
        return None
    with contextlib.suppress(OSError):
        for line in (home / "release").read_text().splitlines():
            if m := _VERSION.match(line):
                major = int(m.group(1))
                return int(m.group(2)) if major == 1 and m.group(2) else major
    return None


def _candidates(env_var: str) -> list[Path]:
    raw = [os.environ.get(env_var, ""), os.environ.get("JAVA_HOME", ""), *sorted(glob.glob("/usr/lib/jvm/*"))]
    if java := shutil.which("java"):
        raw.append(str(Path(os.path.realpath(java)).parent.parent))
    return list(dict.fromkeys(Path(r).resolve() for r in raw if r))


def find_jdk(min_major: int, env_var: str, *, prefer: int | None = None) -> Jdk | None:
    """The JDK named by `env_var` if it fits, else `prefer`'s major if present, else the oldest that fits."""
    explicit = os.environ.get(env_var)
    if explicit:
        major = jdk_major(Path(explicit))
        return Jdk(Path(explicit), major) if major and major >= min_major else None
    found = [Jdk(h, m) for h in _candidates(env_var) if (m := jdk_major(h)) and m >= min_major]
    if not found:
        return None
    preferred = [j for j in found if j.major == prefer]
    return (preferred or sorted(found, key=lambda j: j.major))[0]


def has_vector_module(jdk: Jdk) -> bool:
    """Spark 4 starts every JVM with --add-modules=jdk.incubator.vector: a trimmed runtime cannot run it."""
    out = subprocess.run([jdk.java, "--list-modules"], capture_output=True, text=True, timeout=60, check=False)
    return "jdk.incubator.vector" in out.stdout


def spark_jdk() -> Jdk:
    jdk = find_jdk(17, JAVA_ENV, prefer=17)
    if jdk is None:
        raise PrerequisiteError(_missing_java17())
    return jdk


def trino_jdk() -> Jdk:
    jdk = find_jdk(TRINO_MIN_JAVA, TRINO_JAVA_ENV, prefer=25)
    if jdk is None:
        raise PrerequisiteError(_missing_java_trino())
    return jdk


def _missing_java17() -> str:
    where = f" ({JAVA_ENV}={os.environ[JAVA_ENV]} is not a JDK 17+)" if os.environ.get(JAVA_ENV) else ""
    return (
        f"Java 17 or newer (a full JDK) for Kafka and Spark is missing{where}: "
        f"install it with `apt-get install -y openjdk-17-jdk-headless`, or point {JAVA_ENV} at a JDK 17/21/25."
    )


def _missing_java_trino() -> str:
    given = os.environ.get(TRINO_JAVA_ENV)
    where = f" ({TRINO_JAVA_ENV}={given} is not a JDK 24+)" if given else ""
    return (
        f"Java {TRINO_MIN_JAVA} or newer for Trino 476 is missing{where}: install a JDK {TRINO_MIN_JAVA}+ "
        f"(this project uses Eclipse Temurin 25 at /usr/lib/jvm/temurin-25-jdk-amd64; Debian 12 has no "
        f"such package) and set {TRINO_JAVA_ENV} to its directory if it is not under /usr/lib/jvm."
    )


def check(*, need_maven: bool = True) -> list[str]:
    """Every missing prerequisite, as 'what is missing: how to install it' lines (empty when all is there)."""
    problems: list[str] = []
    jdk = find_jdk(17, JAVA_ENV, prefer=17)
    if jdk is None:
        problems.append(_missing_java17())
    elif not has_vector_module(jdk):
        problems.append(
            f"the JDK at {jdk.home} lacks the jdk.incubator.vector module that Spark 4 loads: "
            f"install a full JDK (`apt-get install -y openjdk-17-jdk-headless`) or set {JAVA_ENV}."
        )
    if find_jdk(TRINO_MIN_JAVA, TRINO_JAVA_ENV, prefer=25) is None:
        problems.append(_missing_java_trino())
    if need_maven and shutil.which("mvn") is None:
        problems.append(
            "Maven (mvn) is missing; it fetches the Kafka, Trino and Spark jars into the cache: "
            "install it with `apt-get install -y maven`."
        )
    if importlib.util.find_spec("pyspark") is None:
        problems.append(
            "pyspark is not installed in this Python: `pip install -r requirements-dev.txt` "
            "(run the test bed with the project's .venv/bin/python)."
        )
    if importlib.util.find_spec("ensurepip") is None:
        problems.append(
            "Python's venv/ensurepip is missing (Superset and SeaweedFS get their own virtualenvs): "
            "`apt-get install -y python3-venv`."
        )
    return problems


def browser_problems() -> list[str]:
    """What the browser test (not the test bed) needs: Debian's Chromium, which Playwright drives."""
    if shutil.which("chromium") or Path("/usr/bin/chromium").exists():
        return []
    return [
        "Chromium for the browser test is missing: `apt-get update && apt-get install -y chromium chromium-driver` "
        "(Debian's package; the tests never download a browser)."
    ]


def docker_problems() -> list[str]:
    """What the Docker check (the stack's containers on stand-in images, tests/docker) needs: a Docker Engine
    (a running one, or Debian's docker.io, which the check starts and stops itself) and mmdebstrap, which builds
    the stand-ins' Debian root filesystem."""
    problems = []
    if shutil.which("dockerd") is None and not Path("/var/run/docker.sock").exists():
        problems.append(
            "Docker Engine for the Docker check is missing: `apt-get update && apt-get install -y docker.io` "
            "(the check starts dockerd when none runs and stops what it started)."
        )
    if shutil.which("mmdebstrap") is None:
        problems.append(
            "mmdebstrap for the Docker check's stand-in images is missing: `apt-get install -y mmdebstrap`."
        )
    if shutil.which("busybox") is None:
        problems.append(
            "busybox for the Docker check's smallest test image is missing: `apt-get install -y busybox-static`."
        )
    return problems


def missing(problems: list[str]) -> str:
    return "the test bed cannot start; missing prerequisites:\n" + "\n".join(f"  - {p}" for p in problems)


def require(*, need_maven: bool = True) -> None:
    if problems := check(need_maven=need_maven):
        raise PrerequisiteError(missing(problems))
