"""The images the Docker check runs: stand-ins under the official names and tags of versions.toml, and the project's
own images built from images/spark/Dockerfile and images/superset/Dockerfile on them, unchanged.

No registry is reachable here: each stand-in is built from the Debian root filesystem (rootfs.py) and the test
bed's artifacts (recipes.py); every build uses the classic builder (BuildKit would pull a `# syntax=` frontend).
An image whose `lakehouse.image.hash` label matches its recipe's hash is reused.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.versions import Versions
from testbed import artifacts
from testbed.docker import Echo, rootfs
from testbed.docker.recipes import (
    ALL_NAMES,
    PROJECT_BASES,
    STANDIN_RECIPES,
    STANDINS,
    Recipe,
    image_hash,
    project_recipe,
    standin_recipe,
)
from testbed.paths import cache_dir

HASH_LABEL = "lakehouse.image.hash"
STANDIN_LABEL = "lakehouse.standin.of"  # the official image it stands in for: an image without it is not ours
ROLE_LABEL = "lakehouse.standin.role"
BUILD_READ_TIMEOUT = 3600  # seconds without output (a quiet `mvn -q` or `uv pip install` step on a slow day)
CHECK_LABEL = "lakehouse.check"


class ImageError(RuntimeError):
    """An image could not be built or checked; the message names it and ends with the build's last lines."""


@dataclass(frozen=True)
class Result:
    tag: str
    image_id: str
    built: bool
    seconds: float
    size: int
    base_seconds: float = 0.0  # building the Debian root filesystem (0 when it was cached)


def _link_tree(src: Path, dest: Path) -> None:
    """`src` (file or directory) at `dest`: hard links where the file system allows, else copies."""

    def link(s: str, d: str) -> None:
        try:
            os.link(s, d)
        except OSError:
            shutil.copy2(s, d)

    dest.parent.mkdir(parents=True, exist_ok=True)
    if src.is_dir():
        shutil.copytree(src, dest, copy_function=link, symlinks=True)
    else:
        link(str(src), str(dest))


def assemble(recipe: Recipe, into: Path) -> Path:
    shutil.copytree(STANDINS / recipe.name, into, dirs_exist_ok=True)
    for rel, src in recipe.files.items():
        if not src.exists():
            raise ImageError(f"{recipe.tag}: artifact {src} for {rel} does not exist")
        _link_tree(src, into / rel)
    return into


def _stream_build(client: Any, recipe: Recipe, context: Path, labels: dict[str, str], nocache: bool, echo: Echo) -> str:
    """Run one classic-builder build; returns the image id. Every line goes to the image's log file."""
    tail: list[str] = []
    image_id = ""
    log = cache_dir() / "docker" / "logs" / f"{recipe.name}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w") as out:
        stream = client.api.build(
            path=str(context),
            dockerfile=recipe.dockerfile,
            tag=recipe.tag,
            buildargs=recipe.buildargs,
            labels=labels,
            rm=True,
            forcerm=True,
            pull=False,
            nocache=nocache,
            decode=True,
            timeout=BUILD_READ_TIMEOUT,
        )
        for chunk in stream:
            if "error" in chunk:
                out.write(str(chunk["error"]) + "\n")
                last = "\n".join(tail[-25:])
                raise ImageError(f"building {recipe.tag} failed: {chunk['error'].strip()}\n{last}\n(full log: {log})")
            for line in (chunk.get("stream") or "").splitlines():
                out.write(line + "\n")
                if line.strip():
                    tail.append(line.rstrip())
                    if line.startswith("Step "):
                        echo(f"  {recipe.name}: {line[:150]}")
            image_id = (chunk.get("aux") or {}).get("ID", image_id)
    if not image_id:
        raise ImageError(f"building {recipe.tag} gave no image id; see {log}")
    return image_id


