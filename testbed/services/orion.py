"""Spark Orion, started as in its image: `python -m orion` with the image's Python, configured only by its environment
(the ORION_* contract of the team brief, plus the Spark client env, the streaming job's LAKEHOUSE_*
env and the Spark S3 identity's keys, which Orion passes to the jobs it starts)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lakehouse.generators.job import stream_job_env
from testbed.context import Context
from testbed.paths import REPO
from testbed.plan import HOST
from testbed.proc import Proc, wait_for
from testbed.services import kafka, spark

SERVICE = "orion"


def available() -> bool:
    return (REPO / "orion" / "__main__.py").exists()


def url(ctx: Context) -> str:
    return f"http://{HOST}:{ctx.plan.orion}"


def env(ctx: Context, spark_home: Path, conf: Path, internal_bootstrap: str, python: Path) -> dict[str, str]:
    return ctx.base_env(
        **(
            spark.client_env(ctx, spark_home, conf, python)
            | spark.spark_s3_env(ctx)
            | stream_job_env(ctx.settings, bootstrap_servers=internal_bootstrap)
        ),
        ORION_TOKEN=ctx.creds.orion_token,
        ORION_SPARK_MASTER_URL=spark.master_url(ctx),
        ORION_SPARK_MASTER_UI=spark.master_ui(ctx),
        ORION_SPARK_HOME=str(spark_home),
        ORION_DATA_DIR=str(ctx.data("orion")),
        ORION_JOBS_DIR=str(REPO / "jobs"),
        ORION_CORES_MAX=str(ctx.settings.orion_cores_max),
        # As in the stack; and no executor larger than a worker offers (it would wait for ever).
        ORION_MAX_DRIVER_MEMORY=ctx.settings.spark_driver_memory,
        ORION_MAX_EXECUTOR_MEMORY=ctx.settings.spark_worker_memory,
        ORION_HOST=HOST,
        ORION_PORT=str(ctx.plan.orion),
    )


def start(ctx: Context, spark_home: Path, python: Path) -> Proc:
    """`python -m orion` with the Spark image's Python (testbed.artifacts.spark_python), as the image runs it."""
    ctx.store.service(SERVICE, address=url(ctx), ports=[ctx.plan.orion], log=str(ctx.log(SERVICE)))
    bootstrap = kafka.internal_bootstrap(kafka.kraft_quorum(ctx.plan))
    environment = env(ctx, spark_home, spark.conf_dir(ctx), bootstrap, python)
    return ctx.spawn(SERVICE, SERVICE, [str(python), "-m", "orion"], env=environment, cwd=REPO)


def health_ok(base_url: str) -> bool:
    import requests

    return requests.get(f"{base_url}/health", timeout=3).status_code == 200


def probe(endpoints: Mapping[str, str], pids: list[int]) -> object:
    return health_ok(endpoints["orion_url"]) or "/health is not 200"


def wait_ready(ctx: Context, proc: Proc, timeout: float = 60) -> float:
    what = f"GET {url(ctx)}/health answers 200"
    return wait_for(lambda: health_ok(url(ctx)), service=SERVICE, what=what, timeout=timeout, proc=proc)
