"""Trino's etc/ files: a single node, capped heap, Delta catalog on a file metastore over native S3."""

from __future__ import annotations

from lakehouse.generators.properties import parse_properties
from lakehouse.generators.s3 import S3Endpoint
from lakehouse.generators.trino import ACCESS_KEY_ENV, SECRET_KEY_ENV, etc_files, jvm_config
from lakehouse.settings import memory_mib

S3 = S3Endpoint(url="http://minio:9000", region="us-east-1")


def files(**kw: object) -> dict[str, str]:
    args = {
        "http_port": 8080,
        "heap": "1g",
        "node_id": "trino-1",
        "data_dir": "/data/trino",
        "s3": S3,
        "metastore_bucket": "trino-metastore",
    }
    return etc_files(**{**args, **kw})  # type: ignore[arg-type]


def test_etc_files_are_the_four_trino_reads() -> None:
    assert set(files()) == {"config.properties", "jvm.config", "node.properties", "catalog/delta.properties"}


def test_config_properties_single_node_coordinator() -> None:
    config = parse_properties(files()["config.properties"])
    assert config["coordinator"] == "true"
    assert config["node-scheduler.include-coordinator"] == "true"
    assert config["http-server.http.port"] == "8080"
    assert config["discovery.uri"] == "http://localhost:8080"


def test_node_properties() -> None:
    node = parse_properties(files()["node.properties"])
    assert node == {"node.environment": "lakehouse", "node.id": "trino-1", "node.data-dir": "/data/trino"}
    # The test bed binds to loopback; the container listens on every interface (no bind-ip).
    bound = parse_properties(files(bind_ip="127.0.0.1")["node.properties"])
    assert bound["node.bind-ip"] == "127.0.0.1"


def test_jvm_config_caps_the_heap_and_exits_on_oom() -> None:
    lines = jvm_config(heap="1g").splitlines()
    assert "-Xmx1G" in lines
    assert "-XX:+ExitOnOutOfMemoryError" in lines
    assert not any(line.startswith("-Xmx") and line != "-Xmx1G" for line in lines)


def test_delta_catalog_uses_native_s3_file_metastore_and_register_table() -> None:
    catalog = parse_properties(files()["catalog/delta.properties"])
    assert catalog["connector.name"] == "delta_lake"
    assert catalog["hive.metastore"] == "file"
    assert catalog["hive.metastore.catalog.dir"] == "s3://trino-metastore/"
    assert catalog["delta.register-table-procedure.enabled"] == "true"
    assert catalog["fs.native-s3.enabled"] == "true"
    assert catalog["s3.endpoint"] == "http://minio:9000"
    assert catalog["s3.region"] == "us-east-1"
    assert catalog["s3.path-style-access"] == "true"
    assert not any(k.startswith("hive.s3.") for k in catalog), "legacy hive.s3.* properties are gone in Trino"


def test_credentials_are_environment_references_not_values() -> None:
    catalog = parse_properties(files()["catalog/delta.properties"])
    assert catalog["s3.aws-access-key"] == "${ENV:" + ACCESS_KEY_ENV + "}"
    assert catalog["s3.aws-secret-key"] == "${ENV:" + SECRET_KEY_ENV + "}"


def test_query_memory_is_half_the_heap_so_trino_always_starts() -> None:
    from lakehouse.generators.trino import query_max_memory

    assert query_max_memory("1g") == "512MB"
    assert query_max_memory("256m") == "128MB"
    assert query_max_memory("3g") == "1536MB"
    for heap in ("256m", "700m", "1g", "2g", "1048576k"):
        config = parse_properties(files(heap=heap)["config.properties"])
        mib = int(config["query.max-memory-per-node"].removesuffix("MB"))
        heap_mib = memory_mib(heap)
        # Trino 476 refuses to start unless query memory + 30 % heap headroom <= the heap.
        assert mib + 0.3 * heap_mib <= heap_mib, heap
        assert config["query.max-memory"] == config["query.max-memory-per-node"]


def test_trino_probe_runs_select_1_over_rest_with_bash() -> None:
    from lakehouse.generators.trino import query_probe_script

    script = query_probe_script(8080)
    assert "host=127.0.0.1 port=8080 q='SELECT 1'" in script
    assert 'req="POST /v1/statement HTTP/1.0' in script and "X-Trino-User: healthcheck" in script
    assert "*'\"data\":[[1]]'*) exit 0" in script
    assert "java" not in script and "trino --server" not in script
