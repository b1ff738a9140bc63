"""Benchmarks of the lakehouse on the test bed (`make bench` = `python -m bench`, bench/run.py).

One module per figure, each runnable alone (`python -m bench.<module> --help`); nothing here asserts a number.
"""
