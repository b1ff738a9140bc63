"""The whole lakehouse: `deploy()` (what `__main__.py` and the unit tests run) translates `Settings` into each
component's Args - the only place that knows which component needs which value - and returns the stack outputs:
every key of `lakehouse.endpoints`, the secret ones as Pulumi secrets.
"""

from __future__ import annotations

import pulumi

from components import containers as c
from components.config import StackConfig
from components.kafka import KafkaCluster, KafkaClusterArgs
from components.network import Network, NetworkArgs
from components.orion import Orion, OrionArgs
from components.postdeploy import PostDeploy, PostDeployArgs
from components.secrets import Secrets, SecretsArgs
from components.spark import JARS_DIR, MASTER_URL, Spark, SparkArgs
from components.storage import Storage, StorageArgs
from components.superset import Superset, SupersetArgs
from components.trino import Trino, TrinoArgs
from lakehouse import endpoints
from lakehouse.generators.job import stream_job_env
from lakehouse.generators.kafka import kraft_cluster_id
from lakehouse.generators.spark import render_spark_defaults, spark_defaults
from lakehouse.settings import Settings
from lakehouse.versions import Versions, load


def spark_defaults_file(s: Settings, storage: StorageArgs) -> str:
    """The one spark-defaults.conf of the master, the workers and Orion's drivers."""
    return render_spark_defaults(
        spark_defaults(
            master_url=MASTER_URL,
            s3=storage.s3_endpoint,
            extra_jars_dir=JARS_DIR,
            executor_memory=s.spark_executor_memory,
            driver_memory=s.spark_driver_memory,
            shuffle_partitions=s.kafka_partitions,
            cores_max=s.orion_cores_max,
        )
    )


def deploy(config: StackConfig, versions: Versions | None = None) -> dict[str, pulumi.Input[str]]:
    """Declare every resource; return the stack outputs by endpoint key."""
    s = config.settings
    v = versions or load()
    # Docker names carry the stack (two stacks on one host do not collide); hostnames and aliases do not.
    prefix = c.stack_prefix(pulumi.get_project(), pulumi.get_stack())

    network = Network("network", NetworkArgs(name=c.docker_name(prefix, s.network_name)))
    # What every service's Args holds (components.containers.ServiceArgs).
    service = {"network_name": network.name, "bind_address": s.bind_address, "name_prefix": prefix}
    secrets = Secrets("secrets", SecretsArgs(provided=config.secrets))

    kafka_args = KafkaClusterArgs(
        **service,
        mode=s.kafka_mode,
        brokers=s.kafka_brokers,
        image=v.kafka_image if s.kafka_mode == "kraft" else v.kafka_zookeeper_line_image,
        zookeeper_image=v.zookeeper_image if s.kafka_mode == "zookeeper" else None,
        cluster_id=kraft_cluster_id(prefix),
        host_port_base=s.kafka_host_port_base,
        heap=s.kafka_heap,
        topic=s.kafka_topic,
        partitions=s.kafka_partitions,
        topic_adopt_existing=s.kafka_topic_adopt_existing,
        controllers=s.kafka_controllers,
    )
    kafka = KafkaCluster("kafka", kafka_args)

    storage_args = StorageArgs(
        **service,
        image=v.minio_image,
        api_port=s.minio_api_port,
        console_port=s.minio_console_port,
        region=s.s3_region,
        lake_bucket=s.lake_bucket,
        checkpoint_bucket=s.checkpoint_bucket,
        metastore_bucket=s.metastore_bucket,
        root_password=secrets.minio_root_password,
        spark_secret_key=secrets.spark_s3_secret_key,
        trino_secret_key=secrets.trino_s3_secret_key,
    )
    storage = Storage("storage", storage_args)
    defaults = spark_defaults_file(s, storage_args)

    spark = Spark(
        "spark",
        SparkArgs(
            **service,
            build_args=v.spark_build_args(),
            spark_defaults=defaults,
            workers=s.spark_workers,
            worker_cores=s.spark_worker_cores,
            worker_memory=s.spark_worker_memory,
            daemon_memory=s.spark_daemon_memory,
            master_port=s.spark_master_port,
            master_ui_port=s.spark_master_ui_port,
            publish_master_rpc=s.publish_spark_master_rpc,
            s3_access_key=storage.spark_access_key,
            s3_secret_key=storage.spark_secret_key,
            s3_region=s.s3_region,
            wait_for=(storage.contents,),
        ),
    )

    job_env = stream_job_env(s, bootstrap_servers=",".join(a.internal_address for a in kafka_args.addresses()))
    orion = Orion(
        "orion",
        OrionArgs(
            **service,
            image_ref=spark.image_ref,
            spark_defaults=defaults,
            job_env=job_env,
            token=secrets.orion_token,
            s3_access_key=storage.spark_access_key,
            s3_secret_key=storage.spark_secret_key,
            host_port=s.orion_port,
            cores_max=s.orion_cores_max,
            driver_memory=s.spark_driver_memory,
            workers=s.spark_workers,
            worker_cores=s.spark_worker_cores,
            s3_region=s.s3_region,
            wait_for=(spark.master, storage.contents),
        ),
    )

    trino = Trino(
        "trino",
        TrinoArgs(
            **service,
            image=v.trino_image,
            s3=storage_args.s3_endpoint,
            metastore_bucket=s.metastore_bucket,
            s3_access_key=storage.trino_access_key,
            s3_secret_key=storage.trino_secret_key,
            heap=s.trino_heap,
            host_port=s.trino_port,
            wait_for=(storage.server, storage.trino_user, *storage.attachments, storage.contents),
        ),
    )

    superset = Superset(
        "superset",
        SupersetArgs(
            **service,
            build_args=v.superset_build_args(),
            secret_key=secrets.superset_secret_key,
            admin_user=s.superset_admin_user,
            admin_password=secrets.superset_admin_password,
            host_port=s.superset_port,
        ),
    )

    post = PostDeploy(
        "postdeploy",
        PostDeployArgs(
            settings=s,
            connect_host=c.connect_address(s.bind_address),
            public_host=c.client_host(s.bind_address),
            job_env=job_env,
            orion_token=secrets.orion_token,
            superset_admin_password=secrets.superset_admin_password,
            orion_ready=(orion.server, kafka.topic_resource, *storage.buckets.values(), *storage.attachments),
            trino_ready=(trino.server,),
            superset_ready=(superset.server,),
        ),
    )

    outputs: dict[str, pulumi.Input[str]] = dict(endpoints.public_endpoints(s, host=c.client_host(s.bind_address)))
    # Resource outputs where they exist, so `stack output` reflects what was actually created.
    outputs["kafka_topic"] = kafka.topic
    outputs["streaming_job_id"] = post.streaming_job_id
    outputs["trino_tables"] = post.trino_tables
    outputs["superset_dashboard_urls"] = post.superset_dashboard_urls
    secret_outputs: dict[str, pulumi.Input[str]] = {
        "s3_access_key": storage.spark_access_key,
        "s3_secret_key": storage.spark_secret_key,
        "superset_admin_password": secrets.superset_admin_password,
        "orion_token": secrets.orion_token,
    }
    outputs |= {key: pulumi.Output.secret(value) for key, value in secret_outputs.items()}
    missing = set(endpoints.ALL_KEYS + endpoints.POSTDEPLOY_KEYS) - set(outputs)
    if missing:
        raise RuntimeError(f"stack outputs miss endpoint key(s) {sorted(missing)}")
    return outputs
