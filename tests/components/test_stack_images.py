"""Images and versions: every version comes from versions.toml, pinned, never `latest`.

The stack pulls the Kafka, ZooKeeper, MinIO and Trino images by the tags in versions.toml and builds the
Spark and Superset images from Dockerfiles whose base image and pinned versions are build args from it.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

from lakehouse.versions import VERSIONS_FILE, load

ROOT = Path(__file__).resolve().parents[2]
SPARK_DOCKERFILE = ROOT / "images/spark/Dockerfile"
SUPERSET_DOCKERFILE = ROOT / "images/superset/Dockerfile"


def images_in_versions_toml() -> dict[str, str]:
    table = tomllib.loads(VERSIONS_FILE.read_text())
    return {
        f"{section}.{key}": value
        for section, values in table.items()
        for key, value in values.items()
        if key.endswith("image")
    }


def test_every_image_is_pinned_to_a_tag_that_is_not_latest() -> None:
    images = images_in_versions_toml()
    assert len(images) >= 7
    for where, image in images.items():
        name, _, tag = image.rpartition(":")
        assert name and tag, f"{where} = {image!r} has no tag"
        assert tag != "latest" and "latest" not in tag, f"{where} = {image!r}"
        assert "@" not in name, f"{where}: use a tag, pinned in versions.toml"


def test_image_tags_agree_with_the_versions_beside_them() -> None:
    v = load()
    assert v.kafka_image.rpartition(":")[2] == v.kafka
    assert v.kafka_zookeeper_line_image.rpartition(":")[2] == v.kafka_zookeeper_line
    assert v.zookeeper_image.rpartition(":")[2] == v.zookeeper
    assert v.trino_image.rpartition(":")[2] == v.trino
    assert v.superset_image.rpartition(":")[2] == v.superset
    spark_tag = v.spark_image.rpartition(":")[2]
    assert spark_tag.startswith(f"{v.spark}-scala{v.scala}-"), spark_tag
    assert "python3" in spark_tag, "Orion and the jobs need the Python variant of the Spark image"
    assert v.kafka.split(".")[0] >= "4" and v.kafka_zookeeper_line.startswith("3.9")


def test_dockerfiles_take_their_base_and_versions_as_build_args() -> None:
    v = load()
    spark = SPARK_DOCKERFILE.read_text()
    for arg in v.spark_build_args():
        assert re.search(rf"^ARG {arg}$", spark, re.M), f"images/spark/Dockerfile does not declare ARG {arg}"
    # Every pom property is passed to mvn from the build arg that carries the same version.
    build_args = v.spark_build_args()
    for prop, value in v.maven_properties().items():
        (arg,) = [a for a, x in build_args.items() if x == value and a != "SPARK_IMAGE"]
        assert f'-D{prop}="${{{arg}}}"' in spark, f"mvn does not get -D{prop} from build arg {arg}"
    assert "-DincludeScope=runtime" in spark, "the test bed copies the runtime scope; the image must too"
    superset = SUPERSET_DOCKERFILE.read_text()
    for arg in v.superset_build_args():
        assert re.search(rf"^ARG {arg}$", superset, re.M), f"images/superset/Dockerfile lacks ARG {arg}"
    assert '"trino[sqlalchemy]==${TRINO_DRIVER_VERSION}"' in superset
    for text, path in ((spark, SPARK_DOCKERFILE), (superset, SUPERSET_DOCKERFILE)):
        froms = re.findall(r"^FROM (\S+)", text, re.M)
        assert froms and all(f.startswith("${") for f in froms), f"{path.name}: FROM must use the build arg"
        # No version number written in the Dockerfile itself.
        assert not re.search(r"==\d|:\d+\.\d+", text.replace("${TRINO_DRIVER_VERSION}", "")), path


def test_spark_image_runs_the_projects_python_for_driver_executors_and_orion() -> None:
    from components.spark import PYTHON

    # The services use 3.11 features (enum.StrEnum, datetime.UTC); the Spark base only has Ubuntu's 3.10.
    assert load().spark_build_args()["PYTHON_VERSION"] == "3.11"
    spark = SPARK_DOCKERFILE.read_text()
    assert 'uv python install "${PYTHON_VERSION}"' in spark
    assert f"PYSPARK_PYTHON={PYTHON}" in spark
    assert "PATH=/opt/lakehouse/venv/bin:$PATH" in spark
    assert PYTHON.startswith("/opt/lakehouse/venv/")


def test_spark_image_copies_what_orion_and_the_jobs_need() -> None:
    spark = SPARK_DOCKERFILE.read_text()
    for line in (
        "COPY jobs /opt/lakehouse/jobs",
        "COPY producer /opt/lakehouse/producer",
        "COPY orion /opt/lakehouse/orion",
        "COPY requirements-services.txt",
        "COPY --from=jars /opt/lakehouse/jars /opt/lakehouse/jars",
        "COPY images/spark/jars/pom.xml /build/pom.xml",
        "dependency:copy-dependencies",
    ):
        assert line in spark, line


def test_dockerignore_sends_only_what_the_spark_image_copies() -> None:
    lines = [
        x.strip() for x in (ROOT / ".dockerignore").read_text().splitlines() if x.strip() and not x.startswith("#")
    ]
    assert lines[0] == "*", ".dockerignore must start by excluding everything"
    allowed = {x[1:].rstrip("/") for x in lines if x.startswith("!")}
    assert allowed == {
        "images/spark/jars/pom.xml",
        "images/spark/python_jars.py",
        "requirements-services.txt",
        "contract",
        "jobs",
        "producer",
        "orion",
    }
    copied = set(re.findall(r"^COPY (?!--from)(\S+)", SPARK_DOCKERFILE.read_text(), re.M))
    assert copied == allowed


def test_stack_uses_exactly_the_pinned_images(default_stack, variant_stack) -> None:  # type: ignore[no-untyped-def]
    from stack_harness import REMOTE_IMAGE

    v = load()
    default_images = {r.inputs["name"] for r in default_stack.of_type(REMOTE_IMAGE)}
    assert default_images == {v.kafka_image, v.minio_image, v.trino_image}
    variant_images = {r.inputs["name"] for r in variant_stack.of_type(REMOTE_IMAGE)}
    assert variant_images == {v.kafka_zookeeper_line_image, v.zookeeper_image, v.minio_image, v.trino_image}
