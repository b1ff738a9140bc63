"""Kafka topic administration with kafka-python's admin client: create (or adopt), describe, update, delete.

Every function takes a bootstrap string, retries while the cluster is still starting, and fails with a message
naming the operation, the topic and the brokers. kafka-python is imported inside functions (stdlib-only import).
"""

from __future__ import annotations

import contextlib
import time
from typing import Any

CLIENT_ID = "lakehouse"
# Broker answers that mean "not yet": the quorum or some brokers are still starting (NoBrokersAvailable is
# kafka-python 2.x's "cannot bootstrap").
RETRIABLE_ERRORS = (
    "NoBrokersAvailable NodeNotReadyError KafkaTimeoutError KafkaConnectionError RequestTimedOutError "
    "NotControllerError InvalidReplicationFactorError LeaderNotAvailableError BrokerNotAvailableError"
).split()


def topic_state(description: dict[str, Any]) -> dict[str, Any]:
    """name, partitions, replication factor and topic id from one entry of kafka-python's describe_topics()."""
    partitions = description.get("partitions") or []
    replicas = {len(p.get("replica_nodes") or []) for p in partitions}
    topic_id = description.get("topic_id")
    return {
        "name": description["name"],
        "partitions": len(partitions),
        "replication_factor": max(replicas) if replicas else 0,
        "topic_id": str(topic_id) if topic_id else None,
    }


class TopicExistsError(RuntimeError):
    """The topic exists and the caller may not adopt it (it did not say so, and cannot prove it made it)."""


def _pending_deletion(exc: BaseException) -> bool:
    """A delete is still in progress (ZooKeeper mode says "marked for deletion"): the name is not free yet."""
    return "marked for deletion" in str(exc).lower()


def is_retriable(exc: BaseException) -> bool:
    """True for the errors a starting cluster answers with, and for a name whose deletion is still in progress;
    others (bad request, auth, a topic that exists) fail at once."""
    return _pending_deletion(exc) or type(exc).__name__ in RETRIABLE_ERRORS or getattr(exc, "retriable", False) is True


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
    """name/partitions/replication_factor/topic_id/configs of the topic, or None when it does not exist."""
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


def cluster_id(bootstrap: str, *, timeout_seconds: float = 60) -> str:
    """The cluster id the brokers report (in KRaft mode the one `kafka-storage.sh format` was given)."""
    return _retry(
        "describe of the cluster", bootstrap, timeout_seconds, lambda admin: admin.describe_cluster()["cluster_id"]
    )


def _set_configs(admin: Any, name: str, configs: dict[str, str]) -> None:
    from kafka.admin import ConfigResource, ConfigResourceType

    if configs:
        admin.alter_configs([ConfigResource(ConfigResourceType.TOPIC, name, dict(configs))])


def _settled_state(admin: Any, name: str, partitions: int) -> dict[str, Any]:
    """The topic's state once the broker asked knows it whole: its id and at least `partitions` partitions (a
    broker's metadata cache may lag a create the controller confirmed, reporting the topic unknown meanwhile)."""
    deadline = time.monotonic() + 30
    while True:
        (description,) = admin.describe_topics([name])
        state = topic_state(description)
        known = not description.get("error_code") and state["topic_id"] and state["partitions"] >= partitions
        if known or time.monotonic() >= deadline:
            return state
        time.sleep(0.5)


def _take_existing(
    admin: Any, where: str, name: str, *, own: bool, adopt_existing: bool, partitions: int, replication_factor: int
) -> None:
    """A topic of that name exists: refuse it unless it is the caller's (`own`) or may be adopted; check its
    replication factor, raise its partitions."""
    if not own and not adopt_existing:
        raise TopicExistsError(
            f"topic {name!r} already exists on the cluster at {where} and this stack did not create it: set "
            "`lakehouse:kafkaTopicAdoptExisting true` to adopt it (the stack then manages its partitions and "
            "configs and leaves it on Kafka at `destroy`), or delete the topic, or choose another "
            "`lakehouse:kafkaTopic`"
        )
    (description,) = admin.describe_topics([name])
    current = topic_state(description)
    if current["replication_factor"] != replication_factor:
        raise ValueError(
            f"topic {name!r} exists with replication factor {current['replication_factor']}, "
            f"not {replication_factor}; delete it or set the replication the cluster has"
        )
    if current["partitions"] < partitions:
        admin.create_partitions({name: partitions})


