"""The test bed's port plan: every port in 20000-20999 on 127.0.0.1 (the stack's defaults stay free for a real
deployment on the same host). `bed_settings()` is the stack's `Settings` with these ports, so
`lakehouse.endpoints.public_endpoints` yields the test bed's addresses under the stack's keys."""

from __future__ import annotations

import os
from dataclasses import dataclass

from lakehouse.settings import Settings

HOST = "127.0.0.1"
PORT_RANGE = range(20000, 21000)


@dataclass(frozen=True)
class PortPlan:
    """Every port the test bed opens, derived from one base (20000 by default)."""

    base: int = 20000
    brokers: int = 3
    spark_workers: int = 2

    @property
    def orion(self) -> int:
        return self.base

    def kafka_host(self, node: int) -> int:
        """HOST listener of broker `node` (1-based): what clients on the host use."""
        return self.base + 91 + node

    def kafka_internal(self, node: int) -> int:
        return self.base + 191 + node

    def kafka_controller(self, node: int) -> int:
        return self.base + 291 + node

    @property
    def spark_master(self) -> int:
        return self.base + 77

    def spark_worker(self, n: int) -> int:
        return self.base + 77 + n

    @property
    def spark_master_ui(self) -> int:
        return self.base + 80

    def spark_worker_ui(self, n: int) -> int:
        return self.base + 80 + n

    @property
    def trino(self) -> int:
        return self.base + 85

    @property
    def superset(self) -> int:
        return self.base + 88

    def seaweed(self) -> dict[str, int]:
        """SeaweedFS `weed mini` port flags: every one is given, or mini falls back to its defaults."""
        names = "master master.grpc volume volume.grpc filer filer.grpc s3 s3.grpc admin admin.grpc".split()
        return {name: self.base + 300 + i for i, name in enumerate(names)}

    @property
    def s3(self) -> int:
        return self.seaweed()["s3"]

    @property
    def s3_console_placeholder(self) -> int:
        """Not opened: Settings wants a distinct MinIO console port; the test bed has no console."""
        return self.base + 310

    def service_ports(self, service: str) -> list[int]:
        """The ports one service of the test bed listens on (s3, kafka, spark, trino, superset, orion)."""
        ports = self.all_ports()
        prefix = {"s3": "s3-", "kafka": "kafka-", "spark": "spark-"}.get(service)
        if prefix:
            return sorted(p for name, p in ports.items() if name.startswith(prefix))
        if service in ports:
            return [ports[service]]
        raise ValueError(f"unknown test bed service {service!r}")

    def all_ports(self) -> dict[str, int]:
        """Every listening port by owner."""
        ports = {
            "orion": self.orion,
            "spark-master": self.spark_master,
            "spark-master-ui": self.spark_master_ui,
            "trino": self.trino,
            "superset": self.superset,
        }
        for n in range(1, self.brokers + 1):
            ports[f"kafka-{n}"] = self.kafka_host(n)
            ports[f"kafka-{n}-internal"] = self.kafka_internal(n)
            ports[f"kafka-{n}-controller"] = self.kafka_controller(n)
        for n in range(1, self.spark_workers + 1):
            ports[f"spark-worker-{n}"] = self.spark_worker(n)
            ports[f"spark-worker-{n}-ui"] = self.spark_worker_ui(n)
        ports |= {f"s3-{name}": port for name, port in self.seaweed().items()}
        return ports


@dataclass(frozen=True)
class ZooKeeperPlan:
    """Ports of the ZooKeeper-mode variant (ZooKeeper + 3 brokers of the Kafka 3.9 line), from its own base
    (20400-20413 by default: clear of the main test bed, so both can run at once)."""

    base: int = 20400
    brokers: int = 3

    @property
    def zookeeper(self) -> int:
        return self.base

    def kafka_host(self, node: int) -> int:
        return self.base + node

    def kafka_internal(self, node: int) -> int:
        return self.base + 10 + node

    def all_ports(self) -> dict[str, int]:
        ports = {"zookeeper": self.zookeeper}
        for n in range(1, self.brokers + 1):
            ports[f"kafka-zk-{n}"] = self.kafka_host(n)
            ports[f"kafka-zk-{n}-internal"] = self.kafka_internal(n)
        return ports


PORT_BASE_ENV = "LAKEHOUSE_TESTBED_PORT_BASE"
"""Moves the whole plan (default 20000), e.g. to run a second test bed at 20500 beside a running one."""


def default_plan() -> PortPlan:
    raw = os.environ.get(PORT_BASE_ENV, "20000")
    try:
        plan = PortPlan(base=int(raw))
    except ValueError:
        raise ValueError(f"{PORT_BASE_ENV}={raw!r} is not allowed: an integer such as 20000 or 20500") from None
    clash = set(plan.all_ports().values()) & set(ZooKeeperPlan().all_ports().values())
    outside = [p for p in plan.all_ports().values() if p not in PORT_RANGE]
    if outside or clash:
        raise ValueError(
            f"{PORT_BASE_ENV}={raw} is not allowed: its ports must lie in 20000-20999 and miss the "
            f"ZooKeeper-mode ports 20400-20413 (use 20000 or 20500)"
        )
    return plan


def bed_settings(plan: PortPlan | None = None) -> Settings:
    """The stack's settings (its defaults: buckets, topic, heaps, workers) with the test bed's ports."""
    p = plan or PortPlan()
    return Settings().replace(
        bind_address=HOST,
        # Every client of the test bed (Orion, the tests' spark-submit) runs on this host.
        publish_spark_master_rpc=True,
        kafka_brokers=p.brokers,
        kafka_host_port_base=p.kafka_host(1),
        minio_api_port=p.s3,
        minio_console_port=p.s3_console_placeholder,
        spark_workers=p.spark_workers,
        spark_master_port=p.spark_master,
        spark_master_ui_port=p.spark_master_ui,
        orion_port=p.orion,
        trino_port=p.trino,
        superset_port=p.superset,
    )
