"""Benchmarks of the lakehouse on the test bed (`make bench` = `python -m bench`, bench/run.py) and the helpers
they share with the data-plane integration tests.

One module per figure, each runnable alone (`python -m bench.<module> --help`) and returning a dict:
producer (1, ours vs Kafka's ProducerPerformance), drain (2 and 3, the streaming job's drain and flatness),
freshness (4), dashboards (5, with spark_lake.py, the Spark job that builds the 10 M-row lake), footprint (6);
machine.py reads CPU and memory per test-bed service from /proc, stream_session.py runs the streaming job as the
stack does, plots.py draws the PNGs. Nothing here asserts a number.
"""
