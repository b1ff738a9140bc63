"""A Kafka topic as a Pulumi resource: a dynamic provider using kafka-python's admin client from the host.

The provider runs where `pulumi up` runs and reaches the brokers through their HOST listeners
(`localhost:<port>`), the same way a producer on the host does.

- create: creates the topic, or adopts it when it already exists (a re-created stack on kept volumes),
  then raises its partitions and sets its configs to what was asked;
- update: adds partitions (Kafka cannot remove any: `check` refuses a decrease) and sets configs;
- a new name or replication factor replaces the topic (deleted first: the name is the identity);
- delete: deletes the topic; a topic that is already gone counts as deleted;
- read: describes the live topic (`pulumi refresh`).

What it does to Kafka lives in `lakehouse.kafka_topics` (create_topic, describe_topic, update_topic,
delete_topic: each takes a bootstrap string), which the test bed also uses to create the events topic, so
the real-service tests run the very code the provider runs. kafka-python is imported only inside those
functions and nothing is captured at module level: the provider is pickled into the state. The inputs
carry `provider_hash` (of this file and of lakehouse/kafka_topics.py), so an edit of either shows up as
an update.
"""

from __future__ import annotations

import hashlib
import re
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

from lakehouse import kafka_topics
from lakehouse.kafka_topics import create_topic, delete_topic, describe_topic, update_topic

TOPIC_NAME = re.compile(r"^[A-Za-z0-9._-]{1,249}$")
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


def provider_hash() -> str:
    """SHA-256 of the provider's code (this file and the admin functions it calls): part of the inputs,
    so editing either triggers an update."""
    digest = hashlib.sha256()
    for source in (Path(__file__), Path(kafka_topics.__file__)):
        digest.update(source.read_bytes())
    return digest.hexdigest()


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
