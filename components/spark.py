"""Spark: the lakehouse's Spark image (images/spark/Dockerfile), a standalone master and N workers; the image and
the generated spark-defaults.conf are Orion's too. S3 credentials reach Spark only through AWS_* variables.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import containers as c
from components.sizing import jvm_limit_mib, spark_worker_limit_mib
from lakehouse.endpoints import IN_NETWORK_SPARK_MASTER_URL as MASTER_URL
from lakehouse.endpoints import SPARK_MASTER_HOST as MASTER_HOST
from lakehouse.endpoints import SPARK_MASTER_PORT as MASTER_PORT
from lakehouse.generators.spark import daemon_env

SPARK_HOME = "/opt/spark"
CONF_DIR = "/opt/lakehouse/conf"
JARS_DIR = "/opt/lakehouse/jars"
JOBS_DIR = "/opt/lakehouse/jobs"
WORK_DIR = "/opt/spark/work-dir"
MASTER_UI_PORT = 8080
WORKER_UI_PORT = 8081
# Relative to the project directory; the context is the repository root (the image copies jobs/, orion/, ...).
DOCKERFILE = "images/spark/Dockerfile"
IMAGE_NAME = "lakehouse/spark"
# The image's Python 3.11 (versions.toml [spark] image_python; the Spark base ships 3.10) for Orion and the jobs.
PYTHON = "/opt/lakehouse/venv/bin/python3"


MASTER_UI_URL = f"http://{MASTER_HOST}:{MASTER_UI_PORT}"


@dataclass(frozen=True)
class SparkArgs(c.ServiceArgs):
    build_args: dict[str, str]
    """Build args of images/spark/Dockerfile (Versions.spark_build_args()); SPARK_IMAGE is the base."""
    spark_defaults: str
    """Rendered spark-defaults.conf (lakehouse.generators.spark), uploaded into every Spark container."""
    workers: int
    """Number of workers."""
    worker_cores: int
    """Cores each worker offers."""
    worker_memory: str
    """Memory each worker offers to executors, e.g. 1g."""
    daemon_memory: str
    """Heap of the master and worker daemons, e.g. 256m."""
    master_port: int
    """Host port of spark://."""
    master_ui_port: int
    """Host port of the master web UI."""
    s3_access_key: pulumi.Input[str]
    """Access key of the Spark S3 identity (executors read it from the worker's environment)."""
    s3_secret_key: pulumi.Input[str]
    """Secret key of the Spark S3 identity (secret)."""
    s3_region: str = "us-east-1"
    """Region for the AWS SDK inside the executors."""
    publish_master_rpc: bool = False
    """Publish spark:// on the host too (a driver on the host cannot use it: executors connect back to it)."""
    wait_for: tuple[pulumi.Resource, ...] = ()
    """What the master and workers need first, and must outlive on destroy (the buckets' contents)."""

    def __post_init__(self) -> None:
        if self.workers < 1 or self.worker_cores < 1:
            raise ValueError(f"SparkArgs needs at least 1 worker with 1 core, got {self.workers} x {self.worker_cores}")
        if "SPARK_IMAGE" not in self.build_args:
            raise ValueError("SparkArgs.build_args must name the base image as SPARK_IMAGE")
        if ":latest" in self.build_args["SPARK_IMAGE"] or ":" not in self.build_args["SPARK_IMAGE"]:
            raise ValueError(f"SparkArgs base image {self.build_args['SPARK_IMAGE']!r} must be pinned to a tag")


def spark_env(*, daemon_memory: str, hostname: str) -> dict[str, str]:
    """Environment of every Spark daemon: heap cap, conf dir, and the name the others reach it by."""
    return {
        **daemon_env(daemon_memory=daemon_memory, conf_dir=CONF_DIR),
        "SPARK_LOCAL_HOSTNAME": hostname,
        "SPARK_WORKER_DIR": WORK_DIR,
        "PYSPARK_PYTHON": PYTHON,
    }


