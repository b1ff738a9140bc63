"""The Debian root filesystem the stand-in images are built FROM: `mmdebstrap` (Debian's packages only), imported
as a local image once per machine (its tag carries the hash of everything it is made of). The machine's CA
certificates go in before any package (the system bundle and Java's trust store hold them); docs, man pages and
translations stay out, as in Debian's slim images.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from testbed.artifacts import _lock
from testbed.docker import Echo
from testbed.paths import cache_dir

SUITE = "bookworm"
VARIANT = "minbase"
REPOSITORY = "lakehouse-standin/debian"
KEY_LABEL = "lakehouse.rootfs.key"
CA_DIR = Path("/usr/local/share/ca-certificates")
RECIPE = 1  # bump when the mmdebstrap options below change (it is part of the key)
# Debian's slim images leave these out (docs except copyright files, man pages, translations).
DPKG_EXCLUDES = (
    "path-exclude=/usr/share/doc/*",
    "path-include=/usr/share/doc/*/copyright",
    *(f"path-exclude=/usr/share/{d}/*" for d in ("man", "info", "groff", "lintian", "locale")),
)
APT_OPTIONS = ('Acquire::Languages "none"',)
APT_IMAGE_CONFIG = (
    # Set once the root filesystem is done (mmdebstrap needs the downloaded files): apt-get in the images' builds
    # keeps no downloaded packages nor binary caches (Debian's docker-clean hook), ~200 MB less per apt-get layer.
    'APT::Keep-Downloaded-Packages "false";',
    'Dir::Cache::pkgcache "";',
    'Dir::Cache::srcpkgcache "";',
)
CUSTOMIZE_HOOKS = (
    "printf '%s\\n' " + " ".join(f"'{line}'" for line in APT_IMAGE_CONFIG) + ' > "$1/etc/apt/apt.conf.d/90no-cache"',
    # mmdebstrap empties the package lists but leaves apt's binary caches of them (70 MB).
    'rm -f "$1"/var/cache/apt/*.bin',
)
SETUP_HOOKS = (
    # OpenJDK's postinst fails without /usr/share/man/man1, which the man-page exclusion leaves out.
    'mkdir -p "$1/usr/share/man/man1"',
)
# The one base of every stand-in (each adds its own packages with apt-get): a minbase takes 60-120 s here.
BASE_PACKAGES = ("ca-certificates",)
DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
BUILD_TIMEOUT = 1800.0  # mmdebstrap downloads and unpacks a few hundred MB: minutes, never half an hour


class RootfsError(RuntimeError):
    """The root filesystem could not be built or imported; the message has mmdebstrap's output."""


def ca_certificates() -> list[Path]:
    return sorted(CA_DIR.glob("*.crt")) if CA_DIR.is_dir() else []


def rootfs_key(packages: Sequence[str], certs: Sequence[Path], *, suite: str = SUITE, variant: str = VARIANT) -> str:
    """Hash of everything the root filesystem is made of (what mmdebstrap is told, and the CA files' contents)."""
    h = hashlib.sha256()
    parts = (f"recipe={RECIPE}", f"suite={suite}", f"variant={variant}", *sorted(set(packages)))
    for part in (*parts, *APT_OPTIONS, *DPKG_EXCLUDES, *SETUP_HOOKS, *CUSTOMIZE_HOOKS):
        h.update(part.encode() + b"\0")
    for cert in certs:
        h.update(cert.name.encode() + b"\0" + cert.read_bytes() + b"\0")
    return h.hexdigest()[:16]


def base_ref() -> str:
    """The base image's reference: its tag is the hash of its packages and this machine's CA certificates."""
    return f"{REPOSITORY}:{SUITE}-{rootfs_key(BASE_PACKAGES, ca_certificates())}"


def mmdebstrap_argv(packages: Sequence[str], certs: Sequence[Path], out: Path) -> list[str]:
    argv = ["mmdebstrap", f"--variant={VARIANT}"]
    argv += [f"--aptopt={opt}" for opt in APT_OPTIONS]
    argv += [f"--dpkgopt={opt}" for opt in DPKG_EXCLUDES]
    argv += [f"--setup-hook={hook}" for hook in SETUP_HOOKS]
    if packages:
        argv.append("--include=" + ",".join(packages))
    if certs:
        # Before any package is unpacked: the bundle and the Java trust store are built with them.
        argv.append(f'--setup-hook=mkdir -p "$1{CA_DIR}"')
        argv.append("--setup-hook=copy-in " + " ".join(str(c) for c in certs) + f" {CA_DIR}/")
    argv += [f"--customize-hook={hook}" for hook in CUSTOMIZE_HOOKS]
    argv += [SUITE, str(out)]
    return argv


def find_image(client: Any, ref: str, label: str = "", value: str = "") -> Any | None:
    """The local image `ref` (carrying `label`=`value` when a label is given), or None."""
    import docker

    try:
        image = client.images.get(ref)
    except docker.errors.ImageNotFound:
        return None
    return image if not label or (image.labels or {}).get(label) == value else None


def scratch_dir(prefix: str) -> tempfile.TemporaryDirectory[str]:
    """A temporary directory in the cache (on the disk the builds use, not a small /tmp)."""
    work = cache_dir() / "docker" / "tmp"
    work.mkdir(parents=True, exist_ok=True)
    return tempfile.TemporaryDirectory(dir=work, prefix=prefix)


def ensure_base(client: Any, echo: Echo) -> float:
    """The local base image (BASE_PACKAGES on Debian SUITE minbase), built and imported if missing: the seconds
    that took (0 when it was there)."""
    if shutil.which("mmdebstrap") is None:
        raise RootfsError("mmdebstrap is missing: `apt-get install -y mmdebstrap` (Debian's package)")
    packages, certs = sorted(set(BASE_PACKAGES)), ca_certificates()
    key = rootfs_key(packages, certs)
    ref = f"{REPOSITORY}:{SUITE}-{key}"
    with _lock(f"rootfs-{key}"):
        if find_image(client, ref, KEY_LABEL, key) is not None:
            return 0.0
        t0 = time.monotonic()
        with scratch_dir("rootfs-") as tmp:
            tar = Path(tmp) / "rootfs.tar"
            argv = mmdebstrap_argv(packages, certs, tar)
            echo(f"mmdebstrap {SUITE} {VARIANT} + {len(packages)} packages ({', '.join(packages)}) -> {ref}")
            try:
                done = subprocess.run(argv, capture_output=True, text=True, timeout=BUILD_TIMEOUT, check=False)
            except subprocess.TimeoutExpired as exc:
                raise RootfsError(f"mmdebstrap did not finish within {BUILD_TIMEOUT:.0f} s: {' '.join(argv)}") from exc
            if done.returncode != 0:
                out = (done.stdout + done.stderr)[-5000:]
                raise RootfsError(f"mmdebstrap exited {done.returncode}: {' '.join(argv)}\n{out}")
            repository, tag = ref.split(":")
            # An imported image has no configuration: PATH as Debian's images set it, and the key it is found by.
            changes = [f"ENV PATH={DEFAULT_PATH}", f"LABEL {KEY_LABEL}={key}", 'CMD ["bash"]']
            client.api.import_image_from_file(str(tar), repository=repository, tag=tag, changes=changes)
        seconds = time.monotonic() - t0
        if find_image(client, ref, KEY_LABEL, key) is None:
            raise RootfsError(f"importing the root filesystem as {ref} did not produce that image")
        echo(f"{ref}: root filesystem built and imported in {seconds:.0f} s")
        return seconds
