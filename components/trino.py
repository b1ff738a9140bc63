"""Trino: the official trinodb/trino image with the etc/ files `lakehouse.generators.trino` renders; its S3 keys
are `${ENV:TRINO_S3_*}` references in the files and Pulumi secrets in the container's environment.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker

from components import containers as c
from components.sizing import TRINO_OVERHEAD_MIB, jvm_limit_mib
from lakehouse.generators.s3 import S3Endpoint
from lakehouse.generators.trino import ACCESS_KEY_ENV, SECRET_KEY_ENV, etc_files, query_probe_script

HOSTNAME = "trino"
PORT = 8080
ETC_DIR = "/etc/trino"
DATA_DIR = "/data/trino"


def health_probe(port: int = PORT) -> list[str]:
    """Healthy once `SELECT 1` returns its row: a bash probe over the REST protocol, no JVM."""
    return ["CMD", "bash", "-c", query_probe_script(port)]


@dataclass(frozen=True)
class TrinoArgs(c.ServiceArgs):
    image: str
    """trinodb/trino image, the version the test bed runs (versions.toml [trino])."""
    s3: S3Endpoint
    """How Trino reaches the storage service (Storage.s3_endpoint)."""
    metastore_bucket: str
    """Bucket of the file metastore."""
    s3_access_key: pulumi.Input[str]
    """Access key of the Trino S3 identity."""
    s3_secret_key: pulumi.Input[str]
    """Secret key of the Trino S3 identity (secret)."""
    heap: str
    """JVM heap, e.g. 1g."""
    host_port: int
    """Host port of Trino's HTTP server."""
    wait_for: tuple[pulumi.Resource, ...] = ()
    """What Trino needs first (storage server, S3 identity) and must outlive on destroy (the buckets' contents)."""

    def files(self) -> dict[str, str]:
        """etc/ files by path inside the container."""
        rendered = etc_files(
            http_port=PORT,
            heap=self.heap,
            node_id="trino-1",
            data_dir=DATA_DIR,
            s3=self.s3,
            metastore_bucket=self.metastore_bucket,
        )
        return {f"{ETC_DIR}/{path}": text for path, text in rendered.items()}


class Trino(pulumi.ComponentResource):
    """Children: `<name>-image` and `<name>-server` (container `trino`, single node coordinator+worker)."""

    url: pulumi.Output[str]

    def __init__(self, name: str, args: TrinoArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Trino", name, None, opts)
        child = pulumi.ResourceOptions(parent=self)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)
        self.server = c.container(
            f"{name}-server",
            args,
            hostname=HOSTNAME,
            role="trino",
            memory_mib=jvm_limit_mib(args.heap, TRINO_OVERHEAD_MIB),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.wait_for)),
            ports={PORT: args.host_port},
            files=args.files(),
            wait_timeout=300,
            image=image.image_id,
            envs=c.env_list({}, {ACCESS_KEY_ENV: args.s3_access_key, SECRET_KEY_ENV: args.s3_secret_key}),
            healthcheck=c.healthcheck(health_probe(), interval=30, timeout=30, start_period=120),
        )
        self.register_outputs(c.outputs(self, url=f"http://{HOSTNAME}:{PORT}"))