def _ensure(client: Any, recipe: Recipe, *, rebuild: bool, echo: Echo) -> Result:
    digest = image_hash(recipe)
    image = rootfs.find_image(client, recipe.tag)
    labels = (image.labels or {}) if image is not None else {}
    if image is not None and recipe.standin_of and labels.get(STANDIN_LABEL) != recipe.standin_of:
        raise ImageError(
            f"{recipe.tag} exists on this engine and is not a stand-in built here (no {STANDIN_LABEL} label): it may "
            f"be the official image. The Docker check builds its own under that tag; remove this one first "
            f"(`docker rmi {recipe.tag}`) if it should"
        )
    if image is not None and labels.get(HASH_LABEL) == digest and not rebuild:
        return Result(recipe.tag, image.id, False, 0.0, int(image.attrs.get("Size", 0)))
    labels = {HASH_LABEL: digest}
    base_seconds = 0.0
    if recipe.standin_of:
        labels |= {STANDIN_LABEL: recipe.standin_of, ROLE_LABEL: recipe.name}
        base_seconds = rootfs.ensure_base(client, echo)
    echo(f"building {recipe.tag} ({recipe.name})")
    t0 = time.monotonic()
    if recipe.context_dir is not None:
        _stream_build(client, recipe, recipe.context_dir, labels, rebuild, echo)
    else:
        with rootfs.scratch_dir(f"context-{recipe.name}-") as tmp:
            _stream_build(client, recipe, assemble(recipe, Path(tmp) / "context"), labels, rebuild, echo)
    seconds = time.monotonic() - t0
    image = client.images.get(recipe.tag)
    if (image.labels or {}).get(HASH_LABEL) != digest:
        raise ImageError(f"{recipe.tag} was built but does not carry {HASH_LABEL}={digest}")
    size = int(image.attrs.get("Size", 0))
    echo(f"built {recipe.tag} in {seconds:.0f} s ({size / 1e6:.0f} MB)")
    return Result(recipe.tag, image.id, True, seconds, size, base_seconds)


# The jobs' `import delta.tables` with the image's venv Python, pyspark's zips on the path as spark-submit puts them.
SPARK_DELTA_CHECK = (
    'PYTHONPATH="$(ls /opt/spark/python/lib/*.zip | paste -sd:)" '
    '/opt/lakehouse/venv/bin/python3 -c "import delta.tables, sys; print(delta.tables.__file__)"'
)


def run_once(client: Any, image: str, command: list[str]) -> tuple[int, str, str]:
    """Run `command` in a new container of `image` to its end: (exit code, stdout, stderr). The container is
    removed with its anonymous volumes (the SDK's `run(remove=True)` leaves those of an image's VOLUMEs behind)."""
    c = client.containers.create(image, command, labels={CHECK_LABEL: "1"})
    try:
        c.start()
        code = int(c.wait(timeout=600)["StatusCode"])
        out = c.logs(stdout=True, stderr=False).decode(errors="replace")
        err = c.logs(stdout=False, stderr=True).decode(errors="replace")
        return code, out, err
    finally:
        c.remove(force=True, v=True)


def check_spark_image(client: Any, tag: str) -> str:
    """Inside the built Spark image: the venv's Python imports delta.tables (from the delta-spark jar, through
    lakehouse-jars.pth). Returns where it was imported from; raises ImageError otherwise."""
    code, out, err = run_once(client, tag, ["bash", "-c", SPARK_DELTA_CHECK])
    if code != 0:
        raise ImageError(f"{tag}: `import delta.tables` fails in the image's venv (exit {code}):\n{err[-3000:]}")
    where = out.strip()
    if "delta-spark" not in where:
        raise ImageError(f"{tag}: delta.tables came from {where!r}, not from the delta-spark jar")
    return where


# Two builds at a time, each lane in order (a base before what is built FROM it): Spark's is the longest chain.
LANES = (("spark", "lakehouse-spark"), ("superset", "lakehouse-superset", "kafka", "trino", "s3"))


