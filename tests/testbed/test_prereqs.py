"""Finding JDKs and explaining what is missing."""

from __future__ import annotations

from pathlib import Path

import pytest

from testbed import prereqs


def _fake_jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("#!/bin/sh\n")
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_major_version_comes_from_the_release_file(tmp_path: Path) -> None:
    assert prereqs.jdk_major(_fake_jdk(tmp_path, "a", "17.0.15")) == 17
    assert prereqs.jdk_major(_fake_jdk(tmp_path, "b", "25.0.3")) == 25
    assert prereqs.jdk_major(_fake_jdk(tmp_path, "c", "1.8.0_392")) == 8
    assert prereqs.jdk_major(tmp_path / "nothing") is None


def test_find_jdk_prefers_the_env_var_and_honours_the_minimum(tmp_path: Path, monkeypatch) -> None:
    j17 = _fake_jdk(tmp_path, "j17", "17.0.1")
    j25 = _fake_jdk(tmp_path, "j25", "25.0.1")
    monkeypatch.setenv("LAKEHOUSE_TRINO_JAVA_HOME", str(j25))
    assert prereqs.find_jdk(24, "LAKEHOUSE_TRINO_JAVA_HOME") == prereqs.Jdk(j25, 25)
    monkeypatch.setenv("LAKEHOUSE_TRINO_JAVA_HOME", str(j17))
    assert prereqs.find_jdk(24, "LAKEHOUSE_TRINO_JAVA_HOME") is None  # too old: not silently replaced


def test_missing_everything_says_what_and_how(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereqs, "find_jdk", lambda *a, **k: None)
    monkeypatch.setattr(prereqs.shutil, "which", lambda name: None)
    problems = prereqs.check()
    text = "\n".join(problems)
    assert len(problems) == 3
    assert "Java 17" in text and "apt-get install -y openjdk-17-jdk-headless" in text
    assert "Java 24" in text and "LAKEHOUSE_TRINO_JAVA_HOME" in text
    assert "Maven (mvn)" in text and "apt-get install -y maven" in text
    with pytest.raises(prereqs.PrerequisiteError, match="missing prerequisites"):
        prereqs.require()


def test_missing_chromium_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereqs.shutil, "which", lambda name: None)
    monkeypatch.setattr(prereqs, "Path", lambda p: Path("/nonexistent") / p.lstrip("/"))
    (problem,) = prereqs.browser_problems()
    assert "Chromium" in problem and "apt-get install -y chromium" in problem


def test_missing_docker_tools_say_how_to_install_them(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prereqs.shutil, "which", lambda name: None)
    monkeypatch.setattr(prereqs, "Path", lambda p: Path("/nonexistent") / p.lstrip("/"))
    engine, rootfs, busybox = prereqs.docker_problems()
    assert "apt-get install -y docker.io" in engine and "apt-get install -y mmdebstrap" in rootfs
    assert "apt-get install -y busybox-static" in busybox


def test_this_machine_has_what_the_test_bed_needs() -> None:
    """In CI this must hold (the install lines in the message are the fix); elsewhere it only informs."""
    import os

    problems = prereqs.check()
    if problems and os.environ.get("CI", "").lower() not in ("1", "true", "yes"):
        pytest.skip("; ".join(problems))
    assert problems == []
    assert prereqs.trino_jdk().major >= prereqs.TRINO_MIN_JAVA
    assert prereqs.has_vector_module(prereqs.spark_jdk())


def test_missing_prerequisites_fail_in_ci_and_skip_elsewhere() -> None:
    from testbed.session import in_ci, prerequisite_verdict

    assert prerequisite_verdict([], ci=True) is None
    verdict, msg = prerequisite_verdict(["Maven (mvn) is missing: apt-get install -y maven"], ci=True)
    assert verdict == "fail" and "apt-get install -y maven" in msg
    assert prerequisite_verdict(["x"], ci=False)[0] == "skip"
    assert in_ci({"CI": "true"}) and in_ci({"CI": "1"}) and not in_ci({}) and not in_ci({"CI": "false"})
