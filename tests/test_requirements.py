"""The requirement files pin exact versions, and a package listed in more than one has the same pin in each
(requirements.txt is the Pulumi program's environment, requirements-services.txt the Spark image's)."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FILES = ("requirements.txt", "requirements-services.txt", "requirements-dev.txt")
LINE = re.compile(r"^([A-Za-z0-9_.\[\]-]+)==([A-Za-z0-9_.+-]+)$")


def pins() -> dict[str, dict[str, str]]:
    """package (lower case, without extras) -> file -> version."""
    found: dict[str, dict[str, str]] = {}
    for name in FILES:
        for raw in (ROOT / name).read_text().splitlines():
            line = raw.strip()
            if not line or line.startswith(("#", "-r ")):
                continue
            m = LINE.match(line)
            assert m, f"{name}: {line!r} is not an exact pin (package==version)"
            package = re.sub(r"\[.*\]", "", m.group(1)).lower()
            found.setdefault(package, {})[name] = m.group(2)
    return found


def test_a_package_has_one_version_in_every_file() -> None:
    differing = {pkg: where for pkg, where in pins().items() if len(set(where.values())) > 1}
    assert differing == {}


def test_the_program_environment_has_what_the_providers_import() -> None:
    program = {pkg for pkg, where in pins().items() if "requirements.txt" in where}
    assert {"pulumi", "kafka-python", "requests", "pyyaml", "boto3"} <= program
