"""What each image of the Docker check is built from (images.py builds them): a Recipe's tag, Dockerfile, build
args and context (a stand-in's directory under standins/ plus the test bed's artifacts, or the stack's own context
directory), and `image_hash` of everything a build reads: an image whose label carries it needs no rebuild.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lakehouse.versions import Versions
from testbed import artifacts
from testbed.docker import rootfs
from testbed.paths import REPO, cache_dir

STANDINS = Path(__file__).resolve().parent / "standins"
RECIPE = 1  # bump when the way contexts are assembled changes (it is part of every image's hash)
# components/spark.py and components/superset.py IMAGE_NAME (a unit test keeps them equal)
SPARK_IMAGE_NAME = "lakehouse/spark"
SUPERSET_IMAGE_NAME = "lakehouse/superset"
TRINO_LAUNCHER_PREFIXES = ("bin/",)


@dataclass
class Recipe:
    """One image to build; `identity` is what the hash covers besides the build args (artifact keys, base image);
    the context is `context_dir` as it is, or standins/<name> plus `files` (destination -> host path)."""

    name: str
    tag: str
    buildargs: dict[str, str] = field(default_factory=dict)
    identity: dict[str, Any] = field(default_factory=dict)
    dockerfile: str = "Dockerfile"
    context_dir: Path | None = None
    files: dict[str, Path] = field(default_factory=dict)
    standin_of: str | None = None


def _file_digest(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


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


def context_files(context: Path, dockerfile: str) -> list[str]:
    """The files of `context` the docker SDK sends to the engine (its .dockerignore read as the SDK reads it)."""
    from docker.utils.build import exclude_paths

    ignore = context / ".dockerignore"
    lines = [line.strip() for line in ignore.read_text().splitlines()] if ignore.exists() else []
    patterns = [line for line in lines if line and not line.startswith("#")]
    paths = exclude_paths(str(context), patterns, dockerfile=dockerfile)
    return sorted(p for p in paths if (context / p).is_file())


def image_hash(recipe: Recipe) -> str:
    if recipe.context_dir is not None:
        ctx = tree_digest(recipe.context_dir, context_files(recipe.context_dir, recipe.dockerfile))
    else:
        ctx = tree_digest(STANDINS / recipe.name)
    fields = {"recipe": RECIPE, "tag": recipe.tag, "dockerfile": recipe.dockerfile, "context": ctx}
    fields |= {"buildargs": recipe.buildargs, "identity": recipe.identity, "files": sorted(recipe.files)}
    blob = json.dumps(fields, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _cache_rel(path: Path) -> str:
    """An artifact's place in the cache (its directory name carries the hash of what it is built from)."""
    try:
        return str(path.resolve().relative_to(cache_dir()))
    except ValueError:
        return str(path.resolve())


def trino_launcher(v: Versions) -> Path:
    """bin/ of io.trino:trino-server:<version>:tar.gz (the launcher for this machine's architecture), from the same
    Maven artifact as testbed/artifacts.py trino_home; cached like it."""
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(platform.machine(), platform.machine())
    key = artifacts.cache_key(TRINO_LAUNCHER_PREFIXES, arch, "executable")

    def build(tmp: Path) -> None:
        artifacts.trino_server_files(v, tmp, TRINO_LAUNCHER_PREFIXES, f"Trino {v.trino} launcher")
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


def _pyspark_package(home: Path) -> dict[str, Path]:
    """The pyspark package's own modules (the official image's /opt/spark/python/pyspark), without the wheel's
    distribution directories."""
    skip = {"bin", "sbin", "jars", "python", "data", "examples", "licenses", "__pycache__"}
    return {f"spark/python/pyspark/{p.name}": p for p in sorted(home.iterdir()) if p.name not in skip}


def _kafka(v: Versions) -> Recipe:
    lib = artifacts.kafka_lib(v)
    args = {"KAFKA_VERSION": v.kafka}
    return Recipe("kafka", v.kafka_image, args, {"libs": _cache_rel(lib)}, files={"libs": lib})


def _spark(v: Versions) -> Recipe:
    home = artifacts.spark_home(v)
    identity = {"pyspark": v.spark, "jars": sorted(p.name for p in (home / "jars").glob("*.jar"))}
    files = {f"spark/{d}": home / d for d in ("bin", "sbin", "jars", "python/lib")}
    return Recipe(
        "spark", v.spark_image, {"SPARK_VERSION": v.spark}, identity, files={**files, **_pyspark_package(home)}
    )


def _trino(v: Versions) -> Recipe:
    from testbed import prereqs

    trino, launcher, jdk = artifacts.trino_home(v), trino_launcher(v), prereqs.trino_jdk().home
    release = (jdk / "release").read_text()
    identity = {"trino": _cache_rel(trino), "launcher": _cache_rel(launcher), "jdk": [jdk.name, release]}
    files = {f"trino-server/{d}": trino / d for d in ("lib", "plugin")} | {"trino-server/bin": launcher, "jdk": jdk}
    return Recipe("trino", v.trino_image, {"JDK_DIR": jdk.name}, identity, files=files)


def _superset(v: Versions) -> Recipe:
    extras = " ".join(artifacts.SUPERSET_EXTRAS)
    return Recipe(
        "superset", v.superset_image, {"SUPERSET_VERSION": v.superset, "SUPERSET_EXTRAS": extras, "UV_VERSION": v.uv}
    )


def _s3(v: Versions) -> Recipe:
    weed = artifacts.weed_binary(v)
    return Recipe("s3", v.minio_image, {}, {"weed": _cache_rel(weed), "seaweedfs": v.seaweedfs}, files={"weed": weed})


# Stand-ins by short name (testbed/docker/standins/<name>); each recipe fetches, or finds cached, its artifacts.
STANDIN_RECIPES = {"kafka": _kafka, "spark": _spark, "trino": _trino, "superset": _superset, "s3": _s3}


def standin_recipe(name: str, v: Versions) -> Recipe:
    """The stand-in `name` under its official tag, built FROM the one Debian base."""
    recipe = STANDIN_RECIPES[name](v)
    recipe.buildargs = {"BASE_IMAGE": rootfs.base_ref(), **recipe.buildargs}
    recipe.standin_of = recipe.tag
    return recipe


PROJECT_BASES = {"lakehouse-spark": "spark", "lakehouse-superset": "superset"}  # each built FROM that stand-in


def project_recipe(name: str, v: Versions, base_id: str) -> Recipe:
    """A project image as components/spark.py or superset.py builds it; `base_id` (its FROM) is part of its hash."""
    if name == "lakehouse-spark":
        args = v.spark_build_args()
        tag = f"{SPARK_IMAGE_NAME}:{args['SPARK_VERSION']}"
        return Recipe(name, tag, args, {"base": base_id}, dockerfile="images/spark/Dockerfile", context_dir=REPO)
    if name == "lakehouse-superset":
        args = v.superset_build_args()
        tag = f"{SUPERSET_IMAGE_NAME}:{args['SUPERSET_IMAGE'].rpartition(':')[2]}"
        return Recipe(name, tag, args, {"base": base_id}, context_dir=REPO / "images" / "superset")
    raise ValueError(f"unknown project image {name!r}; known: {sorted(PROJECT_BASES)}")


ALL_NAMES = (*STANDIN_RECIPES, *PROJECT_BASES)
