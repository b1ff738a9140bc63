"""Trino from Maven Central (lib/ and the delta-lake plugin), run as Trino's launcher runs it, on the etc/ of
lakehouse.generators.trino.etc_files; its catalog reads the Trino S3 identity from ${ENV:TRINO_S3_*}."""

from __future__ import annotations

from pathlib import Path

from lakehouse.clients.trino_sql import query
from lakehouse.generators.properties import parse_properties
from lakehouse.generators.trino import ACCESS_KEY_ENV, SECRET_KEY_ENV, etc_files
from testbed.context import Context
from testbed.plan import HOST
from testbed.proc import Proc, wait_for

SERVICE = "trino"
READY_SQL = "SHOW SCHEMAS FROM delta"
"""Goes through the file metastore in S3, so rows prove the server, the catalog and the S3 identity."""


def url(ctx: Context) -> str:
    return f"http://{HOST}:{ctx.plan.trino}"


def write_etc(ctx: Context) -> Path:
    etc = ctx.data("trino", "etc")
    files = etc_files(
        http_port=ctx.plan.trino,
        heap=ctx.settings.trino_heap,
        node_id="testbed-trino",
        data_dir=str(ctx.data("trino", "data")),
        s3=ctx.s3,
        metastore_bucket=ctx.settings.metastore_bucket,
        bind_ip=HOST,
    )
    for rel, text in files.items():
        path = etc / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return etc


def argv(java: str, home: Path, etc: Path) -> list[str]:
    lines = (etc / "jvm.config").read_text().splitlines()
    jvm = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    props = parse_properties((etc / "node.properties").read_text())
    props |= {
        "config": str(etc / "config.properties"),
        "catalog.config-dir": str(etc / "catalog"),
        "plugin.dir": str(home / "plugin"),
    }
    main = ["-cp", f"{home / 'lib'}/*", "io.trino.server.TrinoServer"]
    return [java, *jvm, *(f"-D{k}={v}" for k, v in props.items()), *main]


def start(ctx: Context, home: Path) -> Proc:
    assert ctx.trino_java is not None
    etc = write_etc(ctx)
    env = ctx.base_env(
        JAVA_HOME=str(ctx.trino_java.home),
        **{ACCESS_KEY_ENV: ctx.creds.s3_trino_key, SECRET_KEY_ENV: ctx.creds.s3_trino_secret},
    )
    ctx.store.service(SERVICE, address=url(ctx), ports=[ctx.plan.trino], log=str(ctx.log(SERVICE)))
    return ctx.spawn(SERVICE, SERVICE, argv(ctx.trino_java.java, home, etc), env=env, cwd=ctx.data("trino"))


def wait_ready(ctx: Context, proc: Proc, timeout: float = 240) -> float:
    """Usable = a query through the delta catalog returns rows ("SERVER STARTED" comes earlier)."""
    return wait_for(
        lambda: bool(query(url(ctx), READY_SQL, timeout=20)),
        service=SERVICE,
        what=f"`{READY_SQL}` returns rows",
        timeout=timeout,
        proc=proc,
        interval=1.0,
    )
