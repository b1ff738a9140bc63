"""Spark standalone from the pinned pyspark distribution, spark-defaults.conf from lakehouse.generators.spark.
The workers carry the Spark S3 identity's keys in their environment, which their executors inherit (S3A reads
them with EnvironmentVariableCredentialsProvider)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from lakehouse.generators.spark import daemon_env, render_spark_defaults, spark_defaults
from testbed.context import Context, all_alive
from testbed.plan import HOST
from testbed.proc import Proc, wait_for

SERVICE = "spark"
DRIVER_UI_PORT = 20950
"""First port a driver's UI tries (then +1 per running driver, up to 32 more): inside the test bed's range."""


def master_url(ctx: Context) -> str:
    return f"spark://{HOST}:{ctx.plan.spark_master}"


def master_ui(ctx: Context) -> str:
    return f"http://{HOST}:{ctx.plan.spark_master_ui}"


def defaults(ctx: Context, jars: Path) -> dict[str, str]:
    s = ctx.settings
    props = spark_defaults(
        master_url=master_url(ctx),
        s3=ctx.s3,
        extra_jars_dir=str(jars),
        executor_memory=s.spark_executor_memory,
        driver_memory=s.spark_driver_memory,
        shuffle_partitions=s.spark_workers * s.spark_worker_cores * 2,
        cores_max=s.orion_cores_max,
        local_dir=str(ctx.data("spark", "local")),
    )
    # Test bed only: every driver (a test's spark-submit, Orion's jobs) listens on loopback, its UI in our range.
    props |= {
        "spark.driver.host": HOST,
        "spark.driver.bindAddress": HOST,
        "spark.ui.port": str(DRIVER_UI_PORT),
        "spark.port.maxRetries": "32",
    }
    return props


def write_conf(ctx: Context, jars: Path) -> Path:
    conf = conf_dir(ctx)
    (conf / "spark-defaults.conf").write_text(render_spark_defaults(defaults(ctx, jars)))
    return conf


def client_env(ctx: Context, spark_home: Path, conf: Path, python: Path) -> dict[str, str]:
    """What a Spark client (spark-submit, Orion) needs besides S3 keys: Java, conf dir, loopback, and the Python
    of drivers and executors: the image's (testbed.artifacts.spark_python), not the development venv."""
    return {
        "JAVA_HOME": str(ctx.java.home),
        "SPARK_HOME": str(spark_home),
        "SPARK_CONF_DIR": str(conf),
        "SPARK_LOCAL_IP": HOST,
        "SPARK_LOCAL_DIRS": str(ctx.data("spark", "local")),
        "PYSPARK_PYTHON": str(python),
        "PYSPARK_DRIVER_PYTHON": str(python),
    }


def spark_s3_env(ctx: Context) -> dict[str, str]:
    return {
        "AWS_ACCESS_KEY_ID": ctx.creds.s3_spark_key,
        "AWS_SECRET_ACCESS_KEY": ctx.creds.s3_spark_secret,
        "AWS_REGION": ctx.settings.s3_region,
    }


def conf_dir(ctx: Context) -> Path:
    return ctx.data("spark", "conf")


def start(ctx: Context, spark_home: Path, jars: Path, python: Path) -> list[Proc]:
    conf = write_conf(ctx, jars)
    s, plan = ctx.settings, ctx.plan
    daemon = daemon_env(daemon_memory=s.spark_daemon_memory, conf_dir=str(conf))
    env = ctx.base_env(**(client_env(ctx, spark_home, conf, python) | daemon))
    workers = range(1, s.spark_workers + 1)
    ctx.store.service(
        SERVICE,
        address=master_url(ctx),
        log=str(ctx.log("spark-master")),
        ports=[plan.spark_master, plan.spark_master_ui]
        + [p for n in workers for p in (plan.spark_worker(n), plan.spark_worker_ui(n))],
    )
    spark_class = str(spark_home / "bin" / "spark-class")

    def daemon_argv(main: str, port: int, ui: int, *args: str) -> list[str]:
        return [spark_class, main, "--host", HOST, "--port", str(port), "--webui-port", str(ui), *args]

    master = daemon_argv("org.apache.spark.deploy.master.Master", plan.spark_master, plan.spark_master_ui)
    procs = [ctx.spawn(SERVICE, "spark-master", master, env=env)]
    for n in workers:
        work = ctx.data("spark", f"worker-{n}")
        opts = ["--cores", str(s.spark_worker_cores), "--memory", s.spark_worker_memory, "--work-dir", str(work)]
        worker = "org.apache.spark.deploy.worker.Worker"
        argv = daemon_argv(worker, plan.spark_worker(n), plan.spark_worker_ui(n), *opts, master_url(ctx))
        wenv = env | spark_s3_env(ctx) | {"SPARK_WORKER_DIR": str(work)}
        procs.append(ctx.spawn(SERVICE, f"spark-worker-{n}", argv, env=wenv))
    return procs


def master_json(ui: str) -> dict:
    import requests

    return requests.get(f"{ui.rstrip('/')}/json/", timeout=5).json()


def alive_workers(ui: str) -> int:
    return sum(1 for w in master_json(ui).get("workers", []) if w.get("state") == "ALIVE")


def probe(endpoints: Mapping[str, str], pids: list[int]) -> object:
    """A running test bed's Spark: one worker ALIVE per process group but the master's."""
    alive, want = alive_workers(endpoints["spark_master_ui"]), len(pids) - 1
    return alive == want or f"{alive} workers ALIVE, want {want}"


def wait_ready(ctx: Context, procs: list[Proc], timeout: float = 120) -> float:
    """Usable = the master's JSON API lists every worker ALIVE."""
    want = ctx.settings.spark_workers
    return wait_for(
        lambda: all_alive(procs) and alive_workers(master_ui(ctx)) >= want,
        service=SERVICE,
        what=f"{want} workers ALIVE in {master_ui(ctx)}/json/",
        timeout=timeout,
        proc=procs[0],
    )
