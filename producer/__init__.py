"""The logistics event producer: seeded, plausible shipment telemetry sent as JSON to Kafka (`python -m producer`).

Its modules, importable on their own: events (the pure generator), malformed, replay, runner (the send loop), plan
and parallel (`--processes N`), delivery (the Kafka sink and its accounting), endpoints, cli. It imports nothing
from lakehouse/, components/ or testbed/: it runs in containers too.
"""
