"""The logistics event producer: seeded, plausible shipment telemetry sent as JSON to Kafka.

Run it as `python -m producer --help`. The pieces are importable on their own:
`events` (the pure generator), `malformed` (records that break the schema on purpose), `replay`
(events from a CSV), `runner` (the send loop), `plan` (what a run sends and which part each of
`--processes N` sends), `parallel` (the worker processes), `delivery` (the Kafka sink, its batching and
compression, and the acknowledgement accounting), `cli` (flags).
This package imports nothing from lakehouse/, components/ or testbed/: it runs in containers too.
"""