def spark_class(main_class: str, **flags: object) -> list[str]:
    """`spark-class <main_class> --flag value ...` (`webui_port=8080` -> `--webui-port 8080`)."""
    options = [part for key, value in flags.items() for part in (f"--{key.replace('_', '-')}", str(value))]
    return [f"{SPARK_HOME}/bin/spark-class", main_class, *options]


def aws_env(access_key: pulumi.Input[str], secret_key: pulumi.Input[str]) -> dict[str, pulumi.Input[str]]:
    """S3A reads these (EnvironmentVariableCredentialsProvider); both are kept secret in the stack."""
    return {"AWS_ACCESS_KEY_ID": access_key, "AWS_SECRET_ACCESS_KEY": secret_key}


class Spark(pulumi.ComponentResource):
    """Children: `<name>-image` (also Orion's), `<name>-master`, `<name>-worker-<N>`."""

    image_ref: pulumi.Output[str]
    master_url: pulumi.Output[str]
    master_ui_url: pulumi.Output[str]

    def __init__(self, name: str, args: SparkArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Spark", name, None, opts)
        tag = args.build_args.get("SPARK_VERSION", "local")
        self.image = c.built_image(f"{name}-image", f"{IMAGE_NAME}:{tag}", ".", DOCKERFILE, args.build_args, self)
        # The image id (sha256:...) changes with every rebuild, so containers are replaced only then.
        self.image_ref = self.image.repo_digest
        self.master = self._master(name, args)
        self.workers = [self._worker(name, args, n) for n in range(1, args.workers + 1)]
        self.register_outputs(
            c.outputs(self, image_ref=self.image_ref, master_url=MASTER_URL, master_ui_url=MASTER_UI_URL)
        )

    def _master(self, name: str, args: SparkArgs) -> docker.Container:
        rpc = {MASTER_PORT: args.master_port} if args.publish_master_rpc else {}
        probe = c.http_probe(f"http://localhost:{MASTER_UI_PORT}/json/", python=PYTHON, json_field=("status", "ALIVE"))
        return c.container(
            f"{name}-master",
            args,
            hostname=MASTER_HOST,
            role="spark-master",
            memory_mib=jvm_limit_mib(args.daemon_memory),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for)),
            ports={MASTER_UI_PORT: args.master_ui_port, **rpc},
            files={f"{CONF_DIR}/spark-defaults.conf": args.spark_defaults},
            image=self.image_ref,
            command=spark_class(
                "org.apache.spark.deploy.master.Master", host=MASTER_HOST, port=MASTER_PORT, webui_port=MASTER_UI_PORT
            ),
            envs=c.env_list(spark_env(daemon_memory=args.daemon_memory, hostname=MASTER_HOST)),
            healthcheck=c.healthcheck(probe),
        )

    def _worker(self, name: str, args: SparkArgs, n: int) -> docker.Container:
        """Worker N, created once the master is healthy, with the Spark identity's S3 keys in its env."""
        host = f"spark-worker-{n}"
        return c.container(
            f"{name}-worker-{n}",
            args,
            hostname=host,
            role="spark-worker",
            memory_mib=spark_worker_limit_mib(daemon_memory=args.daemon_memory, worker_memory=args.worker_memory),
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.master, *args.wait_for]),
            files={f"{CONF_DIR}/spark-defaults.conf": args.spark_defaults},
            image=self.image_ref,
            command=[
                *spark_class(
                    "org.apache.spark.deploy.worker.Worker",
                    host=host,
                    cores=args.worker_cores,
                    memory=args.worker_memory,
                    webui_port=WORKER_UI_PORT,
                    work_dir=WORK_DIR,
                ),
                MASTER_URL,
            ],
            envs=c.env_list(
                {**spark_env(daemon_memory=args.daemon_memory, hostname=host), "AWS_REGION": args.s3_region},
                aws_env(args.s3_access_key, args.s3_secret_key),
            ),
            healthcheck=c.healthcheck(c.http_probe(f"http://localhost:{WORKER_UI_PORT}/json/", python=PYTHON)),
        )
