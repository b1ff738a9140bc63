"""Ports of the servers that integration tests start beside a test bed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SparePlan:
    """Ports of servers that tests start beside a test bed (20420-20439): a two-node KRaft cluster with a
    broker-only node, a Trino at its smallest heap. Clear of the main test bed (20000-20310 or 20500-20810),
    the ZooKeeper-mode variant (20400-20413) and the lifecycle test's mini test bed (20600+)."""

    base: int = 20420

    def kafka_host(self, node: int) -> int:
        return self.base + node

    def kafka_internal(self, node: int) -> int:
        return self.base + 3 + node

    @property
    def kafka_controller(self) -> int:
        return self.base + 7

    @property
    def trino(self) -> int:
        return self.base + 10

    def all_ports(self) -> dict[str, int]:
        ports = {"kafka-controller-1": self.kafka_controller, "trino": self.trino}
        for n in (1, 2):
            ports[f"kafka-{n}"] = self.kafka_host(n)
            ports[f"kafka-{n}-internal"] = self.kafka_internal(n)
        return ports
