"""Benchmarks of the lakehouse on the test bed (`make bench` = `python -m bench`, bench/run.py).

One module per figure, each runnable alone (`python -m bench.<module> --help`) and returning a dict: producer
(1), drain (2, 3), breakdown (3b), freshness (4), dashboards (5), footprint (6); spark_lake.py is their Spark
side, machine.py samples CPU and memory, stream_session.py runs the streaming job as the stack does, plots.py
draws the PNGs. Nothing here asserts a number.
"""
