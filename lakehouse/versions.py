"""Typed access to versions.toml, the single table of component versions: the stack's image tags and build
args, the test bed's PyPI requirements and Maven coordinates. Reading it twice yields equal objects (cached).
"""

from __future__ import annotations

import dataclasses
import functools
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.toml"


def _at(table: str, key: str) -> Any:
    """A version read from `[table] key` of versions.toml."""
    return field(metadata={"at": (table, key)})


@dataclass(frozen=True)
class Versions:
    kafka: str = _at("kafka", "version")
    kafka_image: str = _at("kafka", "image")
    kafka_zookeeper_line: str = _at("kafka_zookeeper", "version")
    kafka_zookeeper_line_image: str = _at("kafka_zookeeper", "image")
    zookeeper: str = _at("kafka_zookeeper", "zookeeper_version")
    zookeeper_image: str = _at("kafka_zookeeper", "zookeeper_image")
    spark: str = _at("spark", "version")
    scala: str = _at("spark", "scala")
    spark_image: str = _at("spark", "image")
    delta: str = _at("spark", "delta")
    hadoop: str = _at("spark", "hadoop")
    aws_sdk_bundle: str = _at("spark", "aws_sdk_bundle")
    jackson: str = _at("spark", "jackson")
    spark_image_python: str = _at("spark", "image_python")
    uv: str = _at("spark", "uv")
    trino: str = _at("trino", "version")
    trino_image: str = _at("trino", "image")
    superset: str = _at("superset", "version")
    superset_image: str = _at("superset", "image")
    superset_trino_driver: str = _at("superset", "trino_driver")
    minio_image: str = _at("minio", "image")
    seaweedfs: str = _at("seaweedfs", "version")
    pulumi_cli: str = _at("pulumi", "cli")

    @property
    def spark_binary(self) -> str:
        """Spark's major.minor ('4.2'), part of Delta's artifact name (delta-spark_4.2_2.13)."""
        return ".".join(self.spark.split(".")[:2])

    def spark_build_args(self) -> dict[str, str]:
        """Build args of images/spark/Dockerfile; the test bed passes the same to mvn as -D."""
        return {
            "SPARK_IMAGE": self.spark_image,
            "SPARK_VERSION": self.spark,
            "SPARK_BINARY": self.spark_binary,
            "SCALA_BINARY": self.scala,
            "DELTA_VERSION": self.delta,
            "HADOOP_VERSION": self.hadoop,
            "AWS_SDK_BUNDLE_VERSION": self.aws_sdk_bundle,
            "JACKSON_VERSION": self.jackson,
            "PYTHON_VERSION": self.spark_image_python,
            "UV_VERSION": self.uv,
        }

    def maven_properties(self) -> dict[str, str]:
        """Properties of images/spark/jars/pom.xml (the Spark image's extra jars)."""
        return {
            "spark.version": self.spark,
            "spark.binary": self.spark_binary,
            "scala.binary": self.scala,
            "delta.version": self.delta,
            "hadoop.version": self.hadoop,
            "awssdk.version": self.aws_sdk_bundle,
            "jackson.version": self.jackson,
        }

    def superset_build_args(self) -> dict[str, str]:
        return {"SUPERSET_IMAGE": self.superset_image, "TRINO_DRIVER_VERSION": self.superset_trino_driver}


@functools.cache
def load(path: Path = VERSIONS_FILE) -> Versions:
    with path.open("rb") as fh:
        t = tomllib.load(fh)
    return Versions(**{f.name: t[f.metadata["at"][0]][f.metadata["at"][1]] for f in dataclasses.fields(Versions)})
