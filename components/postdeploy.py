"""PostDeploy: what turns running containers into a working lakehouse, as three dynamic resources, each created
once the containers it talks to are healthy and reaching them through their published ports (`pulumi destroy`
removes them in the reverse order). Their inputs come from `lakehouse.postdeploy`, which `make demo` uses too.
"""

from __future__ import annotations

from dataclasses import dataclass

import pulumi

from components import containers as c
from components.providers.delta_tables import DeltaTables
from components.providers.streaming_job import StreamingJob
from components.providers.superset_dashboards import SupersetDashboards
from lakehouse import postdeploy
from lakehouse.clients import superset_dashboards
from lakehouse.generators.trino import CATALOG
from lakehouse.settings import Settings


@dataclass(frozen=True)
class PostDeployArgs:
    settings: Settings
    """The lakehouse's settings (tables, ports, stream settings)."""
    connect_host: str
    """The address the host reaches the published ports on (127.0.0.1 for a loopback or wildcard bind)."""
    public_host: str
    """The host name a browser on the host opens them with (`localhost` for 127.0.0.1): the dashboards' URLs."""
    job_env: dict[str, str]
    """The streaming job's LAKEHOUSE_* settings as Orion's containers see them (stream_job_env)."""
    orion_token: pulumi.Input[str]
    """Orion's bearer token (secret)."""
    superset_admin_password: pulumi.Input[str]
    """The Superset admin's password (secret)."""
    orion_ready: tuple[pulumi.Resource, ...] = ()
    """What the job needs first: the Orion container, the topic, the buckets."""
    trino_ready: tuple[pulumi.Resource, ...] = ()
    """The Trino container."""
    superset_ready: tuple[pulumi.Resource, ...] = ()
    """The Superset container."""

    def __post_init__(self) -> None:
        if not self.connect_host or not self.public_host:
            raise ValueError(
                "PostDeployArgs.connect_host and public_host must both be given: the address the host reaches the "
                "published ports on, and the host name a browser opens them with"
            )


class PostDeploy(pulumi.ComponentResource):
    """Children: `<name>-streaming-job` (`logistics_stream` under Spark Orion, supervised), `<name>-delta-tables`
    (the events table and its quarantine registered in Trino) and `<name>-dashboards` (superset_assets/)."""

    streaming_job_id: pulumi.Output[int]
    trino_tables: pulumi.Output[list[str]]
    superset_dashboard_urls: pulumi.Output[dict[str, str]]

    def __init__(self, name: str, args: PostDeployArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("lakehouse:index:PostDeploy", name, None, opts)
        s = args.settings
        urls = postdeploy.service_urls(s, args.connect_host)
        self.streaming_job = StreamingJob(
            f"{name}-streaming-job",
            orion_url=urls["orion_url"],
            orion_token=args.orion_token,
            spark_master_ui=urls["spark_master_ui"],
            code_hash=postdeploy.stream_code_hash(),
            job=postdeploy.STREAM_JOB,
            args=postdeploy.stream_job_args(args.job_env),
            opts=pulumi.ResourceOptions(parent=self, depends_on=list(args.orion_ready)),
        )
        self.delta_tables = DeltaTables(
            f"{name}-delta-tables",
            trino_url=urls["trino_url"],
            catalog=CATALOG,
            schema=postdeploy.TRINO_SCHEMA,
            tables=postdeploy.delta_tables(s),
            trino_user=postdeploy.PROVIDER_TRINO_USER,
            # The job creates both tables before its first batch; Trino can register them only after that.
            opts=pulumi.ResourceOptions(parent=self, depends_on=[*args.trino_ready, self.streaming_job]),
        )
        # The first import connects to Trino, and the charts have data once the tables are registered.
        self.dashboards = SupersetDashboards(
            f"{name}-dashboards",
            admin_password=args.superset_admin_password,
            **superset_dashboards.inputs(
                s,
                superset_url=urls["superset_url"],
                public_url=postdeploy.service_urls(s, args.public_host)["superset_url"],
            ),
            opts=pulumi.ResourceOptions(
                parent=self, depends_on=[*args.superset_ready, *args.trino_ready, self.delta_tables]
            ),
        )
        # Known from the settings, but an output of the registration: it exists once the tables are registered.
        names = postdeploy.trino_table_names(s)
        self.register_outputs(
            c.outputs(
                self,
                streaming_job_id=self.streaming_job.job_id,
                trino_tables=self.delta_tables.id.apply(lambda _: names),
                superset_dashboard_urls=self.dashboards.dashboard_urls,
            )
        )
