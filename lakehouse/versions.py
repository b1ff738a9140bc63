"""Typed access to versions.toml, the single table of component versions.

The stack turns these into image tags and Docker build args; the test bed turns them into
PyPI requirements and Maven coordinates. Reading it twice yields equal objects (cached).
"""

from __future__ import annotations

import functools
import tomllib
from dataclasses import dataclass
from pathlib import Path

VERSIONS_FILE = Path(__file__).resolve().parent.parent / "versions.toml"


@dataclass(frozen=True)
class Versions:
    kafka: str
    kafka_image: str
    kafka_zookeeper_line: str
    kafka_zookeeper_line_image: str
    zookeeper: str
    zookeeper_image: str
    spark: str
    scala: str
    spark_image: str
    delta: str
    hadoop: str
    aws_sdk_bundle: str
    jackson: str
    spark_image_python: str
    uv: str
    trino: str
    trino_image: str
    superset: str
    superset_image: str
    superset_trino_driver: str
    minio_image: str
    seaweedfs: str
    pulumi_cli: str

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
    return Versions(
        kafka=t["kafka"]["version"],
        kafka_image=t["kafka"]["image"],
        kafka_zookeeper_line=t["kafka_zookeeper"]["version"],
        kafka_zookeeper_line_image=t["kafka_zookeeper"]["image"],
        zookeeper=t["kafka_zookeeper"]["zookeeper_version"],
        zookeeper_image=t["kafka_zookeeper"]["zookeeper_image"],
        spark=t["spark"]["version"],
        scala=t["spark"]["scala"],
        spark_image=t["spark"]["image"],
        delta=t["spark"]["delta"],
        hadoop=t["spark"]["hadoop"],
        aws_sdk_bundle=t["spark"]["aws_sdk_bundle"],
        jackson=t["spark"]["jackson"],
        spark_image_python=t["spark"]["image_python"],
        uv=t["spark"]["uv"],
        trino=t["trino"]["version"],
        trino_image=t["trino"]["image"],
        superset=t["superset"]["version"],
        superset_image=t["superset"]["image"],
        superset_trino_driver=t["superset"]["trino_driver"],
        minio_image=t["minio"]["image"],
        seaweedfs=t["seaweedfs"]["version"],
        pulumi_cli=t["pulumi"]["cli"],
    )
