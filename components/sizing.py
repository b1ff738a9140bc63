"""Memory limits of the containers, derived from the JVM heaps and Spark sizes in the settings.

Pure arithmetic (no pulumi), so the numbers are unit-tested and explained in one place. A limit is the
heap the process is told to use plus headroom for what lives outside the heap (metaspace, threads,
direct buffers, Python workers); a container that outgrows it is killed by Docker and restarted by its
restart policy instead of starving the rest of the machine.
"""

from __future__ import annotations

from lakehouse.settings import memory_mib

# Off-heap headroom of a JVM (metaspace, code cache, thread stacks, NIO buffers), in MiB.
JVM_OVERHEAD_MIB = 384
# Trino keeps large direct buffers and a big code cache beside its heap.
TRINO_OVERHEAD_MIB = 768
# An executor JVM's off-heap plus its Python worker processes.
EXECUTOR_OVERHEAD_MIB = 768
# Spark Orion's own process (FastAPI + SQLite) and each driver's Python side.
ORION_BASE_MIB = 512
DRIVER_OVERHEAD_MIB = 512
# MinIO is a Go server; it stays far below this for a lakehouse of this size.
MINIO_MIB = 1024
# Superset: two gunicorn workers at ~300 MB each plus the bootstrap commands.
SUPERSET_MIB = 1536


def jvm_limit_mib(heap: str, overhead_mib: int = JVM_OVERHEAD_MIB) -> int:
    """Limit of a container whose main process is one JVM with max heap `heap` ('512m', '1g')."""
    return memory_mib(heap) + overhead_mib


def spark_worker_limit_mib(*, daemon_memory: str, worker_memory: str) -> int:
    """A worker runs its daemon JVM plus executors using up to `worker_memory` in total."""
    return memory_mib(daemon_memory) + JVM_OVERHEAD_MIB + memory_mib(worker_memory) + EXECUTOR_OVERHEAD_MIB


def orion_concurrent_apps(*, workers: int, worker_cores: int, cores_max: int) -> int:
    """How many applications can hold cores at once: each one takes up to `cores_max` cores."""
    return max(1, (workers * worker_cores) // cores_max)


def orion_limit_mib(*, driver_memory: str, workers: int, worker_cores: int, cores_max: int) -> int:
    """Orion itself plus one client-mode driver (JVM + Python) per application that can run at once."""
    apps = orion_concurrent_apps(workers=workers, worker_cores=worker_cores, cores_max=cores_max)
    return ORION_BASE_MIB + apps * (memory_mib(driver_memory) + JVM_OVERHEAD_MIB + DRIVER_OVERHEAD_MIB)
