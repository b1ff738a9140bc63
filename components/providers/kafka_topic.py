"""A Kafka topic as a Pulumi resource: a dynamic provider using kafka-python's admin client from the host, through
the brokers' HOST listeners, with `lakehouse.clients.kafka_topic` (which the test bed uses too).

- create: an existing topic of that name is taken back when it lives on the stack's own KRaft cluster
  (`owner_cluster_id`: kept volumes after a lost state), adopted when the user said so (`adopt_existing`),
  refused otherwise; update raises partitions (never lowers them) and sets configs;
- a new name or replication factor replaces the topic (the old one deleted first); an adopted topic is never
  deleted, and delete leaves a topic re-created by someone else (another topic id) alone;
- read (`pulumi refresh`): the live topic, also the inputs of the next diff, so drift shows up.
kafka-python is imported only inside the client's functions (the provider is pickled into the state).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, UpdateResult

from components.providers import inputs as provider_inputs
from components.providers.inputs import Provider, code_hash, with_ints
from contract import names
from contract.names import TOPIC_RULE, is_topic_name
from lakehouse.clients import kafka_topic
from lakehouse.clients.kafka_topic import create_topic, delete_topic, describe_topic, update_topic

INT_PROPS = ("partitions", "replication_factor", "timeout_seconds")
# What a diff compares: not the outputs (OUTPUT_PROPS), nor the inputs that matter only at create (ADOPTION_PROPS).
INPUT_PROPS = (
    "bootstrap_servers",
    "name",
    "partitions",
    "replication_factor",
    "configs",
    "timeout_seconds",
    "provider_hash",
)
# A topic's replication factor cannot be edited in place here; a change of the others is an in-place update.
REPLACE_PROPS = ("name", "replication_factor")
ADOPTION_PROPS = ("adopt_existing", "owner_cluster_id")
OUTPUT_PROPS = ("adopted", "created", "topic_id")


def provider_hash() -> str:
    return code_hash(*provider_sources())


def provider_sources() -> tuple[Path, ...]:
    """The files whose code the provider runs (besides the SDK and kafka-python)."""
    return (Path(__file__), Path(kafka_topic.__file__), Path(provider_inputs.__file__), Path(names.__file__))


def validate(props: dict[str, Any], olds: dict[str, Any] | None = None) -> list[tuple[str, str]]:
    """(property, reason) for each input that is not allowed (`olds`: a decrease of partitions is not)."""
    failures: list[tuple[str, str]] = []
    name = props.get("name")
    if not is_topic_name(name):
        failures.append(("name", f"topic name {name!r} must be {TOPIC_RULE}"))
    bootstrap = props.get("bootstrap_servers")
    if not isinstance(bootstrap, str) or not all(_is_host_port(p) for p in bootstrap.split(",")):
        failures.append(("bootstrap_servers", f"{bootstrap!r} must be comma-separated host:port pairs"))
    for prop in ("partitions", "replication_factor"):
        value = props.get(prop)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            failures.append((prop, f"{prop} = {value!r} must be an integer of at least 1"))
    timeout = props.get("timeout_seconds", 120)
    if not isinstance(timeout, int | float) or isinstance(timeout, bool) or timeout <= 0:
        failures.append(("timeout_seconds", f"timeout_seconds = {timeout!r} must be a number of seconds above 0"))
    if not isinstance(props.get("adopt_existing", False), bool):
        failures.append(("adopt_existing", f"adopt_existing = {props.get('adopt_existing')!r} must be true or false"))
    owner = props.get("owner_cluster_id")
    if owner is not None and not isinstance(owner, str):
        failures.append(("owner_cluster_id", f"owner_cluster_id = {owner!r} must be a cluster id string"))
    configs = props.get("configs", {})
    if not isinstance(configs, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in configs.items()):
        failures.append(("configs", f"configs = {configs!r} must map config names to string values"))
    if olds and isinstance(olds.get("partitions"), int) and isinstance(props.get("partitions"), int):
        if props.get("name") == olds.get("name") and props["partitions"] < olds["partitions"]:
            reason = (
                f"Kafka cannot reduce the partitions of topic {name!r} from {olds['partitions']} to "
                f"{props['partitions']}; keep {olds['partitions']} or more (or delete the topic and its data)"
            )
            failures.append(("partitions", reason))
    return failures


def _is_host_port(text: str) -> bool:
    host, _, port = text.strip().rpartition(":")
    return bool(host) and port.isdigit() and 0 < int(port) < 65536


def diff(olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str]]:
    """(changed, properties forcing a replacement); ValueError for the replacement of an adopted topic, which the
    stack never deletes."""
    olds, news = with_ints(olds, INT_PROPS), with_ints(news, INT_PROPS)
    changed = [k for k in INPUT_PROPS if olds.get(k) != news.get(k)]
    replaces = [k for k in REPLACE_PROPS if k in changed]
    if replaces and "name" not in replaces and not stack_created(olds):
        raise ValueError(
            f"topic {olds.get('name')!r} was adopted (it existed before the stack), so the stack does not delete "
            f"it and cannot replace it to change its replication factor from {olds.get('replication_factor')} to "
            f"{news.get('replication_factor')}: change it with Kafka's partition reassignment "
            "(kafka-reassign-partitions.sh) and set the same value here, or delete the topic yourself"
        )
    return bool(changed), replaces


def stack_created(state: dict[str, Any]) -> bool:
    """Whether the stack created the topic of this state (a state from before `created` existed: not adopted)."""
    created = state.get("created")
    return not state.get("adopted") if created is None else bool(created)


class KafkaTopicProvider(Provider):
    """CRUD of one topic; the resource id is the topic name."""

    INT_PROPS = INT_PROPS

    def failures(self, news: dict[str, Any], olds: dict[str, Any]) -> list[tuple[str, str]]:
        return validate(news, olds)

    def changes(self, olds: dict[str, Any], news: dict[str, Any]) -> tuple[bool, list[str]]:
        return diff(olds, news)

    def create(self, props: dict[str, Any]) -> CreateResult:
        state = create_topic(
            props["bootstrap_servers"],
            props["name"],
            partitions=props["partitions"],
            replication_factor=props["replication_factor"],
            configs=props.get("configs") or {},
            timeout_seconds=float(props.get("timeout_seconds", 120)),
            adopt_existing=bool(props.get("adopt_existing", False)),
            owner_cluster_id=props.get("owner_cluster_id"),
        )
        return CreateResult(props["name"], {**props, **{k: state[k] for k in OUTPUT_PROPS}})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        state = describe_topic(props["bootstrap_servers"], id_, timeout_seconds=float(props.get("timeout_seconds", 60)))
        if state is None:
            return ReadResult(None, {})
        recorded = props.get("topic_id")
        if recorded and state.get("topic_id") and recorded != state["topic_id"]:
            return ReadResult(None, {})  # deleted and re-created outside the stack: not the stack's topic any more
        wanted = set((props.get("configs") or {}).keys())
        live = {
            "partitions": state["partitions"],
            "replication_factor": state["replication_factor"],
            "configs": {k: v for k, v in state["configs"].items() if k in wanted},
        }
        inputs = {k: props[k] for k in (*INPUT_PROPS, *ADOPTION_PROPS) if k in props}
        # The live values are also the inputs of the next diff: drift shows up in the next preview.
        return ReadResult(id_, {**props, **live}, {**inputs, **live})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        update_topic(
            news["bootstrap_servers"],
            news["name"],
            partitions=news["partitions"],
            configs=news.get("configs") or {},
            timeout_seconds=float(news.get("timeout_seconds", 120)),
        )
        return UpdateResult({**news, **{k: olds.get(k) for k in OUTPUT_PROPS}})

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        if not stack_created(props):
            return  # adopted: it was there before the stack and stays after it
        delete_topic(
            props["bootstrap_servers"],
            id_,
            topic_id=props.get("topic_id"),
            timeout_seconds=max(float(props.get("timeout_seconds", 120)), 60),
        )


class KafkaTopic(pulumi.dynamic.Resource, module="lakehouse", name="KafkaTopic"):
    """A topic on the cluster reachable at `bootstrap_servers` (host-reachable addresses)."""

    name: pulumi.Output[str]
    partitions: pulumi.Output[int]
    replication_factor: pulumi.Output[int]
    adopted: pulumi.Output[bool]
    """True when the topic existed before and was adopted (adopt_existing): `destroy` leaves it on Kafka."""
    created: pulumi.Output[bool]
    topic_id: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        bootstrap_servers: pulumi.Input[str],
        topic: pulumi.Input[str],
        partitions: pulumi.Input[int],
        replication_factor: pulumi.Input[int],
        configs: pulumi.Input[dict[str, str]] | None = None,
        adopt_existing: bool = False,
        owner_cluster_id: str | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "bootstrap_servers": bootstrap_servers,
            "name": topic,
            "partitions": partitions,
            "replication_factor": replication_factor,
            "configs": configs or {},
            "timeout_seconds": 120,
            "provider_hash": provider_hash(),
            "adopt_existing": adopt_existing,
            "owner_cluster_id": owner_cluster_id,
            **dict.fromkeys(OUTPUT_PROPS),
        }
        super().__init__(KafkaTopicProvider(), resource_name, props, opts)
