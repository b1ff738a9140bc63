"""Kafka topic administration with kafka-python's admin client: create (or adopt), describe, update, delete.

Shared by the stack's KafkaTopic dynamic provider (components/providers/kafka_topic.py), which runs them
from the host against the brokers' HOST listeners, and by the test bed, which creates the events topic
the same way after its brokers are up. Every function takes a bootstrap string, retries while the
cluster is still starting, and fails with a message naming the operation, the topic and the brokers.
kafka-python is imported inside functions, so importing this module needs nothing beyond the stdlib.
"""

from __future__ import annotations

import time
from typing import Any

CLIENT_ID = "lakehouse"
# Broker answers that mean "not yet": the quorum or some brokers are still starting.
RETRIABLE_ERRORS = (
    "NoBrokersAvailable",  # kafka-python 2.x name of "cannot bootstrap"
    "NodeNotReadyError",
    "KafkaTimeoutError",
    "KafkaConnectionError",
    "RequestTimedOutError",
    "NotControllerError",
    "InvalidReplicationFactorError",
    "LeaderNotAvailableError",
    "BrokerNotAvailableError",
)


def topic_state(description: dict[str, Any]) -> dict[str, Any]:
    """name, partitions and replication factor from one entry of kafka-python's describe_topics()."""
    partitions = description.get("partitions") or []
    replicas = {len(p.get("replica_nodes") or []) for p in partitions}
    return {
        "name": description["name"],
        "partitions": len(partitions),
        "replication_factor": max(replicas) if replicas else 0,
    }


def is_retriable(exc: BaseException) -> bool:
    """True for the errors a starting cluster answers with; others (bad request, auth) fail at once."""
    return type(exc).__name__ in RETRIABLE_ERRORS or getattr(exc, "retriable", False) is True


# ----- talking to Kafka (callable directly with a bootstrap string) -----


def _admin(bootstrap: str, timeout_seconds: float) -> Any:
    from kafka import KafkaAdminClient

    return KafkaAdminClient(
        bootstrap_servers=bootstrap.split(","),
        client_id=CLIENT_ID,
        request_timeout_ms=int(min(max(timeout_seconds, 1), 30) * 1000),
        # Give up on one bootstrap attempt early; _retry decides whether to try again.
        bootstrap_timeout_ms=int(min(max(timeout_seconds, 1), 10) * 1000),
    )


def _retry(what: str, bootstrap: str, timeout_seconds: float, action: Any) -> Any:
    """Run `action(admin)` until it succeeds, a non-retriable error occurs or the time is up."""
    deadline = time.monotonic() + timeout_seconds
    while True:
        admin = None
        try:
            admin = _admin(bootstrap, timeout_seconds)
            return action(admin)
        except Exception as exc:
            if not is_retriable(exc) or time.monotonic() >= deadline:
                raise RuntimeError(f"Kafka {what} at {bootstrap} failed: {type(exc).__name__}: {exc}") from exc
            time.sleep(2)
        finally:
            if admin is not None:
                admin.close()


def describe_topic(bootstrap: str, name: str, *, timeout_seconds: float = 60) -> dict[str, Any] | None:
    """name/partitions/replication_factor/configs of the topic, or None when it does not exist."""
    from kafka.admin import ConfigResource, ConfigResourceType

    def action(admin: Any) -> dict[str, Any] | None:
        if name not in admin.list_topics():
            return None
        (description,) = admin.describe_topics([name])
        state = topic_state(description)
        found = admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, name)])
        entries = found.get("topic", {}).get(name, {})
        state["configs"] = {k: str(v.get("value")) for k, v in entries.items()}
        return state

    return _retry(f"describe of topic {name!r}", bootstrap, timeout_seconds, action)


def _set_configs(admin: Any, name: str, configs: dict[str, str]) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    if configs:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, dict(configs))])


def create_topic(
    bootstrap: str,
    name: str,
    *,
    partitions: int,
    replication_factor: int,
    configs: dict[str, str] | None = None,
    timeout_seconds: float = 120,
) -> dict[str, Any]:
    """Create the topic, or adopt an existing one and bring it up to `partitions` and `configs`.

    Returns the live state plus `adopted` (True when the topic existed before).
    """
    configs = dict(configs or {})

    def action(admin: Any) -> dict[str, Any]:
        from kafka.errors import TopicAlreadyExistsError

        adopted = False
        try:
            admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": replication_factor, "configs": configs}},
                timeout_ms=30000,
                wait_for_metadata=True,
            )
        except TopicAlreadyExistsError:
            adopted = True
            (description,) = admin.describe_topics([name])
            current = topic_state(description)
            if current["replication_factor"] != replication_factor:
                raise ValueError(
                    f"topic {name!r} exists with replication factor {current['replication_factor']}, "
                    f"not {replication_factor}; delete it or set the replication the cluster has"
                ) from None
            if current["partitions"] < partitions:
                admin.create_partitions({name: partitions})
            _set_configs(admin, name, configs)
        (description,) = admin.describe_topics([name])
        return {**topic_state(description), "configs": configs, "adopted": adopted}

    return _retry(f"create of topic {name!r}", bootstrap, timeout_seconds, action)


def update_topic(
    bootstrap: str, name: str, *, partitions: int, configs: dict[str, str] | None = None, timeout_seconds: float = 120
) -> dict[str, Any]:
    """Raise the partition count to `partitions` (never lowers it) and set `configs`."""

    def action(admin: Any) -> dict[str, Any]:
        (description,) = admin.describe_topics([name])
        if topic_state(description)["partitions"] < partitions:
            admin.create_partitions({name: partitions})
        _set_configs(admin, name, dict(configs or {}))
        (description,) = admin.describe_topics([name])
        return {**topic_state(description), "configs": dict(configs or {})}

    return _retry(f"update of topic {name!r}", bootstrap, timeout_seconds, action)


def delete_topic(bootstrap: str, name: str, *, timeout_seconds: float = 60) -> bool:
    """Delete the topic; True if it was deleted, False if it did not exist."""

    def action(admin: Any) -> bool:
        from kafka.errors import UnknownTopicOrPartitionError

        try:
            admin.delete_topics([name], timeout_ms=30000)
        except UnknownTopicOrPartitionError:
            return False
        return True

    return _retry(f"delete of topic {name!r}", bootstrap, timeout_seconds, action)
