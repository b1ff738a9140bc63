"""Trino's etc/ files: config.properties, jvm.config, node.properties and catalog/delta.properties.

The Delta Lake catalog uses a file metastore in its own bucket and Trino's native S3 file system
(the legacy hive.s3.* properties are gone). Its S3 keys are `${ENV:...}` references, resolved by
Trino at start from the container's (or process's) environment, so the files hold no secret.
"""

from __future__ import annotations

from lakehouse.generators.properties import render_properties
from lakehouse.generators.s3 import S3Endpoint
from lakehouse.settings import memory_mib

CATALOG = "delta"
ACCESS_KEY_ENV = "TRINO_S3_ACCESS_KEY"
SECRET_KEY_ENV = "TRINO_S3_SECRET_KEY"  # noqa: S105  # pragma: allowlist secret - an environment variable's name


def query_max_memory(heap: str) -> str:
    """query.max-memory(-per-node) for a heap: half of it, in whole MB (Trino's MB is a MiB).

    Trino refuses to start unless query.max-memory-per-node + memory.heap-headroom-per-node (default 30 % of
    the heap) <= the heap (io.trino.memory.LocalMemoryManager; the message is "Invalid memory configuration.
    The sum of max query memory per node ... and heap headroom ... cannot be larger than the available heap
    memory"). A fixed 512MB therefore needs a heap of at least 512 / 0.7 = 732 MiB (seen on the test bed:
    -Xmx700m refused); half the heap always leaves the 30 % headroom and 20 % more, and a 1g heap keeps the
    512MB it always had.
    """
    return f"{memory_mib(heap) // 2}MB"


def config_properties(
    *, http_port: int, query_max_memory: str = "512MB", discovery_host: str = "localhost"
) -> dict[str, object]:
    """A single node that is coordinator and worker at once. `query_max_memory`: see query_max_memory()."""
    return {
        "coordinator": "true",
        "node-scheduler.include-coordinator": "true",
        "http-server.http.port": http_port,
        "discovery.uri": f"http://{discovery_host}:{http_port}",
        "query.max-memory": query_max_memory,
        "query.max-memory-per-node": query_max_memory,
        # A finished query's and its tasks' info are kept 15 minutes by default, and the task and query managers
        # walk all of it every second; a dashboard that refreshes keeps thousands of them on a small heap, which
        # then sits near full (measured after 1,500 queries: half a core at rest, mostly G1 marking). One minute
        # keeps the web UI's recent history (the last query.max-history=100 queries stay anyway).
        "query.min-expire-age": "1m",
        "task.info.max-age": "1m",
    }


def jvm_config(*, heap: str) -> str:
    """jvm.config: a capped heap and the flags Trino's own deployment docs require, sized for a laptop.

    The initial heap is small and G1 gives memory back: a periodic collection after an idle minute, and after
    any collection the heap is shrunk while more than 30 % of it is free (G1's default, 70 %, kept a heap grown
    by a burst of queries at 465 MB committed for 140 MB used). Trino's load here is a few dashboard queries,
    and a heap kept at its peak is memory the streaming job does not have. (InitialRAMPercentage=10, the
    previous setting, meant a 2.4 GB initial heap, i.e. all of -Xmx, on a 24 GB host.) The 32M G1 regions Trino
    recommends are for heaps of many GB: on a small heap they would leave G1 a few dozen regions, so G1 picks
    its own size there."""
    lines = [
        "-server",
        f"-Xmx{heap.upper()}",
        f"-Xms{min(memory_mib(heap), 128)}M",
        "-XX:+UseG1GC",
        *(["-XX:G1HeapRegionSize=32M"] if memory_mib(heap) >= 8192 else []),
        "-XX:G1PeriodicGCInterval=60000",
        "-XX:MinHeapFreeRatio=10",
        "-XX:MaxHeapFreeRatio=30",
        "-XX:+ExplicitGCInvokesConcurrent",
        "-XX:+ExitOnOutOfMemoryError",
        "-XX:-OmitStackTraceInFastThrow",
        "-XX:ReservedCodeCacheSize=150M",
        "-XX:PerMethodRecompilationCutoff=10000",
        "-XX:PerBytecodeRecompilationCutoff=10000",
        "-Djdk.attach.allowAttachSelf=true",
        "-Djdk.nio.maxCachedBufferSize=2000000",
        "-Dfile.encoding=UTF-8",
        "-XX:+EnableDynamicAgentLoading",
    ]
    return "\n".join(lines) + "\n"


