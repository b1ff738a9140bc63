"""The inputs of the post-deploy steps (StreamingJob, DeltaTables, SupersetDashboards) from the settings: one
definition for the stack, `make demo` and the tests. The providers run where `pulumi up` runs, so the URLs are
the host-reachable ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from contract.names import rejected_table_name, table_uri
from jobs.logistics.settings import FLAGS
from lakehouse import endpoints
from lakehouse.clients.delta_tables import TRINO_SCHEMA
from lakehouse.generators.trino import CATALOG
from lakehouse.settings import Settings

REPO = Path(__file__).resolve().parent.parent
JOBS_DIR = REPO / "jobs"
STREAM_JOB = "logistics_stream"
PROVIDER_TRINO_USER = "lakehouse"


def service_urls(s: Settings, host: str) -> dict[str, str]:
    """The URLs the providers use: Orion, the Spark master UI, Trino, Superset, as reached from `host`."""
    ep = endpoints.public_endpoints(s, host=host)
    return {k: ep[k] for k in ("orion_url", "spark_master_ui", "trino_url", "superset_url")}


def stream_job_args(env: Mapping[str, str]) -> list[str]:
    """The job's settings as explicit flags (the job record then says what it runs, and adoption compares
    them); `env` is `stream_job_env(...)`, the same values Orion's environment carries."""
    return [arg for name, flag in FLAGS.items() if name in env for arg in (flag, env[name])]


def stream_code_hash(jobs_dir: Path = JOBS_DIR, job: str = STREAM_JOB) -> str:
    """Orion's code hash of the job as this clone's jobs/ builds it (the image is built from the same tree)."""
    from orion.codehash import job_code_hash

    return job_code_hash(jobs_dir, jobs_dir / f"{job}.py")


def delta_tables(s: Settings) -> dict[str, str]:
    """Table name -> location as Trino reads it (s3://): the events table and its quarantine."""
    rejected = rejected_table_name(s.delta_table)
    return {
        s.delta_table: table_uri(s.lake_bucket, s.delta_table, scheme="s3"),
        rejected: table_uri(s.lake_bucket, rejected, scheme="s3"),
    }


def trino_table_names(s: Settings) -> list[str]:
    """The fully qualified names the stack outputs as `trino_tables`."""
    return [f"{CATALOG}.{TRINO_SCHEMA}.{name}" for name in delta_tables(s)]
