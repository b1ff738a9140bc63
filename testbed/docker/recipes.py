"""What each image of the Docker check is built from, and the hash of it (testbed/docker/images.py builds them).

A Recipe names an image's tag, Dockerfile, build args and context: for a stand-in, its directory under
testbed/docker/standins/ plus the host artifacts the test bed fetches (linked into a temporary context by
images.py); for the project's images, the stack's own context directories, sent as they are (with .dockerignore).
`image_hash` covers everything a build reads - Dockerfile and context files (names, executable bits, contents),
build args, the artifacts' cache keys and the base image - so an image whose label carries it needs no rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.versions import Versions
from testbed import artifacts
from testbed.docker import rootfs
from testbed.paths import REPO, cache_dir

STANDINS = Path(__file__).resolve().parent / "standins"
RECIPE = 1
"""Bump when the way contexts are assembled changes (it is part of every image's hash)."""
SPARK_IMAGE_NAME = "lakehouse/spark"
SUPERSET_IMAGE_NAME = "lakehouse/superset"
"""components/spark.py IMAGE_NAME and components/superset.py IMAGE_NAME (a unit test keeps them equal; testbed/
never imports components/)."""
TRINO_LAUNCHER_PREFIXES = ("bin/",)


@dataclass
class Recipe:
    """One image to build: what goes into its context and how it is built."""

    name: str
    """Short name (kafka, spark, trino, superset, s3, lakehouse-spark, lakehouse-superset)."""
    tag: str
    dockerfile: str
    """Relative to the context."""
    buildargs: dict[str, str]
    identity: dict[str, Any]
    """What the hash covers besides the Dockerfile, context files and build args (artifact keys, base image)."""
    context_dir: Path | None = None
    """A directory sent as it is (with its .dockerignore); None for an assembled context."""
    files: dict[str, Path] = field(default_factory=dict)
    """Assembled context: destination (relative) -> host file or directory, linked or copied in."""
    standin_of: str | None = None


# ----------------------------------------------------------------------------- hashing


def _file_digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def tree_digest(root: Path, rel_paths: list[str] | None = None) -> str:
    """Hash of files under `root` (all of them, or `rel_paths`): names, executable bits and contents."""
    if rel_paths is None:
        rel_paths = [str(p.relative_to(root)) for p in sorted(root.rglob("*")) if p.is_file()]
    h = hashlib.sha256()
    for rel in sorted(rel_paths):
        p = root / rel
        if not p.is_file():
            continue
        mode = "x" if os.access(p, os.X_OK) else "-"
        h.update(f"{rel}\0{mode}\0{_file_digest(p)}\0".encode())
    return h.hexdigest()


def dockerignore_patterns(context: Path) -> list[str]:
    """The .dockerignore patterns of a context, read as the docker SDK reads them when it sends the context."""
    path = context / ".dockerignore"
    if not path.exists():
        return []
    lines = [line.strip() for line in path.read_text().splitlines()]
    return [line for line in lines if line and not line.startswith("#")]


def context_files(context: Path, dockerfile: str) -> list[str]:
    """The files of `context` the docker SDK sends to the engine (its .dockerignore applied)."""
    from docker.utils.build import exclude_paths

    paths = exclude_paths(str(context), dockerignore_patterns(context), dockerfile=dockerfile)
    return sorted(p for p in paths if (context / p).is_file())


def image_hash(recipe: Recipe) -> str:
    """Hash of everything the image is built from (see the module docstring)."""
    if recipe.context_dir is not None:
        ctx = tree_digest(recipe.context_dir, context_files(recipe.context_dir, recipe.dockerfile))
    else:
        ctx = tree_digest(STANDINS / recipe.name)
    blob = json.dumps(
        {
            "recipe": RECIPE,
            "tag": recipe.tag,
            "dockerfile": recipe.dockerfile,
            "context": ctx,
            "buildargs": recipe.buildargs,
            "identity": recipe.identity,
            "files": sorted(recipe.files),
        },
        sort_keys=True,
        default=str,
    )
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


# ----------------------------------------------------------------------------- recipes


BASE_PACKAGES = ("ca-certificates",)
"""The Debian packages of the one base every stand-in is built FROM (with this machine's CA certificates); each
stand-in's Dockerfile adds its own with apt-get, as the official images do. One mmdebstrap run per machine: a
minbase root filesystem takes 60-120 s here, most of it the minbase itself, so one per stand-in would cost
minutes on every fresh CI machine for no gain."""


def base_ref() -> str:
    """The base image the stand-ins are built FROM (its tag: the hash of its packages and the CA certificates)."""
    key = rootfs.rootfs_key(list(BASE_PACKAGES), rootfs.ca_certificates())
    return f"{rootfs.REPOSITORY}:{rootfs.SUITE}-{key}"


def _cache_rel(path: Path) -> str:
    """An artifact's place in the artifact cache: its directory name carries the hash of what it is built from."""
    try:
        return str(path.resolve().relative_to(cache_dir()))
    except ValueError:
        return str(path.resolve())


def trino_launcher(v: Versions) -> Path:
    """bin/ of io.trino:trino-server:<version>:tar.gz (Trino's launcher for this machine's architecture and
    launcher.properties), from the same Maven artifact as testbed/artifacts.py trino_home; cached like it."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    key = artifacts.cache_key(TRINO_LAUNCHER_PREFIXES, arch, "executable")

    def build(tmp: Path) -> None:
        dl = tmp / "download"
        artifacts._run(
            f"Trino {v.trino} launcher",
            [
                "mvn",
                "-B",
                "-q",
                f"{artifacts.MAVEN_DEPENDENCY_PLUGIN}:copy",
                f"-Dartifact=io.trino:trino-server:{v.trino}:tar.gz",
                f"-DoutputDirectory={dl}",
            ],
        )
        tarball = next(dl.glob("*.tar.gz"))
        artifacts._extract_subset(tarball, tmp, f"trino-server-{v.trino}/", TRINO_LAUNCHER_PREFIXES)
        shutil.rmtree(dl)
        # The official image keeps only its own architecture's launcher.
        for other in (tmp / "bin").iterdir():
            if other.is_dir() and other.name != f"linux-{arch}":
                shutil.rmtree(other)
        launchers = [tmp / "bin" / "launcher", tmp / "bin" / f"linux-{arch}" / "launcher"]
        if not all(p.is_file() for p in launchers):
            raise artifacts.ArtifactError(f"trino-server-{v.trino}.tar.gz has no bin/launcher for linux-{arch}")
        # The extraction keeps contents, not modes: the launchers are programs.
        for p in launchers:
            p.chmod(0o755)

    return artifacts.ensure(f"trino-launcher-{v.trino}-{key}", build) / "bin"


def _pyspark_python_package(home: Path) -> dict[str, Path]:
    """The pyspark package's own modules (what the official image has in /opt/spark/python/pyspark), without the
    distribution directories pyspark's wheel keeps beside them."""
    skip = {"bin", "sbin", "jars", "python", "data", "examples", "licenses", "__pycache__"}
    return {f"spark/python/pyspark/{p.name}": p for p in sorted(home.iterdir()) if p.name not in skip}


def _kafka(v: Versions) -> Recipe:
    lib = artifacts.kafka_lib(v)
    return Recipe(
        name="kafka",
        tag=v.kafka_image,
        dockerfile="Dockerfile",
        buildargs={"KAFKA_VERSION": v.kafka},
        identity={"libs": _cache_rel(lib)},
        files={"libs": lib},
        standin_of=v.kafka_image,
    )


def _spark(v: Versions) -> Recipe:
    home = artifacts.spark_home(v)
    return Recipe(
        name="spark",
        tag=v.spark_image,
        dockerfile="Dockerfile",
        buildargs={"SPARK_VERSION": v.spark},
        identity={"pyspark": v.spark, "jars": sorted(p.name for p in (home / "jars").glob("*.jar"))},
        files={
            "spark/bin": home / "bin",
            "spark/sbin": home / "sbin",
            "spark/jars": home / "jars",
            "spark/python/lib": home / "python" / "lib",
            **_pyspark_python_package(home),
        },
        standin_of=v.spark_image,
    )


def _trino(v: Versions) -> Recipe:
    from testbed import prereqs

    trino = artifacts.trino_home(v)
    launcher = trino_launcher(v)
    jdk = prereqs.trino_jdk()
    return Recipe(
        name="trino",
        tag=v.trino_image,
        dockerfile="Dockerfile",
        buildargs={"JDK_DIR": jdk.home.name},
        identity={
            "trino": _cache_rel(trino),
            "launcher": _cache_rel(launcher),
            "jdk": [jdk.home.name, (jdk.home / "release").read_text()],
        },
        files={
            "trino-server/lib": trino / "lib",
            "trino-server/plugin": trino / "plugin",
            "trino-server/bin": launcher,
            "jdk": jdk.home,
        },
        standin_of=v.trino_image,
    )


def _superset(v: Versions) -> Recipe:
    return Recipe(
        name="superset",
        tag=v.superset_image,
        dockerfile="Dockerfile",
        buildargs={
            "SUPERSET_VERSION": v.superset,
            "SUPERSET_EXTRAS": " ".join(artifacts.SUPERSET_EXTRAS),
            "UV_VERSION": v.uv,
        },
        identity={},
        standin_of=v.superset_image,
    )


def _s3(v: Versions) -> Recipe:
    weed = artifacts.weed_binary(v)
    return Recipe(
        name="s3",
        tag=v.minio_image,
        dockerfile="Dockerfile",
        buildargs={},
        identity={"weed": _cache_rel(weed), "seaweedfs": v.seaweedfs},
        files={"weed": weed},
        standin_of=v.minio_image,
    )


STANDIN_RECIPES: dict[str, Callable[[Versions], Recipe]] = {
    "kafka": _kafka,
    "spark": _spark,
    "trino": _trino,
    "superset": _superset,
    "s3": _s3,
}
"""Stand-ins by short name (testbed/docker/standins/<name>); each recipe fetches, or finds cached, its artifacts."""


def standin_recipe(name: str, v: Versions) -> Recipe:
    """The stand-in `name`, its base image (from its `packages` file) among its build args."""
    recipe = STANDIN_RECIPES[name](v)
    recipe.buildargs = {"BASE_IMAGE": base_ref(), **recipe.buildargs}
    return recipe


PROJECT_BASES = {"lakehouse-spark": "spark", "lakehouse-superset": "superset"}
"""The project's images and the stand-in each is built FROM."""


def project_recipe(name: str, v: Versions, base_id: str) -> Recipe:
    """A project image as the stack builds it (components/spark.py, components/superset.py: context, Dockerfile,
    build args, image name and tag); `base_id` is the id of the image it is built FROM (part of its hash)."""
    if name == "lakehouse-spark":
        args = v.spark_build_args()
        return Recipe(
            name=name,
            tag=f"{SPARK_IMAGE_NAME}:{args['SPARK_VERSION']}",
            dockerfile="images/spark/Dockerfile",
            buildargs=args,
            identity={"base": base_id},
            context_dir=REPO,
        )
    if name == "lakehouse-superset":
        args = v.superset_build_args()
        return Recipe(
            name=name,
            tag=f"{SUPERSET_IMAGE_NAME}:{args['SUPERSET_IMAGE'].rpartition(':')[2]}",
            dockerfile="Dockerfile",
            buildargs=args,
            identity={"base": base_id},
            context_dir=REPO / "images" / "superset",
        )
    raise ValueError(f"unknown project image {name!r}; known: {sorted(PROJECT_BASES)}")


ALL_NAMES = (*STANDIN_RECIPES, *PROJECT_BASES)
