"""Pulumi mocks that record every registered resource, and a runner for whole programs under them.

`RecordingMocks` keeps each `MockResourceArgs` (type, name, inputs as the engine would receive them,
secrets still wrapped), so tests assert on what `pulumi up` would ask Docker/MinIO/Kafka to create.
`run_stack(config)` runs the program exactly as `__main__.py` does (config loaded and validated, then
`components.lakehouse.deploy`) with the given `lakehouse:*` config and returns a `Recording`.
A plain module (not conftest) so tests/test_main.py can load it too; fixtures are in conftest.py.
The machinery lives in testbed/docker/recording.py, which the Docker check (testbed/docker) shares;
this module re-exports it and keeps what only the tests use (distinctive fakes and secrets, the recording's
look-ups, config variants).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pulumi
from google.protobuf import json_format

from testbed.docker import recording
from testbed.docker.recording import (  # noqa: F401 - re-exported for the tests
    CONTAINER,
    DYNAMIC_PREFIX,
    IMAGE,
    KAFKA_TOPIC,
    MINIO_ATTACHMENT,
    MINIO_BUCKET,
    MINIO_POLICY,
    MINIO_PROVIDER,
    MINIO_USER,
    NETWORK,
    PROJECT,
    RANDOM_PASSWORD,
    REMOTE_IMAGE,
    STACK,
    VOLUME,
    DynamicCheckFailed,
    as_engine_sends,
    engine_check,
    plain,
)


def random_result(name: str, length: int) -> str:
    """The tests' pulumi-random password named `name`: distinctive, of its length."""
    return ("RANDOM" + hashlib.sha512(name.encode()).hexdigest())[:length]


class RecordingMocks(recording.RecordingMocks):
    """The recording mocks answering with distinctive fakes."""

    def answer(self, args: pulumi.runtime.MockResourceArgs) -> dict[str, Any]:
        if args.typ == RANDOM_PASSWORD:
            return {"result": random_result(args.name, int(args.inputs["length"]))}
        if args.typ == REMOTE_IMAGE:
            return {"imageId": "sha256:" + hashlib.sha256(str(args.inputs.get("name")).encode()).hexdigest()}
        if args.typ == IMAGE:
            return {"repoDigest": "sha256:" + hashlib.sha256(args.name.encode()).hexdigest()}
        if args.typ == NETWORK:
            return {"name": args.inputs.get("name", args.name)}
        return {}


@dataclass(frozen=True)
class Registration(recording.Registration):
    """A registration with what the engine acts on at replacement and the outputs as the state keeps them (secrets
    as Pulumi's envelopes)."""

    replacement_trigger: Any = None
    delete_before_replace: bool = False
    outputs: dict[str, Any] = field(default_factory=dict)
    additional_secret_outputs: tuple[str, ...] = ()


class RecordingMonitor(recording.RecordingMonitor):
    def registration(self, request: Any, response: Any) -> Registration:
        has_trigger = request.HasField("replacement_trigger")
        return Registration(
            **vars(super().registration(request, response)),
            replacement_trigger=json_format.MessageToDict(request.replacement_trigger) if has_trigger else None,
            delete_before_replace=request.deleteBeforeReplace,
            outputs=json_format.MessageToDict(response.object),
            additional_secret_outputs=tuple(request.additionalSecretOutputs),
        )


@dataclass
class Recording(recording.Recording):
    """What one program run registered and exported, with the tests' look-ups."""

    def of_type(self, typ: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ == typ]

    def registration(self, typ: str, name: str) -> Registration:
        (found,) = [r for r in self.registrations if r.type == typ and r.name == name]
        return found

    def urn(self, typ: str, name: str) -> str:
        return self.registration(typ, name).urn

    def depends_on(self, typ: str, name: str) -> frozenset[str]:
        """URNs the resource waits for (depends_on and resources whose outputs it takes as inputs)."""
        return self.registration(typ, name).dependencies

    def containers(self) -> dict[str, dict[str, Any]]:
        """Container inputs (secrets unwrapped) by hostname (kafka-1, minio, ...: the same in every stack)."""
        return {plain(r.inputs)["hostname"]: plain(r.inputs) for r in self.of_type(CONTAINER)}

    def raw_containers(self) -> dict[str, dict[str, Any]]:
        """Container inputs as recorded (secrets still wrapped), by hostname."""
        return {plain(r.inputs["hostname"]): r.inputs for r in self.of_type(CONTAINER)}

    def docker_names(self, typ: str) -> set[str]:
        """The Docker names (`name` input) of every resource of type `typ` (containers, volumes, networks)."""
        return {plain(r.inputs)["name"] for r in self.of_type(typ)}

    def env(self, container: str) -> dict[str, str]:
        return dict(e.split("=", 1) for e in self.containers()[container].get("envs") or [])

    def uploads(self, container: str) -> dict[str, str]:
        return {u["file"]: u["content"] for u in self.containers()[container].get("uploads") or []}


def run_program(
    program: Callable[[], Mapping[str, Any] | None],
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: recording.RecordingMocks | None = None,
    stack: str = STACK,
) -> Recording:
    """Run `program` under `mocks` (fresh RecordingMocks by default) with `lakehouse:*` config."""
    mocks = mocks if mocks is not None else RecordingMocks()
    rec = recording.run_program(program, config, secret_keys, mocks=mocks, stack=stack, monitor_type=RecordingMonitor)
    return Recording(**vars(rec))


def run_stack(
    config: Mapping[str, str] | None = None,
    secret_keys: list[str] | None = None,
    mocks: recording.RecordingMocks | None = None,
    stack: str = STACK,
) -> Recording:
    """The whole program, as `__main__.py` runs it (config loaded and validated first)."""
    mocks = mocks if mocks is not None else RecordingMocks()
    rec = recording.run_stack(config, secret_keys, mocks=mocks, stack=stack, monitor_type=RecordingMonitor)
    return Recording(**vars(rec))


# Distinctive secret values: a test scans every recorded input and output for them.
SECRET_CONFIG = {
    "minioRootPassword": "MINIO-root-Zq81xW4vT6",  # pragma: allowlist secret - a test's fake
    "sparkS3SecretKey": "SPARK-s3-Kd93hV2mP7yR",  # pragma: allowlist secret - a test's fake
    "trinoS3SecretKey": "TRINO-s3-Lm27cB9qX4wE",  # pragma: allowlist secret - a test's fake
    "supersetSecretKey": "SUPERSET-secret-key-Gh48nJ1sF5tY0uI3oP6aS9",  # pragma: allowlist secret - a test's fake
    "supersetAdminPassword": "ADMIN-pw-Vb52kQ8zN1",  # pragma: allowlist secret - a test's fake
    "orionToken": "ORION-token-Ws63eR7tU2iO",  # pragma: allowlist secret - a test's fake
}


VARIANT = {"kafkaBrokers": "5", "sparkWorkers": "3", "kafkaMode": "zookeeper"}
# KRaft with broker-only nodes: 3 controllers + 2 brokers (the default quorum, more brokers).
KRAFT_FIVE = {"kafkaBrokers": "5"}


def run_default() -> Recording:
    """Default config; every secret generated (mocked pulumi-random)."""
    return run_stack()


def run_variant() -> Recording:
    """5 brokers, 3 workers, ZooKeeper mode; every secret set via `config set --secret` (distinctive values)."""
    return run_stack({**VARIANT, **SECRET_CONFIG}, secret_keys=list(SECRET_CONFIG))
