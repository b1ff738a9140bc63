"""Random credentials for one test bed run: generated at `up`, kept only in endpoints.json (mode 600)
and in the environment of the processes that need them."""

from __future__ import annotations

import secrets
import string
from dataclasses import asdict, dataclass

_KEY_ALPHABET = string.ascii_uppercase + string.digits


def access_key(prefix: str) -> str:
    """An AWS-style access key id: 20 upper-case letters and digits, the first four naming the owner."""
    body = "".join(secrets.choice(_KEY_ALPHABET) for _ in range(20 - len(prefix)))
    return prefix + body


def secret(nbytes: int = 30) -> str:
    return secrets.token_urlsafe(nbytes)


@dataclass(frozen=True)
class Credentials:
    s3_admin_key: str
    s3_admin_secret: str
    s3_spark_key: str
    s3_spark_secret: str
    s3_trino_key: str
    s3_trino_secret: str
    superset_secret_key: str
    superset_admin_password: str
    orion_token: str

    @classmethod
    def generate(cls) -> Credentials:
        return cls(
            s3_admin_key=access_key("TBAD"),
            s3_admin_secret=secret(),
            s3_spark_key=access_key("TBSP"),
            s3_spark_secret=secret(),
            s3_trino_key=access_key("TBTR"),
            s3_trino_secret=secret(),
            superset_secret_key=secret(48),
            superset_admin_password=secret(18),
            orion_token=secret(24),
        )

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, str]) -> Credentials:
        return cls(**{k: values[k] for k in cls.__dataclass_fields__})

    def __repr__(self) -> str:
        # Never print a secret by accident (tracebacks, pytest assertion rewriting).
        return "Credentials(<redacted>)"
