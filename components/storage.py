"""Storage: the S3 server (a maintained MinIO build), its buckets and the services' own identities; clients'
S3 settings come from `s3_endpoint`, credentials are per identity and always secrets.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi
import pulumi_docker as docker
import pulumi_minio as minio

from components import containers as c
from components.providers.bucket_contents import BucketContents
from components.sizing import MINIO_MIB
from lakehouse.generators.s3 import S3Endpoint
from lakehouse.generators.s3_policies import render_policy, spark_policy, trino_policy

# Root's user name (an access key, not a secret); each identity's user and policy are named `lakehouse-<role>`.
ROOT_USER = "lakehouse-root"
HOSTNAME = "minio"
API_PORT = 9000
CONSOLE_PORT = 9001
DATA_DIR = "/data"
# The readiness endpoint needs no credentials; `mc ready local` is the fallback for a build without curl.
HEALTH_PROBE = (
    f"curl -fsS http://localhost:{API_PORT}/minio/health/ready > /dev/null || mc ready local > /dev/null 2>&1"
)


@dataclass(frozen=True)
class StorageArgs(c.ServiceArgs):
    image: str
    """The MinIO-compatible server image (versions.toml [minio])."""
    api_port: int
    """Host port of the S3 API."""
    console_port: int
    """Host port of the web console."""
    region: str
    """S3 region every client uses."""
    lake_bucket: str
    """Bucket of the Delta tables."""
    checkpoint_bucket: str
    """Bucket of the streaming checkpoints."""
    metastore_bucket: str
    """Bucket of Trino's file metastore."""
    root_password: pulumi.Input[str]
    """Root password (secret); root is used only by the provider that creates buckets and users."""
    spark_secret_key: pulumi.Input[str]
    """Secret key of the Spark identity (secret)."""
    trino_secret_key: pulumi.Input[str]
    """Secret key of the Trino identity (secret)."""

    def __post_init__(self) -> None:
        names = [self.lake_bucket, self.checkpoint_bucket, self.metastore_bucket]
        if len(set(names)) != 3:
            raise ValueError(f"StorageArgs buckets must be three different names, got {names}")

    @property
    def s3_endpoint(self) -> S3Endpoint:
        """How containers on the network reach the server."""
        return S3Endpoint(url=f"http://{HOSTNAME}:{API_PORT}", region=self.region, path_style=True)


class Storage(pulumi.ComponentResource):
    """Children: `<name>-data`, `<name>-image`, `<name>-server`; once it is healthy, `<name>-provider` (pulumi-minio,
    root credentials), `<name>-bucket-<lake|checkpoints|metastore>`, a user, policy and attachment per identity
    (`<name>-spark-*`, `<name>-trino-*`); `<name>-bucket-contents`, which whatever writes to the buckets depends on."""

    s3_endpoint_url: pulumi.Output[str]
    spark_access_key: pulumi.Output[str]
    spark_secret_key: pulumi.Output[str]
    trino_access_key: pulumi.Output[str]
    trino_secret_key: pulumi.Output[str]

    def __init__(self, name: str, args: StorageArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:Storage", name, None, opts)
        self.server = self._server(name, args)
        provider = minio.Provider(
            f"{name}-provider",
            minio_server=f"{c.connect_address(args.bind_address)}:{args.api_port}",
            minio_user=ROOT_USER,
            minio_password=pulumi.Output.secret(args.root_password),
            minio_region=args.region,
            minio_ssl=False,
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.server]),
        )
        with_provider = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.server])
        roles = {"lake": args.lake_bucket, "checkpoints": args.checkpoint_bucket, "metastore": args.metastore_bucket}
        self.buckets = {
            role: minio.S3Bucket(
                f"{name}-bucket-{role}", bucket=bucket, acl="private", force_destroy=True, opts=with_provider
            )
            for role, bucket in roles.items()
        }
        bucket_deps = list(self.buckets.values())
        # Emptied by `pulumi destroy` after the writers (which depend on it) and before the buckets go.
        self.contents = BucketContents(
            f"{name}-bucket-contents",
            endpoint=f"http://{c.connect_address(args.bind_address)}:{args.api_port}",
            region=args.region,
            access_key=ROOT_USER,
            secret_key=args.root_password,
            buckets=[b.bucket for b in bucket_deps],
            opts=pulumi.ResourceOptions(parent=self, depends_on=[self.server, *bucket_deps]),
        )
        identity = pulumi.ResourceOptions(parent=self, provider=provider, depends_on=[self.server, *bucket_deps])
        self.attachments: list[minio.IamUserPolicyAttachment] = []
        spark = spark_policy(lake_bucket=args.lake_bucket, checkpoint_bucket=args.checkpoint_bucket)
        self.spark_user = self._identity(name, "spark", args.spark_secret_key, spark, identity)
        trino = trino_policy(lake_bucket=args.lake_bucket, metastore_bucket=args.metastore_bucket)
        self.trino_user = self._identity(name, "trino", args.trino_secret_key, trino, identity)
        self.s3_endpoint = args.s3_endpoint
        self.register_outputs(
            c.outputs(
                self,
                s3_endpoint_url=args.s3_endpoint.url,
                spark_access_key=self.spark_user.name,
                spark_secret_key=pulumi.Output.secret(args.spark_secret_key),
                trino_access_key=self.trino_user.name,
                trino_secret_key=pulumi.Output.secret(args.trino_secret_key),
            )
        )

    def _server(self, name: str, args: StorageArgs) -> docker.Container:
        child = pulumi.ResourceOptions(parent=self)
        data = c.volume(f"{name}-data", args.name_prefix, "minio-data", DATA_DIR, child)
        image = docker.RemoteImage(f"{name}-image", name=args.image, keep_locally=True, opts=child)
        return c.container(
            f"{name}-server",
            args,
            hostname=HOSTNAME,
            role="s3",
            memory_mib=MINIO_MIB,
            opts=child,
            ports={API_PORT: args.api_port, CONSOLE_PORT: args.console_port},
            image=image.image_id,
            # The image's entrypoint puts its server binary (`silo`, formerly `minio`) in front of these arguments.
            command=["server", DATA_DIR, "--address", f":{API_PORT}", "--console-address", f":{CONSOLE_PORT}"],
            envs=c.env_list(
                {"MINIO_ROOT_USER": ROOT_USER, "MINIO_SITE_REGION": args.region},
                {"MINIO_ROOT_PASSWORD": args.root_password},
            ),
            volumes=data,
            healthcheck=c.healthcheck(["CMD-SHELL", HEALTH_PROBE], interval=10, start_period=20),
        )

    def _identity(
        self,
        name: str,
        role: str,
        secret_key: pulumi.Input[str],
        policy: dict[str, object],
        opts: pulumi.ResourceOptions,
    ) -> minio.IamUser:
        """A user whose name is its access key, its own policy, and the attachment between them."""
        key, secret = f"lakehouse-{role}", pulumi.Output.secret(secret_key)
        user = minio.IamUser(f"{name}-{role}-user", name=key, secret=secret, force_destroy=True, opts=opts)
        policy_res = minio.IamPolicy(f"{name}-{role}-policy", name=key, policy=render_policy(policy), opts=opts)
        self.attachments.append(
            minio.IamUserPolicyAttachment(
                f"{name}-{role}-policy-attachment", user_name=user.name, policy_name=policy_res.name, opts=opts
            )
        )
        return user
