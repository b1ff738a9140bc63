"""Secrets: every credential of the lakehouse, as Pulumi secrets (whatever their origin), generated unless the user
set one with `pulumi config set --secret`: a pulumi-random password, kept in the state, so stable across `up`s.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NamedTuple

import pulumi
import pulumi_random as random

from components import containers as c
from lakehouse.settings import SECRET_KEYS


class SecretSpec(NamedTuple):
    attribute: str  # of the Secrets component
    length: int  # of a generated value (within the limits components.config checks for set values)


# Generated values are alphanumeric: MinIO, Superset and Orion accept them, through the environment, unescaped.
SPECS: dict[str, SecretSpec] = {
    "minioRootPassword": SecretSpec("minio_root_password", 32),
    "sparkS3SecretKey": SecretSpec("spark_s3_secret_key", 40),
    "trinoS3SecretKey": SecretSpec("trino_s3_secret_key", 40),
    "supersetSecretKey": SecretSpec("superset_secret_key", 64),
    "supersetAdminPassword": SecretSpec("superset_admin_password", 24),
    "orionToken": SecretSpec("orion_token", 40),
}


def _kebab(key: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "-", key).lower()


@dataclass(frozen=True)
class SecretsArgs:
    provided: Mapping[str, pulumi.Input[str]] = field(default_factory=dict)
    """Values the user set as secret config, by config key (e.g. 'orionToken'); the others are generated."""

    def __post_init__(self) -> None:
        unknown = sorted(set(self.provided) - set(SECRET_KEYS))
        if unknown:
            raise ValueError(f"SecretsArgs.provided has unknown key(s) {unknown}; allowed: {sorted(SECRET_KEYS)}")


class Secrets(pulumi.ComponentResource):
    """Children: `<name>-<key>` random.RandomPassword for each secret key the user did not set (`generated`)."""

    minio_root_password: pulumi.Output[str]
    spark_s3_secret_key: pulumi.Output[str]
    trino_s3_secret_key: pulumi.Output[str]
    superset_secret_key: pulumi.Output[str]
    superset_admin_password: pulumi.Output[str]
    orion_token: pulumi.Output[str]

    def __init__(self, name: str, args: SecretsArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Secrets", name, None, opts)
        self.generated = [key for key in SPECS if key not in args.provided]
        values = {
            spec.attribute: pulumi.Output.secret(
                args.provided[key] if key in args.provided else self._generate(f"{name}-{_kebab(key)}", spec.length)
            )
            for key, spec in SPECS.items()
        }
        self.register_outputs(c.outputs(self, **values))

    def _generate(self, resource_name: str, length: int) -> pulumi.Output[str]:
        password = random.RandomPassword(
            resource_name,
            length=length,
            special=False,
            min_lower=1,
            min_upper=1,
            min_numeric=1,
            opts=pulumi.ResourceOptions(parent=self),
        )
        return password.result
