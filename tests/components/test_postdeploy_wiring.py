"""The post-deploy steps in the stack's graph (under Pulumi mocks): each dynamic resource after the containers
it talks to, with the inputs lakehouse.postdeploy builds, credentials as secrets, and its stack outputs."""

from __future__ import annotations

from typing import Any

from pulumi.runtime.rpc import is_rpc_secret
from stack_harness import CONTAINER, KAFKA_TOPIC, MINIO_BUCKET, Recording, plain

from components import orion as orion_component
from lakehouse import postdeploy
from lakehouse.generators.job import stream_job_env
from lakehouse.settings import Settings
from orion.settings import OrionSettings

JOB = "pulumi-python:dynamic/lakehouse:StreamingJob"
TABLES = "pulumi-python:dynamic/lakehouse:DeltaTables"
DASHBOARDS = "pulumi-python:dynamic/lakehouse:SupersetDashboards"


def _inputs(stack: Recording, typ: str) -> dict[str, Any]:
    (res,) = stack.of_type(typ)
    return res.inputs


def _container_urn(stack: Recording, role: str) -> str:
    (urn,) = [r.urn for r in stack.registrations if r.type == CONTAINER and r.name == role]
    return urn


def test_the_job_is_submitted_after_orion_the_topic_and_the_buckets(default_stack: Recording) -> None:
    deps = default_stack.depends_on(JOB, "postdeploy-streaming-job")
    assert _container_urn(default_stack, "orion-server") in deps
    assert default_stack.urn(KAFKA_TOPIC, "kafka-topic") in deps
    buckets = {r.urn for r in default_stack.registrations if r.type == MINIO_BUCKET}
    assert len(buckets) == 3
    assert buckets <= deps


def test_the_tables_are_registered_after_trino_and_the_job(default_stack: Recording) -> None:
    deps = default_stack.depends_on(TABLES, "postdeploy-delta-tables")
    assert _container_urn(default_stack, "trino-server") in deps
    assert default_stack.urn(JOB, "postdeploy-streaming-job") in deps


def test_the_dashboards_are_imported_after_superset_trino_and_the_tables(default_stack: Recording) -> None:
    deps = default_stack.depends_on(DASHBOARDS, "postdeploy-dashboards")
    assert _container_urn(default_stack, "superset-server") in deps
    assert _container_urn(default_stack, "trino-server") in deps
    assert default_stack.urn(TABLES, "postdeploy-delta-tables") in deps


def test_the_job_runs_the_stacks_settings_through_orions_published_port(default_stack: Recording) -> None:
    job = plain(_inputs(default_stack, JOB))
    assert job["orion_url"] == "http://127.0.0.1:8000"
    assert job["spark_master_ui"] == "http://127.0.0.1:8080"
    assert job["job"] == "logistics_stream"
    assert job["supervise"] is True
    args = job["args"]
    flags = dict(zip(args[::2], args[1::2], strict=True))
    assert flags["--bootstrap-servers"] == "kafka-1:9092,kafka-2:9092,kafka-3:9092"
    assert flags["--topic"] == "logistics-events"
    assert flags["--table-uri"] == "s3a://lake/logistics_events"
    assert flags["--checkpoint-uri"] == "s3a://checkpoints/logistics_events"
    assert args == postdeploy.stream_job_args(
        stream_job_env(Settings(), bootstrap_servers="kafka-1:9092,kafka-2:9092,kafka-3:9092")
    )
    # The hash of this clone's jobs/: the image is built from the same tree, so Orion reports the same.
    assert job["code_hash"] == postdeploy.stream_code_hash()
    assert len(job["code_hash"]) == 64


def test_the_tables_are_the_events_table_and_its_quarantine_in_trino(default_stack: Recording) -> None:
    tables = plain(_inputs(default_stack, TABLES))
    assert tables["trino_url"] == "http://127.0.0.1:8085"
    assert (tables["catalog"], tables["schema"]) == ("delta", "lakehouse")
    assert tables["tables"] == {
        "logistics_events": "s3://lake/logistics_events",
        "logistics_events_rejected": "s3://lake/logistics_events_rejected",
    }


def test_superset_reaches_trino_inside_the_network_and_the_provider_reaches_superset_on_the_host(
    default_stack: Recording,
) -> None:
    dash = plain(_inputs(default_stack, DASHBOARDS))
    assert dash["superset_url"] == "http://127.0.0.1:8088"
    # ...while the dashboards' URLs (the output superset_dashboard_urls) use what every URL output uses.
    assert dash["public_url"] == default_stack.outputs["superset_url"] == "http://localhost:8088"
    assert dash["trino_uri"] == "trino://superset@trino:8080/delta"
    assert (dash["schema"], dash["events_table"], dash["rejected_table"]) == (
        "lakehouse",
        "logistics_events",
        "logistics_events_rejected",
    )


def test_credentials_reach_the_providers_only_as_secrets(stack: Recording) -> None:
    assert is_rpc_secret(_inputs(stack, JOB)["orion_token"])
    assert is_rpc_secret(_inputs(stack, DASHBOARDS)["admin_password"])
    # The table registration needs none.
    assert not any(is_rpc_secret(v) for v in _inputs(stack, TABLES).values())


def test_the_stack_outputs_what_the_post_deploy_steps_made(default_stack: Recording) -> None:
    assert default_stack.outputs["trino_tables"] == [
        "delta.lakehouse.logistics_events",
        "delta.lakehouse.logistics_events_rejected",
    ]
    for key in ("streaming_job_id", "superset_dashboard_urls"):
        assert key in default_stack.outputs


def test_docker_waits_for_orions_bounded_stop_before_killing_it(default_stack: Recording) -> None:
    orion = default_stack.containers()[next(n for n in default_stack.containers() if n.endswith("spark-orion"))]
    grace = OrionSettings.model_fields["stop_timeout_seconds"].default
    assert orion["stopTimeout"] == orion_component.STOP_TIMEOUT_SECONDS
    assert orion["stopTimeout"] >= grace + 30
    # pulumi destroy and a replacement stop it with destroy_grace_seconds (0, the provider's default, is SIGKILL).
    assert orion["destroyGraceSeconds"] >= grace + 30


def test_destroy_stops_every_container_gracefully(stack: Recording) -> None:
    """The docker provider's delete stops a container with destroy_grace_seconds and kills it at once without."""
    for name, c in stack.containers().items():
        assert int(c.get("destroyGraceSeconds", 0)) >= 30, f"{name} would be killed at once on destroy"
        if name.startswith(("kafka-", "zookeeper")):
            assert int(c["destroyGraceSeconds"]) >= 60, f"{name}: no time for a controlled shutdown"
