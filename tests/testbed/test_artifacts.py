"""The artifact cache: keys, build-once, atomic completion, logging binding choice, version -> new dir."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import pytest

from lakehouse import versions
from testbed import artifacts
from tests.engine import pulumi_build


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


# ----- the Pulumi CLI of the engine tests -----


FAKE_GO = """#!/bin/sh
# A stand-in for `go`: logs each call, and for `build -o OUT` writes a `pulumi` that prints VERSION_SAID.
echo "$*" >> "$GO_LOG"
echo "GOCACHE=$GOCACHE GOTOOLCHAIN=$GOTOOLCHAIN" >> "$GO_LOG"
case "$1" in
  build)
    while [ $# -gt 0 ]; do [ "$1" = "-o" ] && out="$2"; shift; done
    printf '#!/bin/sh\\necho %s\\n' "$VERSION_SAID" > "$out"; chmod +x "$out" ;;
  mod)
    if [ "$2" = "download" ]; then echo "{\\"Dir\\": \\"$SDK_DIR\\"}"; fi ;;
esac
"""


@pytest.fixture
def fake_go(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache: Path) -> Path:
    bin_dir = tmp_path / "fakebin"
    bin_dir.mkdir()
    (bin_dir / "go").write_text(FAKE_GO)
    (bin_dir / "go").chmod(0o755)
    sdk = tmp_path / "sdk" / "python" / "dist"
    sdk.mkdir(parents=True)
    (sdk / pulumi_build.PULUMI_DYNAMIC_HOST).write_text("#!/bin/sh\npython3 -u -m pulumi.dynamic $@\n")
    monkeypatch.setenv("PATH", f"{bin_dir}:{os.environ['PATH']}")
    monkeypatch.setenv("GO_LOG", str(tmp_path / "go.log"))
    monkeypatch.setenv("SDK_DIR", str(tmp_path / "sdk"))
    monkeypatch.setenv("VERSION_SAID", f"v{versions.load().pulumi_cli}")
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    return tmp_path / "go.log"


def test_pulumi_cli_is_built_with_the_recipe_and_cached(fake_go: Path, cache: Path) -> None:
    v = versions.load()
    out = pulumi_build.pulumi_cli(v)
    assert out.parent.name.startswith(f"pulumi-cli-{v.pulumi_cli}-") and out.parent.parent == cache.resolve()
    assert sorted(p.name for p in out.iterdir()) == ["pulumi", pulumi_build.PULUMI_DYNAMIC_HOST]
    assert (out / pulumi_build.PULUMI_DYNAMIC_HOST).stat().st_mode & 0o111
    calls = [line for line in fake_go.read_text().splitlines() if not line.startswith("GOCACHE=")]
    tag = f"v{v.pulumi_cli}"
    assert calls[0].startswith("mod init")
    assert calls[1] == f"mod edit -replace={pulumi_build.PULUMI_GO_REPLACES[0]}"
    assert calls[2:4] == [f"get github.com/pulumi/pulumi/pkg/v3@{tag}", "mod tidy"]
    assert calls[4].startswith("build -ldflags -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=" + tag)
    assert calls[4].endswith("github.com/pulumi/pulumi/pkg/v3/cmd/pulumi")
    assert calls[5] == f"mod download -json github.com/pulumi/pulumi/sdk/v3@{tag}"
    # Its own build cache, never another toolchain; the scratch tree (build cache included) is gone.
    envs = {line for line in fake_go.read_text().splitlines() if line.startswith("GOCACHE=")}
    assert len(envs) == 1 and "GOTOOLCHAIN=local" in next(iter(envs))
    assert list((fake_go.parent / "tmp").iterdir()) == []
    # Built once: the second call is the cache.
    fake_go.write_text("")
    assert pulumi_build.pulumi_cli(v) == out
    assert fake_go.read_text() == ""


def test_pulumi_cli_that_reports_another_version_is_refused(
    fake_go: Path, cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VERSION_SAID", "v0.0.1")
    with pytest.raises(artifacts.ArtifactError, match=r"says it is 'v0\.0\.1'"):
        pulumi_build.pulumi_cli(versions.load())
    assert list(cache.glob("pulumi-cli-*")) == []


def test_pulumi_cli_without_go_says_so(cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no go here
    with pytest.raises(artifacts.ArtifactError, match="go is not installed"):
        pulumi_build.pulumi_cli(versions.load())


def test_pulumi_cli_version_lands_in_its_own_cache_directory(monkeypatch: pytest.MonkeyPatch) -> None:
    seen = _names(monkeypatch)
    v = versions.load()
    pulumi_build.pulumi_cli(v)
    pulumi_build.pulumi_cli(dataclasses.replace(v, pulumi_cli="9.9.9"))
    assert seen[0].startswith(f"pulumi-cli-{v.pulumi_cli}-") and seen[1].startswith("pulumi-cli-9.9.9-")
