"""The real-service test bed: the lakehouse's servers as local processes on 127.0.0.1.

Kafka (KRaft, and a ZooKeeper-mode variant), SeaweedFS as the S3 server, Spark standalone, Trino,
Superset and Spark Orion, at the versions of versions.toml and configured by lakehouse.generators,
the same functions the Pulumi components use. Run it with `python -m testbed up|down|status`;
tests get its endpoints from the `testbed` session fixture in tests/conftest.py.
"""
