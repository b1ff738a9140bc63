"""Orion: the Spark Orion job service (FastAPI) in the Spark image, submitting to the master in client mode.

It runs `python -m orion` with the ORION_* environment the test bed also follows, plus the LAKEHOUSE_* settings
and AWS_* keys it hands to the jobs. Its drivers run inside this container: executors call back to its hostname.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import containers as c
from components.sizing import orion_limit_mib
from components.spark import CONF_DIR, JOBS_DIR, MASTER_UI_URL, MASTER_URL, PYTHON, SPARK_HOME, aws_env

HOSTNAME = "spark-orion"
PORT = 8000
DATA_DIR = "/var/lib/orion"
STOP_TIMEOUT_SECONDS = 150


@dataclass(frozen=True)
class OrionArgs(c.ServiceArgs):
    image_ref: pulumi.Input[str]
    """The Spark image (Spark component's image_ref)."""
    spark_defaults: str
    """Rendered spark-defaults.conf, the same the master and workers have."""
    job_env: dict[str, str]
    """LAKEHOUSE_* environment of the streaming job (lakehouse.generators.job.stream_job_env)."""
    token: pulumi.Input[str]
    """ORION_TOKEN: bearer token of the API (secret)."""
    s3_access_key: pulumi.Input[str]
    """Access key of the Spark S3 identity."""
    s3_secret_key: pulumi.Input[str]
    """Secret key of the Spark S3 identity (secret)."""
    host_port: int
    """Host port of the API and web UI."""
    cores_max: int
    """spark.cores.max of each application Orion submits."""
    driver_memory: str
    """Heap of each driver it starts (sizes the container's memory limit)."""
    workers: int
    """Number of Spark workers (sizes the memory limit: how many apps can run at once)."""
    worker_cores: int
    """Cores per worker."""
    s3_region: str = "us-east-1"
    """Region for the AWS SDK in the drivers."""
    wait_for: tuple[pulumi.Resource, ...] = ()
    """What Orion needs first (the Spark master) and must outlive on destroy (the buckets' contents)."""

    def __post_init__(self) -> None:
        for key in self.job_env:
            if not key.startswith("LAKEHOUSE_"):
                raise ValueError(f"OrionArgs.job_env key {key!r} is not allowed: only LAKEHOUSE_* variables")


def orion_env(args: OrionArgs) -> dict[str, str]:
    """The plain part of Orion's environment."""
    return {
        "ORION_SPARK_MASTER_URL": MASTER_URL,
        "ORION_SPARK_MASTER_UI": MASTER_UI_URL,
        "ORION_SPARK_HOME": SPARK_HOME,
        "ORION_DATA_DIR": DATA_DIR,
        "ORION_JOBS_DIR": JOBS_DIR,
        "ORION_CORES_MAX": str(args.cores_max),
        # The container's memory limit is sized for drivers of this heap: no job may ask for more.
        "ORION_MAX_DRIVER_MEMORY": args.driver_memory,
        "ORION_HOST": "0.0.0.0",  # noqa: S104 - inside the container; the host side binds to bind_address
        "ORION_PORT": str(PORT),
        "SPARK_CONF_DIR": CONF_DIR,
        "SPARK_LOCAL_HOSTNAME": HOSTNAME,
        "PYSPARK_PYTHON": PYTHON,
        "AWS_REGION": args.s3_region,
        **args.job_env,
    }


class Orion(pulumi.ComponentResource):
    """Children: `<name>-data` (volume: job registry, logs, uploads) and `<name>-server` (container `spark-orion`)."""

    url: pulumi.Output[str]

    def __init__(self, name: str, args: OrionArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Orion", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        data = c.volume(f"{name}-data", args.name_prefix, "orion-data", DATA_DIR, child)
        self.server = c.container(
            f"{name}-server",
            args,
            hostname=HOSTNAME,
            role="orion",
            memory_mib=orion_limit_mib(
                driver_memory=args.driver_memory,
                workers=args.workers,
                worker_cores=args.worker_cores,
                cores_max=args.cores_max,
            ),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for)),
            ports={PORT: args.host_port},
            files={f"{CONF_DIR}/spark-defaults.conf": args.spark_defaults},
            destroy_grace_seconds=STOP_TIMEOUT_SECONDS,
            image=args.image_ref,
            command=[PYTHON, "-m", "orion"],
            # Orion is PID 1 otherwise, and spark-submit's orphaned grandchildren would never be reaped.
            init=True,
            # `docker stop` and a `destroy` (destroy_grace_seconds) leave time for the drivers' bounded stop (120 s).
            stop_timeout=STOP_TIMEOUT_SECONDS,
            envs=c.env_list(
                orion_env(args),
                {"ORION_TOKEN": args.token, **aws_env(args.s3_access_key, args.s3_secret_key)},
            ),
            volumes=data,
            healthcheck=c.healthcheck(c.http_probe(f"http://localhost:{PORT}/health", python=PYTHON)),
        )
        self.register_outputs(c.outputs(self, url=f"http://{HOSTNAME}:{PORT}"))
