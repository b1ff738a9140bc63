"""Spark Orion: the lakehouse's job service for the Spark standalone cluster.

A FastAPI app (API + web UI) that spark-submits PySpark jobs in client mode, keeps a persisted
registry of them, supervises long-running streaming jobs and reports their progress.
Run it with `python -m orion`; it reads its settings from ORION_* environment variables.
"""

__version__ = "0.1.0"
