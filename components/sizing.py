"""Memory limits of the containers, derived from the JVM heaps and Spark sizes in the settings (pure arithmetic).

A limit is the heap the process is told to use plus headroom for what lives outside it; a container that outgrows
it is killed and restarted instead of starving the machine. The default stack's limits add up to at most 8 GiB
(`stack_memory_limits_mib`, checked by a test); the headroom figures are peaks measured on the test bed, rounded
up with a margin (README, Benchmarks).
"""

from __future__ import annotations

from lakehouse.settings import Settings, memory_mib

# Off-heap headroom (MiB) of a JVM: Kafka brokers, the Spark master daemon, each driver's JVM.
JVM_OVERHEAD_MIB = 256
# Trino keeps large direct buffers and a big code cache beside its heap.
TRINO_OVERHEAD_MIB = 384
# A Spark worker daemon (C1 only, a 32 MiB code cache: lakehouse/generators/spark.py) beside its heap.
WORKER_DAEMON_OVERHEAD_MIB = 160
# An executor JVM's off-heap, the dedup state's RocksDB (64 MiB at most) included.
EXECUTOR_OVERHEAD_MIB = 320
# Spark Orion's own process (FastAPI + SQLite) and each driver's Python side.
ORION_BASE_MIB = 192
DRIVER_OVERHEAD_MIB = 128
# MinIO is a Go server; it stays far below this for a lakehouse of this size.
MINIO_MIB = 512
# Superset: one gunicorn worker (threads serve the dashboards' requests), ~300 MB, plus the bootstrap commands.
SUPERSET_MIB = 640
# The budget of the default stack, all containers together: a laptop's share.
STACK_BUDGET_MIB = 8 * 1024


def jvm_limit_mib(heap: str, overhead_mib: int = JVM_OVERHEAD_MIB) -> int:
    """Limit of a container whose main process is one JVM with max heap `heap` ('512m', '1g')."""
    return memory_mib(heap) + overhead_mib


def spark_worker_limit_mib(*, daemon_memory: str, worker_memory: str) -> int:
    """A worker runs its daemon JVM plus executors using up to `worker_memory` in total."""
    return memory_mib(daemon_memory) + WORKER_DAEMON_OVERHEAD_MIB + memory_mib(worker_memory) + EXECUTOR_OVERHEAD_MIB


def orion_concurrent_apps(*, workers: int, worker_cores: int, cores_max: int) -> int:
    """How many applications can hold cores at once: each one takes up to `cores_max` cores."""
    return max(1, (workers * worker_cores) // cores_max)


def orion_limit_mib(*, driver_memory: str, workers: int, worker_cores: int, cores_max: int) -> int:
    """Orion itself plus one client-mode driver (JVM + Python) per application that can run at once."""
    apps = orion_concurrent_apps(workers=workers, worker_cores=worker_cores, cores_max=cores_max)
    return ORION_BASE_MIB + apps * (memory_mib(driver_memory) + JVM_OVERHEAD_MIB + DRIVER_OVERHEAD_MIB)


def stack_memory_limits_mib(s: Settings) -> dict[str, int]:
    """Every container's memory limit for settings `s`, by container role (what components/ declare)."""
    limits = {f"kafka-{n}": jvm_limit_mib(s.kafka_heap) for n in range(1, s.kafka_brokers + 1)}
    if s.kafka_mode == "zookeeper":
        limits["zookeeper"] = jvm_limit_mib(s.kafka_heap, 256)
    limits["spark-master"] = jvm_limit_mib(s.spark_daemon_memory)
    worker = spark_worker_limit_mib(daemon_memory=s.spark_daemon_memory, worker_memory=s.spark_worker_memory)
    limits |= {f"spark-worker-{n}": worker for n in range(1, s.spark_workers + 1)}
    limits["spark-orion"] = orion_limit_mib(
        driver_memory=s.spark_driver_memory,
        workers=s.spark_workers,
        worker_cores=s.spark_worker_cores,
        cores_max=s.orion_cores_max,
    )
    limits["minio"] = MINIO_MIB
    limits["superset"] = SUPERSET_MIB
    limits["trino"] = jvm_limit_mib(s.trino_heap, TRINO_OVERHEAD_MIB)
    return limits
