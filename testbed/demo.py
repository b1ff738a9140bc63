"""`make demo` (`python -m testbed demo`): the whole lakehouse, flowing and visible, without Docker.

Brings up the test bed (or reuses it), applies the stack's three post-deploy steps with its providers' code and
lakehouse.postdeploy's inputs, runs the producer (a few malformed records and re-sends, so the quarantine and the
dedup show up) and prints the dashboard URLs. Everything keeps running until `make testbed-down`.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lakehouse import postdeploy
from lakehouse.clients import delta_tables, streaming_job, superset_dashboards
from lakehouse.clients.delta_tables import TableSpec
from lakehouse.clients.streaming_job import JobSpec, OrionClient
from lakehouse.generators.job import stream_job_env
from lakehouse.generators.trino import CATALOG
from testbed import session
from testbed.paths import REPO, endpoints_file
from testbed.plan import HOST, bed_settings, default_plan

MALFORMED_SHARE = 0.005
RESENT_SHARE = 0.005


def apply_postdeploy(endpoints: dict[str, str], echo: Callable[[str], None]) -> dict[str, object]:
    """The three post-deploy steps against the test bed; returns what the stack would output."""
    s = bed_settings(default_plan())
    urls = postdeploy.service_urls(s, HOST)
    env = stream_job_env(s, bootstrap_servers=endpoints["testbed_kafka_internal_bootstrap"])
    args, code_hash = postdeploy.stream_job_args(env), postdeploy.stream_code_hash()
    spec = JobSpec(name=postdeploy.STREAM_JOB, args=args, supervise=True, code_hash=code_hash)
    began = time.monotonic()
    client = OrionClient(urls["orion_url"], endpoints["orion_token"])
    job, adopted = streaming_job.ensure_running(client, spec, start_timeout=600)
    echo(
        f"  streaming job: Orion job {job['id']} {'adopted' if adopted else 'submitted'}, {job['state']} as "
        f"{job['app_id']} ({time.monotonic() - began:.0f} s)"
    )

    began = time.monotonic()
    trino, schema, user = urls["trino_url"], postdeploy.TRINO_SCHEMA, postdeploy.PROVIDER_TRINO_USER
    delta_tables.ensure_schema(trino, CATALOG, schema, user=user)
    for name, location in postdeploy.delta_tables(s).items():
        outcome = delta_tables.register(trino, CATALOG, schema, TableSpec(name, location), user=user, wait_seconds=600)
        echo(f"  Trino table: {CATALOG}.{schema}.{name} {outcome} ({location})")
    echo(f"  tables ready in {time.monotonic() - began:.0f} s")

    began = time.monotonic()
    # On the test bed Superset reaches Trino on 127.0.0.1 (in Docker: trino:8080 inside the network).
    props = superset_dashboards.inputs(
        s, superset_url=urls["superset_url"], trino_host=HOST, trino_port=s.trino_port
    ) | {"admin_password": endpoints["superset_admin_password"]}
    dashboards = superset_dashboards.apply(props)
    echo(f"  dashboards imported into Superset ({time.monotonic() - began:.0f} s)")
    return {
        "streaming_job_id": job["id"],
        "trino_tables": postdeploy.trino_table_names(s),
        "superset_dashboard_urls": dashboards["dashboard_urls"],
    }


def produce(endpoints: dict[str, str], seconds: int, rate: int, echo: Callable[[str], None]) -> int:
    count = max(1, seconds * rate)
    # This test bed's brokers and topic, whatever other test bed the working directory may point to.
    flags = {
        "--bootstrap-servers": endpoints["kafka_bootstrap_servers"],
        "--topic": endpoints["kafka_topic"],
        "--rate": rate,
        "--count": count,
        "--inject-malformed": int(count * MALFORMED_SHARE),
        "--duplicates": int(count * RESENT_SHARE),
    }
    argv = [sys.executable, "-m", "producer", *(str(x) for flag in flags.items() for x in flag)]
    echo(f"  producing {count} events at {rate}/s for {seconds} s (0.5 % malformed, 0.5 % re-sent)")
    return subprocess.run(argv, cwd=REPO, check=False).returncode


def main(seconds: int, rate: int, echo: Callable[[str], None] = print) -> int:
    echo("lakehouse demo on the test bed (no Docker)")
    got = session.acquire(echo=lambda line: echo(f"  {line}"))
    if got.started_here:
        echo("  the test bed started for the demo stays up: stop it with `make testbed-down`")
    outputs = apply_postdeploy(got.endpoints, echo)
    code = produce(got.endpoints, seconds, rate, echo)
    if code != 0:
        echo(f"the producer exited {code}: see its summary above")
    ep = got.endpoints
    echo("")
    echo("The lakehouse is running (until `make testbed-down`):")
    for title, url in outputs.get("superset_dashboard_urls", {}).items():  # type: ignore[union-attr]
        echo(f"  dashboard {title}: {url}")
    echo(f"  Superset: {ep['superset_url']}  user {ep['superset_admin_user']}")
    echo(f"  Spark Orion: {ep['orion_url']}  Trino: {ep['trino_url']}  Spark master: {ep['spark_master_ui']}")
    echo(f"  Trino tables: {', '.join(outputs['trino_tables'])}")  # type: ignore[arg-type]
    where = Path(endpoints_file())
    shown = where.relative_to(REPO) if where.is_relative_to(REPO) else where
    echo(f"  credentials (Superset password, Orion token, S3 keys): {shown} (mode 600)")
    return code


if __name__ == "__main__":
    sys.exit(main(60, 200))
