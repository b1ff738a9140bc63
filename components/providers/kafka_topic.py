"""A Kafka topic as a Pulumi resource: a dynamic provider using kafka-python's admin client from the host.

The provider runs where `pulumi up` runs and reaches the brokers through their HOST listeners
(`localhost:<port>`), the same way a producer on the host does.

- create: creates the topic, or adopts it when it already exists (a re-created stack on kept volumes),
  then raises its partitions and sets its configs to what was asked;
- update: adds partitions (Kafka cannot remove any: `check` refuses a decrease) and sets configs;
- a new name or replication factor replaces the topic (deleted first: the name is the identity);
- delete: deletes the topic; a topic that is already gone counts as deleted;
- read: describes the live topic (`pulumi refresh`).

The functions `create_topic`, `describe_topic`, `update_topic` and `delete_topic` take a bootstrap
string and are what the provider calls, so the test bed can run them against a real Kafka. Everything
kafka-python is imported inside functions and nothing is captured at module level: the provider is
pickled into the state. The inputs carry `provider_hash` (this file's SHA-256), so an edit of this file
shows up as an update.
"""

from __future__ import annotations

import hashlib
import re
import time
from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
CLIENT_ID = "lakehouse-pulumi"
# The inputs; outputs the provider adds (`adopted`) are not compared, or every `up` would see a change.
INPUT_PROPS = (
    "bootstrap_servers",
    "name",
    "partitions",
    "replication_factor",
    "configs",
    "timeout_seconds",
    "provider_hash",
)
# Properties whose change needs a new topic (a topic's replication factor cannot be edited in place here).
# A change of the others is an in-place update (bootstrap_servers and provider_hash change nothing in Kafka).
REPLACE_PROPS = ("name", "replication_factor")
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


def provider_hash() -> str:
    """SHA-256 of this file: part of the inputs, so editing the provider triggers an update."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()


# ----- pure parts (unit-tested) -----


def validate(props: dict[str, Any], olds: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(property, reason) for each input that is not allowed; an empty list when all are fine."""
    failures: list[tuple[str, str]] = []
    name = props.get("name")
    if not isinstance(name, str) or not TOPIC_NAME.match(name):
        failures.append(("name", f"topic name {name!r} must be 1-249 characters of A-Z, a-z, 0-9, '.', '_', '-'"))
    bootstrap = props.get("bootstrap_servers")
    if not isinstance(bootstrap, str) or not all(_is_host_port(p) for p in bootstrap.split(",")):
        failures.append(("bootstrap_servers", f"{bootstrap!r} must be comma-separated host:port pairs"))
    for prop in ("partitions", "replication_factor"):
        value = props.get(prop)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            failures.append((prop, f"{prop} = {value!r} must be an integer of at least 1"))
    configs = props.get("configs", {})
    if not isinstance(configs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in configs.items()):
        failures.append(("configs", f"configs = {configs!r} must map config names to string values"))
    if olds and isinstance(olds.get("partitions"), int) and isinstance(props.get("partitions"), int):
        if props.get("name") == olds.get("name") and props["partitions"] < olds["partitions"]:
            failures.append(
                (
                    "partitions",
                    f"Kafka cannot reduce the partitions of topic {name!r} from {olds['partitions']} to "
                    f"{props['partitions']}; keep {olds['partitions']} or more (or delete the topic and its data)",
                )
            )
    return failures


def _is_host_port(text: str) -> bool:
    host, _, port = text.strip().rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def diff(olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str]]:
    """(changed, properties forcing a replacement) between the stored and the new inputs."""
    changed = [k for k in INPUT_PROPS if olds.get(k) != news.get(k)]
    replaces = [k for k in REPLACE_PROPS if k in changed]
    return bool(changed), replaces


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


# ----- the provider -----


class KafkaTopicProvider(ResourceProvider):
    """CRUD of one topic; the resource id is the topic name."""

    # It captures no secret, so its pickled form need not be a secret in the state.
    serialize_as_secret_always = False

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        failures = [CheckFailure(prop, reason) for prop, reason in validate(news, olds or None)]
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed, replaces = diff(olds, news)
        return DiffResult(changes=changed, replaces=replaces, stables=[], delete_before_replace=bool(replaces))

    def create(self, props: dict[str, Any]) -> CreateResult:
        state = create_topic(
            props["bootstrap_servers"],
            props["name"],
            partitions=int(props["partitions"]),
            replication_factor=int(props["replication_factor"]),
            configs=props.get("configs") or {},
            timeout_seconds=float(props.get("timeout_seconds", 120)),
        )
        return CreateResult(props["name"], {**props, "adopted": state["adopted"]})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = describe_topic(props["bootstrap_servers"], id_)
        if state is None:
            return ReadResult(None, {})
        wanted = set((props.get("configs") or {}).keys())
        configs = {k: v for k, v in state["configs"].items() if k in wanted}
        outs = {
            **props,
            "partitions": state["partitions"],
            "replication_factor": state["replication_factor"],
            "configs": configs,
        }
        return ReadResult(id_, outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        update_topic(
            news["bootstrap_servers"],
            news["name"],
            partitions=int(news["partitions"]),
            configs=news.get("configs") or {},
            timeout_seconds=float(news.get("timeout_seconds", 120)),
        )
        return UpdateResult({**news, "adopted": olds.get("adopted", False)})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        delete_topic(props["bootstrap_servers"], id_)


class KafkaTopic(pulumi.dynamic.Resource, module="lakehouse", name="KafkaTopic"):
    """A topic on the cluster reachable at `bootstrap_servers` (host-reachable addresses)."""

    name: pulumi.Output[str]
    partitions: pulumi.Output[int]
    replication_factor: pulumi.Output[int]

    def __init__(
        self,
        resource_name: str,
        *,
        bootstrap_servers: pulumi.Input[str],
        topic: pulumi.Input[str],
        partitions: pulumi.Input[int],
        replication_factor: pulumi.Input[int],
        configs: pulumi.Input[dict[str, str]] | None = None,
        timeout_seconds: int = 120,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "bootstrap_servers": bootstrap_servers,
            "name": topic,
            "partitions": partitions,
            "replication_factor": replication_factor,
            "configs": configs or {},
            "timeout_seconds": timeout_seconds,
            "provider_hash": provider_hash(),
            "adopted": None,
        }
        super().__init__(KafkaTopicProvider(), resource_name, props, opts)
