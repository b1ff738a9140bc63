"""Keeps credentials out of everything Orion stores or shows (logs, command lines, listings).

Secrets are the values of environment variables whose names look secret (AWS keys, tokens,
passwords) in Orion's own environment: they are passed to the jobs, so a job or Spark may print
them. Conf keys that look secret are masked whatever their value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

MASK = "***"
_SECRET_NAME = re.compile(r"(?i)(secret|passw|token|access[._-]?key|api[._-]?key|private[._-]?key)")
# pragma: allowlist nextline secret - examples of the form
# user:password@ in URLs (s3a://key:secret@bucket, http://user:pw@host).
_URL_USERINFO = re.compile(r"(?<=://)[^/\s:@]+:[^/\s@]+@")
# Values shorter than this are not scrubbed: masking "1" or "true" everywhere would garble logs.
_MIN_SECRET_LEN = 6


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


class Scrubber:
    """Replaces known secret values (and URL credentials) with ***."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        # Longest first, so a secret containing another is masked whole.
        ordered = sorted({s for s in secrets if s and len(s) >= _MIN_SECRET_LEN}, key=len, reverse=True)
        self._pattern = re.compile("|".join(re.escape(v) for v in ordered)) if ordered else None

    @classmethod
    def from_environ(cls, environ: Mapping[str, str], extra: Iterable[str] = ()) -> Scrubber:
        return cls([v for k, v in environ.items() if is_secret_name(k)] + list(extra))

    def text(self, value: str) -> str:
        if self._pattern is not None:
            value = self._pattern.sub(MASK, value)
        return _URL_USERINFO.sub(MASK + "@", value)

    def conf(self, conf: Mapping[str, str]) -> dict[str, str]:
        return {k: (MASK if is_secret_name(k) else self.text(v)) for k, v in conf.items()}

    def command(self, argv: Iterable[str]) -> list[str]:
        out: list[str] = []
        for arg in argv:
            key, sep, _ = arg.partition("=")
            out.append(f"{key}={MASK}" if sep and is_secret_name(key) else self.text(arg))
        return out

    def json(self, value: object) -> object:
        """Scrub every string inside a JSON-like value (streaming progress, offsets)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self.json(v) for v in value]
        if isinstance(value, dict):
            return {k: self.json(v) for k, v in value.items()}
        return value
