"""The real-service test bed: Kafka, SeaweedFS as the S3 server, Spark standalone, Trino, Superset and Spark Orion
as local processes on 127.0.0.1, at the versions of versions.toml, configured by lakehouse.generators as the Pulumi
components configure them. `python -m testbed up|down|status`; tests get it from the `testbed` fixture."""