def node_properties(
    *, node_id: str, data_dir: str, environment: str = "lakehouse", bind_ip: str | None = None
) -> dict[str, object]:
    """`bind_ip` (test bed: 127.0.0.1) is where the HTTP server listens and what the node announces;
    without it Trino listens on every interface, as it must inside a container."""
    props: dict[str, object] = {"node.environment": environment, "node.id": node_id, "node.data-dir": data_dir}
    if bind_ip:
        props["node.bind-ip"] = bind_ip
        props["node.internal-address"] = bind_ip
    return props


def delta_catalog(*, s3: S3Endpoint, metastore_bucket: str) -> dict[str, object]:
    """catalog/delta.properties."""
    return {
        "connector.name": "delta_lake",
        "hive.metastore": "file",
        "hive.metastore.catalog.dir": f"s3://{metastore_bucket}/",
        # Spark writes the tables; Trino registers them (CALL delta.system.register_table).
        "delta.register-table-procedure.enabled": "true",
        "fs.native-s3.enabled": "true",
        "s3.endpoint": s3.url,
        "s3.region": s3.region,
        "s3.path-style-access": str(s3.path_style).lower(),
        "s3.aws-access-key": "${ENV:" + ACCESS_KEY_ENV + "}",
        "s3.aws-secret-key": "${ENV:" + SECRET_KEY_ENV + "}",
    }


def etc_files(
    *,
    http_port: int,
    heap: str,
    node_id: str,
    data_dir: str,
    s3: S3Endpoint,
    metastore_bucket: str,
    bind_ip: str | None = None,
) -> dict[str, str]:
    """Every file under etc/, by relative path, rendered. `bind_ip`: see node_properties."""
    header = "Generated by lakehouse/generators/trino.py; do not edit."
    return {
        "config.properties": render_properties(
            config_properties(
                http_port=http_port, query_max_memory=query_max_memory(heap), discovery_host=bind_ip or "localhost"
            ),
            header,
        ),
        "jvm.config": jvm_config(heap=heap),
        "node.properties": render_properties(
            node_properties(node_id=node_id, data_dir=data_dir, bind_ip=bind_ip), header
        ),
        f"catalog/{CATALOG}.properties": render_properties(
            delta_catalog(s3=s3, metastore_bucket=metastore_bucket), header
        ),
    }


HEALTH_QUERY = "SELECT 1"


def query_probe_script(port: int, host: str = "127.0.0.1", user: str = "healthcheck") -> str:
    """A bash script that exits 0 once Trino on host:port has run `SELECT 1` and returned its row.

    Trino logs "SERVER STARTED" and answers /v1/info before it can run a query, so the probe runs one through
    the REST protocol (POST /v1/statement, then GET each nextUri until the data or an error arrives). No JVM:
    the image's `trino` CLI is an executable jar whose JVM takes a default heap of a quarter of the
    container's memory limit, inside the limit Trino's own heap is sized for. bash alone (/dev/tcp, builtins:
    the image's run-trino is a bash script); the test bed runs this very script against its Trino.
    """
    return (
        "LC_ALL=C\n"
        f"host={host} port={port} q='{HEALTH_QUERY}'\n"
        'req="POST /v1/statement HTTP/1.0\\r\\nHost: $host:$port\\r\\n'
        f"X-Trino-User: {user}\\r\\n"
        'Content-Type: text/plain\\r\\nContent-Length: ${#q}\\r\\n\\r\\n$q"\n'
        "for ((i = 0; i < 60; i++)); do\n"
        '  exec 3<>"/dev/tcp/$host/$port" || exit 1\n'
        "  printf '%b' \"$req\" >&3\n"
        # HTTP/1.0: the server closes the connection after the body, so reading to the end is the whole answer.
        "  IFS= read -r -d '' -t 20 resp <&3\n"
        "  exec 3<&-\n"
        '  case "$resp" in "HTTP/1."?" 200 "*) ;; *) exit 1 ;; esac\n'
        '  case "$resp" in *\'"error"\'*) exit 1 ;; *\'"data":[[1]]\'*) exit 0 ;; esac\n'
        '  [[ "$resp" =~ \\"nextUri\\":\\"https?://[^/\\"]*(/[^\\"]*)\\" ]] || exit 1\n'
        '  req="GET ${BASH_REMATCH[1]} HTTP/1.0\\r\\nHost: $host:$port\\r\\n'
        f'X-Trino-User: {user}\\r\\n\\r\\n"\n'
        "done\n"
        "exit 1\n"
    )
