"""SeaweedFS (`weed mini`) as the test bed's S3 server, with one identity per service (s3.json): `admin`, and
`spark` and `trino` translated from the stack's own IAM policies (s3_policies). The file exists only until the
server has loaded it (it reads it twice at start, so a pipe will not do)."""

from __future__ import annotations

import contextlib
import glob
import json
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from lakehouse.generators.s3_policies import spark_policy, trino_policy
from lakehouse.settings import Settings
from testbed.context import Context
from testbed.creds import Credentials
from testbed.paths import write_private
from testbed.plan import HOST, PortPlan
from testbed.proc import Proc, wait_for

SERVICE = "s3"

# IAM actions of lakehouse.generators.s3_policies -> SeaweedFS's action words (granted per bucket).
_SEAWEED_ACTION = {
    "s3:ListBucket": "List",
    "s3:GetBucketLocation": "List",
    "s3:ListBucketMultipartUploads": "List",
    "s3:GetObject": "Read",
    "s3:PutObject": "Write",
    "s3:DeleteObject": "Write",
    "s3:AbortMultipartUpload": "Write",
    "s3:ListMultipartUploadParts": "Write",
}


def buckets(s: Settings) -> list[str]:
    return [s.lake_bucket, s.checkpoint_bucket, s.metastore_bucket]


def seaweed_actions(policy: dict) -> list[str]:
    """The SeaweedFS identity actions (`Read:lake`, ...) granting what an IAM policy of s3_policies grants, so
    MinIO (stack) and SeaweedFS (test bed) grant the same; what this mapping does not know is an error."""
    out: set[str] = set()
    for st in policy["Statement"]:
        if st.get("Effect") != "Allow":
            raise ValueError(f"only Allow statements can be mapped to SeaweedFS actions: {st}")
        for resource in st["Resource"]:
            if not resource.startswith("arn:aws:s3:::"):
                raise ValueError(f"not an S3 resource: {resource!r}")
            bucket = resource.removeprefix("arn:aws:s3:::").split("/", 1)[0]
            for action in st["Action"]:
                if action not in _SEAWEED_ACTION:
                    raise ValueError(
                        f"no SeaweedFS equivalent known for {action!r}; allowed: {sorted(_SEAWEED_ACTION)}"
                    )
                out.add(f"{_SEAWEED_ACTION[action]}:{bucket}")
    return sorted(out)


def identities(creds: Credentials, s: Settings) -> dict:
    """SeaweedFS's s3.json: `admin` may do everything; `spark` and `trino` get the stack's policies."""
    spark = spark_policy(lake_bucket=s.lake_bucket, checkpoint_bucket=s.checkpoint_bucket)
    trino = trino_policy(lake_bucket=s.lake_bucket, metastore_bucket=s.metastore_bucket)
    ids = [
        ("admin", creds.s3_admin_key, creds.s3_admin_secret, ["Admin", "Read", "Write", "List", "Tagging"]),
        ("spark", creds.s3_spark_key, creds.s3_spark_secret, seaweed_actions(spark)),
        ("trino", creds.s3_trino_key, creds.s3_trino_secret, seaweed_actions(trino)),
    ]
    return {
        "identities": [
            {"name": name, "credentials": [{"accessKey": key, "secretKey": secret}], "actions": actions}
            for name, key, secret, actions in ids
        ]
    }


def weed_argv(weed: Path, data_dir: Path, config: Path, plan: PortPlan, bucket_names: list[str]) -> list[str]:
    """Every port flag, every time: `weed mini` otherwise falls back to its defaults on 0.0.0.0."""
    argv = [str(weed), "mini", f"-dir={data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}"]
    for name, port in plan.seaweed().items():
        component, _, grpc = name.partition(".")
        argv.append(f"-{component}.port.grpc={port}" if grpc else f"-{component}.port={port}")
    off = "-s3.port.iceberg=0 -s3.port.lance=0 -webdav=false -admin.ui=false -master.telemetry=false".split()
    return [*argv, *off, f"-s3.config={config}", f"-bucket={','.join(bucket_names)}"]


def client(endpoint: str, key: str, secret: str, region: str = "us-east-1"):
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id=key,
        aws_secret_access_key=secret,
        region_name=region,
        config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}, connect_timeout=2, read_timeout=20),
    )


def start(ctx: Context, weed: Path) -> Proc:
    remove_sockets(ctx.plan.seaweed().values())
    config = write_identities(ctx.data("s3") / "s3.json", ctx.creds, ctx.settings)
    argv = weed_argv(weed, ctx.data("s3", "data"), config, ctx.plan, buckets(ctx.settings))
    # The Go GC's soft cap well above weed mini's ~210 MiB of fixed buffers: at 256MiB an idle weed burnt ~20 % of a
    # core in GC after 8,000-20,000 S3 requests; at 512MiB with GOGC=50 it idled below 1 % (768MiB: more headroom).
    env = ctx.base_env(GOMEMLIMIT="768MiB", GOGC="50")
    ctx.store.service(SERVICE, address=ctx.s3.url, ports=sorted(ctx.plan.seaweed().values()), log=str(ctx.log(SERVICE)))
    return ctx.spawn(SERVICE, SERVICE, argv, env=env)


def _heads(s3, names: list[str]) -> bool:
    for b in names:
        if b:
            s3.head_bucket(Bucket=b)
    return True


def buckets_answer(endpoints: Mapping[str, str], names: list[str]) -> bool:
    """Every bucket of `names` answers HeadBucket to the admin identity."""
    key, secret = endpoints["testbed_s3_admin_access_key"], endpoints["testbed_s3_admin_secret_key"]
    return _heads(client(endpoints["s3_endpoint"], key, secret, endpoints.get("testbed_s3_region", "us-east-1")), names)


def probe(endpoints: Mapping[str, str], pids: list[int]) -> object:
    return buckets_answer(endpoints, [endpoints["lake_bucket"], endpoints["checkpoint_bucket"]])


def wait_ready(ctx: Context, proc: Proc, timeout: float = 90) -> float:
    """Usable = every bucket answers HeadBucket (ListBuckets answers before `-bucket` has made them)."""
    s3 = client(ctx.s3.url, ctx.creds.s3_admin_key, ctx.creds.s3_admin_secret, ctx.settings.s3_region)
    names = buckets(ctx.settings)
    waited = wait_for(
        lambda: _heads(s3, names), service=SERVICE, what=f"HeadBucket on {names}", timeout=timeout, proc=proc
    )
    (ctx.run_dir / "s3" / "s3.json").unlink(missing_ok=True)
    return waited


def remove_sockets(ports: Iterable[int]) -> None:
    """weed leaves /tmp/seaweedfs-<component>-<port>.sock behind; a stale one breaks the next start."""
    for port in ports:
        for path in glob.glob(f"/tmp/seaweedfs-*-{port}.sock"):
            with contextlib.suppress(OSError):
                os.unlink(path)


def write_identities(path: Path, creds: Credentials, s: Settings) -> Path:
    return write_private(path, json.dumps(identities(creds, s)))
