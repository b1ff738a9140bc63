"""No secret in the repository: detect-secrets (every plugin, its default filters) over every file git tracks or
would track (untracked but not ignored), so a credential is caught before it is committed.

A false positive is fixed where it is, with an inline `# pragma: allowlist secret` comment that says why the
string is not a secret (an environment variable's name, a test's fake value); no plugin is turned off and
there is no baseline of accepted findings. The last tests prove the scanner finds what it must, so this
cannot pass by scanning nothing.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from detect_secrets import SecretsCollection
from detect_secrets.settings import default_settings

ROOT = Path(__file__).resolve().parent.parent
# Never scanned even when present and not ignored: nothing here is written by hand.
SKIP_DIRS = {".git", ".venv", ".testbed", ".pulumi-state", ".hypothesis", "node_modules", "__pycache__"}


def repository_files() -> list[str]:
    """Tracked and untracked-but-not-ignored files that exist (relative paths)."""
    try:
        out = subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            capture_output=True,
            check=True,
        ).stdout.decode()
        names = [n for n in out.split("\0") if n]
    except (OSError, subprocess.CalledProcessError):  # not a git checkout (an unpacked archive)
        names = []
        for d, dirs, files in os.walk(ROOT):
            dirs[:] = [x for x in dirs if x not in SKIP_DIRS]
            names += [str(Path(d, f).relative_to(ROOT)) for f in files]
    return sorted(n for n in names if (ROOT / n).is_file() and not set(Path(n).parts) & SKIP_DIRS)


def scan(paths: list[str], cwd: Path) -> list[str]:
    """'path:line: type' for every finding."""
    secrets = SecretsCollection(root=str(cwd))
    with default_settings():
        secrets.scan_files(*paths)
    return sorted(
        f"{name}:{secret.line_number}: {secret.type}" for name, found in secrets.data.items() for secret in found
    )


def test_the_repository_holds_no_secret() -> None:
    files = repository_files()
    assert len(files) > 100, f"only {len(files)} files found to scan"
    assert "lakehouse/settings.py" in files and "README.md" in files
    findings = scan(files, ROOT)
    assert findings == [], (
        "detect-secrets found possible secrets; remove real ones, and mark a false positive with an inline "
        "`# pragma: allowlist secret - <why it is not one>` comment:\n" + "\n".join(findings)
    )


def test_the_scanner_finds_planted_secrets(tmp_path: Path) -> None:
    # Built at run time, so this file itself holds none.
    aws_key = "AKIA" + "Z7QW3RT5YU8IOP2A"
    private_key = "-----BEGIN RSA " + "PRIVATE KEY-----"
    password_line = "db_" + 'password = "' + "Vq3-rT8!xw2Lp9#z" + '"'  # pragma: allowlist secret - planted on purpose
    (tmp_path / "leak.py").write_text(f'KEY = "{aws_key}"\n{password_line}\nPEM = """{private_key}\n"""\n')
    findings = scan(["leak.py"], tmp_path)
    kinds = {f.split(": ", 1)[1] for f in findings}
    assert {"AWS Access Key", "Private Key", "Secret Keyword"} <= kinds, findings


def test_an_allowlist_comment_is_per_line(tmp_path: Path) -> None:
    value = "Vq3-rT8!xw2Lp9#z"
    (tmp_path / "ok.py").write_text(
        f'api_password = "{value}"  # pragma: allowlist secret - a test value\napi_secret = "{value}"\n'
    )
    assert scan(["ok.py"], tmp_path) == ["ok.py:2: Secret Keyword"]