def create_topic(
    bootstrap: str,
    name: str,
    *,
    partitions: int,
    replication_factor: int,
    configs: dict[str, str] | None = None,
    timeout_seconds: float = 120,
    adopt_existing: bool = True,
    owner_cluster_id: str | None = None,
) -> dict[str, Any]:
    """Create the topic, or take an existing one as the caller's own (`created`: this call sent its create, or the
    cluster's id is `owner_cluster_id`, one the caller formatted itself) or as `adopted` (`adopt_existing`), else
    refuse it (TopicExistsError). An existing topic must have `replication_factor`; its partitions are raised and
    `configs` set. A topic this call created is deleted again (best effort) if the call then fails, so a retry
    starts clean. Returns the live state plus `adopted`, `created` and `cluster_id`."""
    configs = dict(configs or {})
    # "sent": an earlier attempt of this call sent the create request (its answer was lost: a timeout);
    # "made": Kafka confirmed this call created the topic.
    this_call = {"sent": False, "made": False}

    def action(admin: Any) -> dict[str, Any]:
        from kafka.errors import TopicAlreadyExistsError

        sent_before = this_call["sent"]
        this_call["sent"] = True
        adopted, created = False, True
        try:
            admin.create_topics(
                {name: {"num_partitions": partitions, "replication_factor": replication_factor, "configs": configs}},
                timeout_ms=30000,
                wait_for_metadata=True,
            )
            this_call["made"] = True
        except TopicAlreadyExistsError as exc:
            if _pending_deletion(exc):
                raise  # retriable: the name is free once the deletion completes
            live_cluster = admin.describe_cluster()["cluster_id"]
            owner = owner_cluster_id is not None and live_cluster == owner_cluster_id
            own = this_call["made"] or sent_before or owner
            where = f"{bootstrap} (cluster id {live_cluster})"
            _take_existing(
                admin, where, name, own=own, adopt_existing=adopt_existing, partitions=partitions,
                replication_factor=replication_factor,
            )  # fmt: skip
            adopted, created = not own, own
            _set_configs(admin, name, configs)
        state = _settled_state(admin, name, partitions)
        live = admin.describe_cluster()["cluster_id"]
        return {**state, "configs": configs, "adopted": adopted, "created": created, "cluster_id": live}

    try:
        return _retry(f"create of topic {name!r}", bootstrap, timeout_seconds, action)
    except Exception:
        if this_call["made"]:
            with contextlib.suppress(Exception):
                delete_topic(bootstrap, name, timeout_seconds=min(timeout_seconds, 60))
        raise


def update_topic(
    bootstrap: str, name: str, *, partitions: int, configs: dict[str, str] | None = None, timeout_seconds: float = 120
) -> dict[str, Any]:
    """Raise the partition count to `partitions` (never lowers it) and set `configs`."""
    configs = dict(configs or {})

    def action(admin: Any) -> dict[str, Any]:
        (description,) = admin.describe_topics([name])
        if topic_state(description)["partitions"] < partitions:
            admin.create_partitions({name: partitions})
        _set_configs(admin, name, configs)
        return {**_settled_state(admin, name, partitions), "configs": configs}

    return _retry(f"update of topic {name!r}", bootstrap, timeout_seconds, action)


def delete_topic(bootstrap: str, name: str, *, timeout_seconds: float = 60, topic_id: str | None = None) -> bool:
    """Delete the topic and wait until no broker lists it or holds a log directory of it (a replacement deletes,
    then creates the name at once). False if there was nothing to delete: no such topic, or with `topic_id`, a
    topic of that name re-created by someone else since."""
    sent = {"delete": False}  # an earlier attempt sent the delete and lost the answer (a timeout)

    def action(admin: Any) -> bool:
        from kafka.errors import UnknownTopicOrPartitionError

        if topic_id is not None and not sent["delete"]:
            (description,) = admin.describe_topics([name])
            live = topic_state(description)["topic_id"] if not description.get("error_code") else None
            if live is None or live != topic_id:
                return False
        sent_before, sent["delete"] = sent["delete"], True
        try:
            admin.delete_topics([name], timeout_ms=30000)
        except UnknownTopicOrPartitionError:
            return sent_before
        return True

    deadline = time.monotonic() + timeout_seconds
    deleted = _retry(f"delete of topic {name!r}", bootstrap, timeout_seconds, action)
    if deleted:
        wait_until_gone(bootstrap, name, timeout_seconds=max(deadline - time.monotonic(), 30))
    return deleted


def _still_there(admin: Any, name: str) -> list[str]:
    """Where the topic can still be seen: 'metadata' and/or 'broker <id>' for each broker with a log dir of it."""
    where = ["metadata"] if name in admin.list_topics() else []
    for broker in admin.describe_log_dirs():
        topics = [t for log_dir in broker.get("log_dirs") or [] for t in log_dir.get("topics") or []]
        if any(t.get("name") == name and t.get("partitions") for t in topics):
            where.append(f"broker {broker['broker']}")
    return where


def wait_until_gone(bootstrap: str, name: str, *, timeout_seconds: float = 120) -> None:
    """Wait until no broker knows the topic (see delete_topic); TimeoutError naming where it still is."""
    deadline = time.monotonic() + timeout_seconds
    where: list[str] = []
    while True:
        where = _retry(
            f"check that topic {name!r} is gone",
            bootstrap,
            max(deadline - time.monotonic(), 1),
            lambda admin: _still_there(admin, name),
        )
        if not where:
            return
        if time.monotonic() >= deadline:
            raise TimeoutError(
                f"topic {name!r} was deleted at {bootstrap} but is still present ({', '.join(where)}) "
                f"after {timeout_seconds:.0f} s"
            )
        time.sleep(0.5)
