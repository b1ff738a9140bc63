"""Data-plane benchmarks and the helpers they share with the data-plane integration tests.

`python -m bench.dataplane --help`: producer throughput and the streaming job's end-to-end throughput
against a running test bed.
"""
