"""The artifact cache: keys, build-once, atomic completion, logging binding choice, version -> new dir."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from lakehouse import versions
from testbed import artifacts


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAKEHOUSE_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_cache_dir_follows_the_environment(cache: Path) -> None:
    from testbed.paths import cache_dir

    assert cache_dir() == cache.resolve()


def test_ensure_builds_once_and_reuses(cache: Path) -> None:
    calls = []

    def build(tmp: Path) -> None:
        calls.append(tmp)
        (tmp / "x").write_text("built")

    first = artifacts.ensure("thing-1", build)
    second = artifacts.ensure("thing-1", build)
    assert first == second == cache.resolve() / "thing-1"
    assert len(calls) == 1 and (first / "x").read_text() == "built" and (first / ".complete").exists()


def test_in_place_build_runs_in_the_final_directory(cache: Path) -> None:
    """A virtualenv records its own path: it must be built where it will live."""
    built_in: list[Path] = []
    dest = artifacts.ensure("venv-1", lambda d: built_in.append(d) or (d / "bin").mkdir(), in_place=True)
    assert built_in == [dest] and (dest / ".complete").exists() and (dest / "bin").is_dir()


@pytest.mark.parametrize("in_place", [False, True])
def test_failed_build_leaves_nothing_behind(cache: Path, in_place: bool) -> None:
    def build(tmp: Path) -> None:
        (tmp / "half").write_text("...")
        raise RuntimeError("registry said no")

    with pytest.raises(RuntimeError, match="registry said no"):
        artifacts.ensure("thing-2", build, in_place=in_place)
    assert list(cache.glob("thing-2*")) == []


def test_incomplete_directory_is_rebuilt(cache: Path) -> None:
    (cache / "thing-3").mkdir(parents=True)
    (cache / "thing-3" / "stale").write_text("from a killed fetch")
    artifacts.ensure("thing-3", lambda tmp: (tmp / "fresh").write_text("ok"))
    assert sorted(p.name for p in (cache / "thing-3").iterdir()) == [".complete", "fresh"]


def test_cache_key_changes_with_any_input() -> None:
    assert artifacts.cache_key("pom", {"a": "1"}) == artifacts.cache_key("pom", {"a": "1"})
    assert artifacts.cache_key("pom", {"a": "1"}) != artifacts.cache_key("pom", {"a": "2"})
    assert artifacts.cache_key("pom", {"a": "1"}) != artifacts.cache_key("pom2", {"a": "1"})


def _names(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    seen: list[str] = []
    monkeypatch.setattr(
        artifacts, "ensure", lambda name, build, in_place=False: seen.append(name) or Path("/nowhere") / name
    )
    return seen


def test_a_changed_version_lands_in_a_new_cache_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _names(monkeypatch)
    v = versions.load()
    v2 = dataclasses.replace(
        v, kafka="9.9.9", kafka_zookeeper_line="3.9.99", delta="9.0.0", trino="999", superset="9.9.9", seaweedfs="9.99"
    )
    for ver in (v, v2):
        artifacts.kafka_lib(ver)
        artifacts.kafka_lib(ver, zookeeper_line=True)
        artifacts.spark_extra_jars(ver)
        artifacts.trino_home(ver)
        artifacts.superset_venv(ver)
        artifacts.weed_binary(ver)
    first, second = seen[:6], seen[6:]
    assert all(a != b for a, b in zip(first, second, strict=True))
    assert first[0].startswith(f"kafka-{v.kafka}-") and second[0].startswith("kafka-9.9.9-")
    assert second[3].startswith("trino-999-") and second[4].startswith("superset-9.9.9-")


def test_logging_binding_for_kafka_4_is_log4j2s_slf4j_bridge() -> None:
    jars = ["kafka_2.13-4.4.0.jar", "log4j-core-2.24.3.jar", "log4j-api-2.24.3.jar", "slf4j-api-1.7.36.jar"]
    assert artifacts.logging_binding(jars) == ("org.apache.logging.log4j", "log4j-slf4j-impl", "2.24.3")
    jars2 = ["log4j-core-2.25.0.jar", "slf4j-api-2.0.17.jar"]
    assert artifacts.logging_binding(jars2) == ("org.apache.logging.log4j", "log4j-slf4j2-impl", "2.25.0")


def test_logging_binding_for_kafka_39_is_reload4j() -> None:
    jars = ["kafka_2.13-3.9.2.jar", "slf4j-api-1.7.36.jar", "zookeeper-3.8.6.jar"]
    assert artifacts.logging_binding(jars) == ("org.slf4j", "slf4j-reload4j", "1.7.36")


def test_no_second_binding_when_one_is_there() -> None:
    assert artifacts.logging_binding(["slf4j-api-1.7.36.jar", "slf4j-reload4j-1.7.36.jar"]) is None


def test_jar_names_parse_into_artifact_and_version() -> None:
    assert artifacts.jar_artifact("log4j-core-2.24.3.jar") == ("log4j-core", "2.24.3")
    assert artifacts.jar_artifact("delta-spark_4.2_2.13-4.4.0.jar") == ("delta-spark_4.2_2.13", "4.4.0")
    assert artifacts.jar_artifact("wildfly-openssl-2.2.5.Final.jar") == ("wildfly-openssl", "2.2.5.Final")
    assert artifacts.jar_artifact("zstd-jni-1.5.7-7.jar") == ("zstd-jni", "1.5.7-7")
    assert artifacts.jar_artifact("spark-sql-kafka-0-10_2.13-4.2.0.jar") == ("spark-sql-kafka-0-10_2.13", "4.2.0")
    assert artifacts.jar_artifact("netty-tcnative-boringssl-static-2.0.76.Final-linux-x86_64.jar") == (
        "netty-tcnative-boringssl-static",
        "2.0.76.Final-linux-x86_64",
    )
    assert artifacts.jar_artifact("json-20231013.jar") == ("json", "20231013")
    with pytest.raises(ValueError, match="not a versioned jar"):
        artifacts.jar_artifact("README.txt")


def test_spark_pom_takes_every_version_from_versions_toml() -> None:
    import re

    pom = artifacts.SPARK_JARS_POM.read_text()
    used = set(re.findall(r"\$\{([a-z.]+)\}", pom))
    assert used == set(versions.load().maven_properties())
    deps = pom[pom.index("<dependencyManagement>") : pom.index("<build>")]
    assert not re.search(r"<version>\d", deps), "no literal dependency version in the pom"


def test_superset_requirements_pin_every_package() -> None:
    for req in artifacts.SUPERSET_EXTRAS:
        assert "==" in req, req


def test_versions_toml_jackson_is_sparks() -> None:
    """The pom aligns Delta Kernel's Jackson module with Spark's Jackson: versions.toml must say which."""
    home = artifacts.spark_home(versions.load())
    databind = [p.name for p in (home / "jars").glob("jackson-databind-*.jar")]
    assert databind == [f"jackson-databind-{versions.load().jackson}.jar"]
