"""Spark jobs shipped to the cluster by file name (Orion runs `spark-submit jobs/<name>.py`).

Each job file stands alone: it imports only pyspark, delta and the standard library. This file only
makes the jobs importable by the unit tests.
"""
