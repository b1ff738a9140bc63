"""The Spark extra jars (images/spark/jars/pom.xml, resolved with mvn): what the image and the test bed
add to Spark, with nothing that Spark's own jars/ already has and no artifact in two versions."""

from __future__ import annotations

import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from lakehouse import versions
from testbed import artifacts

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def extra() -> dict[str, str]:
    jars = artifacts.spark_extra_jars(versions.load())
    return dict(artifacts.jar_artifact(p.name) for p in jars.glob("*.jar"))


@pytest.fixture(scope="module")
def spark_jars() -> dict[str, str]:
    home = artifacts.spark_home(versions.load())
    return dict(artifacts.jar_artifact(p.name) for p in (home / "jars").glob("*.jar"))


def test_the_extra_jars_are_the_ones_the_lakehouse_needs(extra: dict[str, str]) -> None:
    v = versions.load()
    assert extra[f"delta-spark_{v.spark_binary}_{v.scala}"] == v.delta
    assert extra["delta-storage"] == v.delta
    assert extra[f"spark-sql-kafka-0-10_{v.scala}"] == v.spark
    assert extra[f"spark-token-provider-kafka-0-10_{v.scala}"] == v.spark
    assert {"kafka-clients", "commons-pool2"} <= set(extra)
    assert extra["hadoop-aws"] == v.hadoop
    assert extra["bundle"] == v.aws_sdk_bundle


def test_nothing_spark_already_ships_is_added_again(extra: dict[str, str], spark_jars: dict[str, str]) -> None:
    both = sorted(set(extra) & set(spark_jars))
    assert both == [], "on Spark's class path twice (versions extra/spark): " + ", ".join(
        f"{a} {extra[a]}/{spark_jars[a]}" for a in both
    )


def test_no_artifact_in_two_versions() -> None:
    jars = artifacts.spark_extra_jars(versions.load())
    counts = Counter(artifacts.jar_artifact(p.name)[0] for p in jars.glob("*.jar"))
    assert [a for a, n in counts.items() if n > 1] == []


def test_hadoop_aws_matches_sparks_hadoop_client(spark_jars: dict[str, str]) -> None:
    assert spark_jars["hadoop-client-api"] == versions.load().hadoop


def test_aws_bundle_is_the_one_hadoop_aws_declares(tmp_path: Path) -> None:
    """versions.toml names the bundle; it must be the version hadoop-aws itself depends on."""
    v = versions.load()
    pom = tmp_path / "pom.xml"
    pom.write_text(f"""<project xmlns="http://maven.apache.org/POM/4.0.0"><modelVersion>4.0.0</modelVersion>
<groupId>t</groupId><artifactId>t</artifactId><version>1</version><packaging>pom</packaging>
<dependencies><dependency><groupId>org.apache.hadoop</groupId><artifactId>hadoop-aws</artifactId>
<version>{v.hadoop}</version></dependency></dependencies></project>""")
    out = tmp_path / "deps.txt"
    subprocess.run(
        ["mvn", "-B", "-q", "-f", str(pom), f"{artifacts.MAVEN_DEPENDENCY_PLUGIN}:list", f"-DoutputFile={out}"],
        check=True,
        timeout=600,
        capture_output=True,
    )
    declared = re.search(r"software\.amazon\.awssdk:bundle:jar:([^:\s]+)", out.read_text())
    assert declared and declared.group(1) == v.aws_sdk_bundle
