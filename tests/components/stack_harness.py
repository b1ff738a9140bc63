"""Pulumi mocks that record every registered resource, and a runner for whole programs under them.

`RecordingMocks` keeps each `MockResourceArgs` (type, name, inputs as the engine would receive them,
secrets still wrapped), so tests assert on what `pulumi up` would ask Docker/MinIO/Kafka to create.
`run_stack(config)` runs the program exactly as `__main__.py` does (config loaded and validated, then
`components.lakehouse.deploy`) with the given `lakehouse:*` config and returns a `Recording`.
A plain module (not conftest) so tests/test_main.py can load it too; fixtures are in conftest.py.
The machinery lives in testbed/docker/recording.py, which the Docker check (testbed/docker) shares;
this module re-exports it and keeps what only the tests use (distinctive secrets, config variants).
"""

from __future__ import annotations

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
    Recording,
    RecordingMocks,
    RecordingMonitor,
    Registration,
    as_engine_sends,
    engine_check,
    plain,
    random_result,
    run_program,
    run_stack,
)

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
