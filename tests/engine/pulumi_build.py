"""The Pulumi CLI of the engine tests, built from the Go module proxy (release binaries are not served on these
machines) into the test bed's artifact cache (testbed.artifacts)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lakehouse.versions import Versions
from testbed import artifacts
from testbed.paths import cache_dir

PULUMI_PKG_MODULE = "github.com/pulumi/pulumi/pkg/v3"
PULUMI_SDK_MODULE = "github.com/pulumi/pulumi/sdk/v3"
PULUMI_CMD_PACKAGE = f"{PULUMI_PKG_MODULE}/cmd/pulumi"
# pkg/v3's own go.mod replaces the clipboard module; a module that requires pkg/v3 must repeat it (Go applies
# only the main module's replaces). Its local `replace` of the sdk (../sdk) is dropped: the sdk comes from
# the module proxy at the same version.
PULUMI_GO_REPLACES = ("github.com/atotto/clipboard=github.com/tgummerer/clipboard@v0.0.0-20241001131231-d02d263e614e",)
PULUMI_DYNAMIC_HOST = "pulumi-resource-pulumi-python"
"""The Python dynamic-provider host (a shell script running `python -m pulumi.dynamic`), from the sdk module's
python/dist/; the CLI finds it on PATH."""
PULUMI_BUILD_TIMEOUT = 5400.0
"""A cold build is ~13 CPU-minutes and ~3 GB of module downloads; a loaded 2-core machine can take far longer."""


def _pulumi_tools_go() -> str:
    return f'//go:build tools\n\npackage tools\n\nimport _ "{PULUMI_CMD_PACKAGE}"\n'


def pulumi_cli(v: Versions, *, echo: Callable[[str], None] | None = None) -> Path:
    """A directory holding the Pulumi CLI `pulumi` (versions.toml [pulumi] cli) and the dynamic-provider host,
    built in a scratch module with its own Go build cache (~3.5 GB), both removed afterwards."""
    version = v.pulumi_cli
    tag = f"v{version}"
    say = echo or (lambda _line: None)

    def build(out: Path) -> None:
        bin_dir = out / "bin"
        bin_dir.mkdir()
        scratch = Path(tempfile.mkdtemp(prefix=f"pulumi-cli-{version}-"))
        env = {
            **os.environ,
            "GOCACHE": str(scratch / "gocache"),
            "GOTOOLCHAIN": "local",  # never download another Go toolchain
            "GOWORK": "off",
        }
        mod = scratch / "mod"
        mod.mkdir()

        def go(what: str, *args: str) -> str:
            return artifacts._run(
                f"Pulumi CLI {version}: {what}", ["go", *args], cwd=mod, env=env, timeout=PULUMI_BUILD_TIMEOUT
            )

        try:
            say(f"building the Pulumi CLI {version} from the Go module proxy (several CPU-minutes, once per version)")
            go("go mod init", "mod", "init", "lakehouse-pulumi-cli")
            (mod / "tools.go").write_text(_pulumi_tools_go())
            for replace in PULUMI_GO_REPLACES:
                go("go mod edit", "mod", "edit", f"-replace={replace}")
            go("go get", "get", f"{PULUMI_PKG_MODULE}@{tag}")
            go("go mod tidy", "mod", "tidy")
            go(
                "go build",
                "build",
                "-ldflags",
                f"-X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version={tag}",
                "-o",
                str(bin_dir / "pulumi"),
                PULUMI_CMD_PACKAGE,
            )
            info = json.loads(go("go mod download", "mod", "download", "-json", f"{PULUMI_SDK_MODULE}@{tag}"))
            host = Path(info["Dir"]) / "python" / "dist" / PULUMI_DYNAMIC_HOST
            if not host.is_file():
                raise artifacts.ArtifactError(f"{PULUMI_SDK_MODULE}@{tag} has no python/dist/{PULUMI_DYNAMIC_HOST}")
            shutil.copyfile(host, bin_dir / PULUMI_DYNAMIC_HOST)
            (bin_dir / PULUMI_DYNAMIC_HOST).chmod(0o755)
        finally:
            # The module cache marks its files read-only; the build cache is ours to remove.
            shutil.rmtree(scratch, ignore_errors=True)
        offline = {**os.environ, **PULUMI_OFFLINE_ENV}
        said = artifacts._run("Pulumi CLI version", [str(bin_dir / "pulumi"), "version"], env=offline)
        if said.strip() != tag:
            raise artifacts.ArtifactError(
                f"the Pulumi CLI built from {PULUMI_PKG_MODULE}@{tag} says it is {said.strip()!r}"
            )

    return artifacts.ensure(pulumi_cli_cache_name(v), build) / "bin"


def pulumi_cli_cache_name(v: Versions) -> str:
    """The cache directory of `pulumi_cli(v)` (complete once it holds `.complete`)."""
    return f"pulumi-cli-{v.pulumi_cli}-{artifacts.cache_key(PULUMI_PKG_MODULE, PULUMI_GO_REPLACES, _pulumi_tools_go())}"


def pulumi_cli_cached(v: Versions) -> bool:
    """Whether `pulumi_cli(v)` would reuse a finished build (no Go, no minutes)."""
    return (cache_dir() / pulumi_cli_cache_name(v) / ".complete").exists()


PULUMI_OFFLINE_ENV = {
    "PULUMI_SKIP_UPDATE_CHECK": "true",
    "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
}
"""What keeps the CLI from reaching out: no update check, no plugin download."""