def _ensure_project(client: Any, name: str, v: Versions, base_id: str, rebuild: bool, echo: Echo) -> Result:
    recipe = project_recipe(name, v, base_id)
    result = _ensure(client, recipe, rebuild=rebuild, echo=echo)
    if result.built and name == "lakehouse-spark":
        try:
            where = check_spark_image(client, recipe.tag)
        except ImageError:
            # A failed image must not be reused by the next run.
            client.images.remove(recipe.tag, force=True)
            raise
        echo(f"{recipe.tag}: import delta.tables works ({where})")
    return result


def ensure_report(
    client: Any, v: Versions, echo: Echo, *, only: set[str] | None = None, rebuild: bool = False
) -> list[Result]:
    """Every image (or those named in `only`, plus the stand-ins they are built FROM), built where missing or
    stale, the LANES side by side; one Result each. `rebuild` builds the named images without the layer cache."""
    names = set(ALL_NAMES) if only is None else set(only)
    if unknown := names - set(ALL_NAMES):
        raise ImageError(f"unknown image name(s) {sorted(unknown)}; known: {list(ALL_NAMES)}")
    needed = names | {PROJECT_BASES[n] for n in names if n in PROJECT_BASES}
    # One process builds at a time; another one waits here and then finds the images it needs already built.
    with artifacts._lock("docker-images"):
        # The artifacts first, one at a time (mvn and pip into the shared cache), then the builds.
        recipes = {name: standin_recipe(name, v) for name in STANDIN_RECIPES if name in needed}
        results: dict[str, Result] = {}

        def lane(order: tuple[str, ...]) -> None:
            for name in order:
                if name in recipes:
                    results[name] = _ensure(client, recipes[name], rebuild=rebuild and name in names, echo=echo)
                elif name in names:
                    base = results[PROJECT_BASES[name]].image_id
                    results[name] = _ensure_project(client, name, v, base, rebuild, echo)

        with ThreadPoolExecutor(max_workers=len(LANES), thread_name_prefix="image-lane") as pool:
            errors = [e for e in [f.exception() for f in [pool.submit(lane, order) for order in LANES]] if e]
        if errors:
            raise errors[0]
        return [results[n] for n in ALL_NAMES if n in results]


def ensure_images(client: Any, v: Versions, echo: Echo = print) -> dict[str, str]:
    """ensure_report's images: official tag or project image name -> local image id."""
    return {r.tag: r.image_id for r in ensure_report(client, v, echo)}


def table(results: list[Result]) -> Iterator[str]:
    yield f"{'image':<62} {'built':>6} {'seconds':>8} {'rootfs s':>8} {'size':>9}"
    for r in results:
        size = f"{r.size / 1e9:.2f} GB" if r.size >= 1e9 else f"{r.size / 1e6:.0f} MB"
        built = "yes" if r.built else "cached"
        yield f"{r.tag:<62} {built:>6} {r.seconds:>8.0f} {r.base_seconds:>8.0f} {size:>9}"
    total = sum(r.seconds + r.base_seconds for r in results)
    yield f"build times summed: {total:.0f} s (two lanes build at once: see the wall-clock time below)"


def main(argv: list[str] | None = None) -> int:
    import argparse

    from lakehouse.versions import load
    from testbed import prereqs
    from testbed.docker import engine

    ap = argparse.ArgumentParser(prog="python -m testbed.docker.images", description=__doc__.split("\n\n")[0])
    ap.add_argument("names", nargs="*", help=f"only these (and their bases): {' '.join(ALL_NAMES)}")
    ap.add_argument("--rebuild", action="store_true", help="build again without Docker's layer cache")
    args = ap.parse_args(argv)

    def echo(line: str) -> None:
        print(f"[images {time.strftime('%H:%M:%S')}] {line}", flush=True)

    failures = (ImageError, rootfs.RootfsError, artifacts.ArtifactError, engine.EngineError, prereqs.PrerequisiteError)
    t0 = time.monotonic()
    try:
        client = engine.client(echo=echo)
        results = ensure_report(client, load(), echo, only=set(args.names) or None, rebuild=args.rebuild)
    except failures as exc:
        print(f"error: {exc}", flush=True)
        return 1
    for line in table(results):
        print(line)
    print(f"wall-clock time {time.monotonic() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
