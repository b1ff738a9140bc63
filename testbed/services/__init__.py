"""One module per server: how to configure it with lakehouse.generators, start it, and know it is usable.

`SERVICES` lists them in start order, with what each fetches, needs, starts, waits for and probes: `testbed.bed`
(up, status) and `testbed.faults` (health) walk this one list."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakehouse.versions import Versions
from testbed import artifacts
from testbed.context import Context
from testbed.services import kafka, orion, s3, spark, superset, trino


@dataclass(frozen=True)
class Artifact:
    key: str
    what: str
    """Announced when fetching it takes a while ('' = never): formatted with v=Versions."""
    get: Callable[[Versions, dict[str, Path]], Path]
    """(versions, every artifact fetched so far) -> path in the cache."""
    maven: bool = False
    """Fetched with Maven: one at a time, parallel resolvers race on ~/.m2."""


@dataclass(frozen=True)
class Service:
    name: str
    start: Callable[[Context, dict[str, Path]], Any]
    """(context, every artifact fetched so far) -> what `ready` waits on."""
    ready: Callable[[Context, Any], float]
    artifacts: tuple[Artifact, ...] = ()
    needs: tuple[str, ...] = ()
    """Ready before this one starts."""
    ready_needs: tuple[str, ...] = ()
    """Ready before this one's readiness wait."""
    probe: Callable[[Mapping[str, str], list[int]], object] | None = None
    """(endpoints, the service's process groups) of a running test bed -> True, or what is wrong."""


SERVICES = (
    Service(
        "s3",
        start=lambda ctx, a: s3.start(ctx, a["weed"]),
        ready=s3.wait_ready,
        artifacts=(Artifact("weed", "SeaweedFS", lambda v, a: artifacts.weed_binary(v)),),
        probe=s3.probe,
    ),
    Service(
        "kafka",
        start=lambda ctx, a: kafka.start(ctx, a["kafka_lib"]),
        ready=kafka.wait_ready,
        artifacts=(Artifact("kafka_lib", "Kafka {v.kafka}", lambda v, a: artifacts.kafka_lib(v), maven=True),),
        probe=kafka.probe,
    ),
    Service(
        "spark",
        start=lambda ctx, a: spark.start(ctx, a["spark_home"], a["jars"], a["spark_python"]),
        ready=spark.wait_ready,
        artifacts=(
            Artifact("spark_home", "", lambda v, a: artifacts.spark_home(v)),
            Artifact("jars", "Spark extra jars", lambda v, a: artifacts.spark_extra_jars(v), maven=True),
            Artifact("spark_python", "the Spark image's Python", lambda v, a: artifacts.spark_python(v, a["jars"])),
        ),
        probe=spark.probe,
    ),
    Service(
        "trino",
        start=lambda ctx, a: trino.start(ctx, a["trino_home"]),
        ready=trino.wait_ready,
        artifacts=(Artifact("trino_home", "Trino {v.trino}", lambda v, a: artifacts.trino_home(v), maven=True),),
        ready_needs=("s3",),  # the readiness query reads the metastore bucket
    ),
    Service(
        "superset",
        start=lambda ctx, a: superset.start(ctx, a["superset_venv"]),
        ready=superset.wait_ready,
        artifacts=(Artifact("superset_venv", "Superset {v.superset}", lambda v, a: artifacts.superset_venv(v)),),
    ),
    Service(
        "orion",
        start=lambda ctx, a: orion.start(ctx, a["spark_home"], a["spark_python"]),
        ready=orion.wait_ready,
        needs=("spark", "kafka", "s3"),
        probe=orion.probe,
    ),
)
BY_NAME = {s.name: s for s in SERVICES}
NAMES = tuple(BY_NAME)
