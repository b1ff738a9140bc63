"""Hostile input through the real pipeline: every case of tests/jobs/hostile_inputs.py (and Kafka headers)
goes through the test bed's Kafka into the streaming job on the Spark cluster; each record ends where its rule
says (the quarantine with its reason code, or the events table), and the job keeps running until it is stopped.

The unit tests (tests/jobs/test_logistics_rules.py) check the rules on a DataFrame; this checks what only the
real path has: Kafka's own framing of null keys, headers and large records, the job's Kafka source, and a
stream that must not stop on any of it. One exception to "every case": a 10 MB record never reaches the job,
because the brokers refuse it (the topic's max.message.bytes); the test checks that refusal and sends a 900 KB
record over the job's 64 KiB limit in its place.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field

import deltalake
import pytest
from kafka import KafkaProducer
from kafka.errors import KafkaError

from bench import sparkrun
from contract.events import MAX_PAYLOAD_BYTES
from tests.integration.spark_apps import delta_storage_options, wait_for_line
from tests.jobs.hostile_inputs import CASES, TEN_MB
from tests.jobs.jobs_testlib import BASE, payload

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

BASE_ID = str(BASE["event_id"]).encode()


@dataclass
class Sent:
    name: str
    code: str | None
    text: str
    event_id: str
    offset: int


@dataclass
class Run:
    sent: list[Sent] = field(default_factory=list)
    ten_mb_refused: str = ""
    events: dict[str, dict] = field(default_factory=dict)
    rejected: dict[int, dict] = field(default_factory=dict)
    rows: tuple[int, int] = (0, 0)
    """(events, quarantined) rows stored."""
    exit_code: int | None = None
    log: list[str] = field(default_factory=list)


def _cases() -> list[tuple[str, bytes | None, bytes | None, str | None, str, dict[str, object]]]:
    """(name, key, value, code, text, headers); each payload made unique (its own event_id), so no case is a
    re-send of another."""
    out = []
    for _, name, key, value, code, text in CASES:
        if name == "ten-mb":
            name, value = "900-kb", payload(note="x" * 900_000)
            text = f"over the {MAX_PAYLOAD_BYTES}-byte limit"
        out.append((name, key, value, code, text, {}))
    out.append(("kafka-headers", b"k", payload(), None, "", {"trace-id": b"abc", "binary": b"\xff\x00", "empty": b""}))
    return out


@pytest.fixture(scope="module")
def run(testbed: dict[str, str]) -> Iterator[Run]:
    if "testbed_spark_home" not in testbed:
        pytest.skip("drives spark-submit on the test bed (LAKEHOUSE_TARGET=testbed)")
    run_id = uuid.uuid4().hex[:10]
    topic, prefix = f"hostile-{run_id}", f"hostile_it/{run_id}"
    table = f"s3a://{testbed['lake_bucket']}/{prefix}/events"
    checkpoint = f"s3a://{testbed['checkpoint_bucket']}/{prefix}/events"
    work = sparkrun.REPO / "artifacts" / "hostile-it" / run_id
    work.mkdir(parents=True)
    sparkrun.create_topic(testbed, topic, partitions=1)

    def new_producer() -> KafkaProducer:
        return KafkaProducer(
            bootstrap_servers=testbed["kafka_bootstrap_servers"].split(","),
            acks="all",
            max_request_size=16 * 1024 * 1024,  # so the brokers, not this client, judge the 10 MB record
            request_timeout_ms=60_000,
        )

    r = Run()
    app = None
    # A producer of its own for the 10 MB record: after the brokers refuse it, kafka-python 3.0's producer
    # refuses every later record to that partition too.
    probe = new_producer()
    try:
        probe.send(topic, key=b"k", value=b"x" * TEN_MB, partition=0).get(timeout=120)
    except KafkaError as exc:
        r.ten_mb_refused = type(exc).__name__
    finally:
        probe.close()
    producer = new_producer()
    try:
        for i, (name, key, value, code, text, headers) in enumerate(_cases()):
            event_id = f"hostile-{run_id}-{i:03d}"
            if value is not None and BASE_ID in value:
                value = value.replace(BASE_ID, event_id.encode())
            elif code is None:  # an accepted case with an event id of its own (e.g. one holding a colon)
                event_id = str(json.loads(value or b"{}")["event_id"])
            meta = producer.send(
                topic, key=key, value=value, partition=0, headers=[(k, v) for k, v in headers.items()] or None
            ).get(timeout=120)
            r.sent.append(Sent(name, code, text, event_id, meta.offset))
        producer.flush()
        app = sparkrun.SparkApp(
            sparkrun.spark_submit_argv(
                testbed,
                sparkrun.JOBS / "logistics_stream.py",
                ["--bootstrap-servers", testbed["testbed_kafka_internal_bootstrap"], "--topic", topic,
                 "--table-uri", table, "--checkpoint-uri", checkpoint, "--trigger-interval", "2 seconds",
                 "--max-offsets-per-trigger", "25"],
            ),
            sparkrun.spark_env(testbed),
            work / "job.log",
        )  # fmt: skip
        wait_for_line(app, "tables ready", timeout_s=600)
        opts = delta_storage_options(testbed)
        want_events = sum(1 for s in r.sent if s.code is None)
        want_rejected = len(r.sent) - want_events
        deadline = time.monotonic() + 900
        while time.monotonic() < deadline:
            if app.proc.poll() is not None:
                break
            try:
                events = deltalake.DeltaTable(sparkrun.s3_uri(table), storage_options=opts).to_pyarrow_table(
                    columns=["event_id", "kafka_offset"]
                )
                rejected = deltalake.DeltaTable(
                    sparkrun.s3_uri(table + "_rejected"), storage_options=opts
                ).to_pyarrow_table(columns=["kafka_offset"])
            except Exception:
                time.sleep(3)
                continue
            if events.num_rows >= want_events and rejected.num_rows >= want_rejected:
                break
            time.sleep(3)
        time.sleep(5)  # a few more triggers: the job must still be running, and nothing may come twice
        events = deltalake.DeltaTable(sparkrun.s3_uri(table), storage_options=opts).to_pyarrow_table(
            columns=["event_id", "kafka_offset"]
        )
        rejected = deltalake.DeltaTable(sparkrun.s3_uri(table + "_rejected"), storage_options=opts).to_pyarrow_table(
            columns=["kafka_offset", "reason_code", "reason"]
        )
        r.rows = (events.num_rows, rejected.num_rows)
        r.events = {row["event_id"]: row for row in events.to_pylist()}
        r.rejected = {row["kafka_offset"]: row for row in rejected.to_pylist()}
        still_running = app.proc.poll() is None
        r.exit_code = app.stop(timeout_s=300) if still_running else -1
        r.log = app.lines()
        yield r
    finally:
        producer.close()
        if app is not None and app.proc.poll() is None:
            app.kill()
        sparkrun.delete_topic(testbed, topic)
        sparkrun.delete_prefix(testbed, testbed["lake_bucket"], prefix + "/")
        sparkrun.delete_prefix(testbed, testbed["checkpoint_bucket"], prefix + "/")


def test_the_brokers_refuse_a_ten_megabyte_record(run: Run) -> None:
    assert run.ten_mb_refused, "the 10 MB record was accepted by Kafka"


def test_the_job_ran_through_every_case_and_stopped_only_when_asked(run: Run) -> None:
    assert run.exit_code == 0, "\n".join(run.log[-40:])
    assert not [line for line in run.log if "the query failed" in line]
    assert len([line for line in run.log if re.search(r"stop-outcome=(finished|abandoned)", line)]) == 1


@pytest.mark.parametrize("name", [c[0] for c in _cases()])
def test_each_hostile_record_lands_where_its_rule_says(run: Run, name: str) -> None:
    sent = next(s for s in run.sent if s.name == name)
    if sent.code is None:
        assert sent.event_id in run.events, f"{name}: accepted by the rules, missing from the events table"
        assert run.events[sent.event_id]["kafka_offset"] == sent.offset
        assert sent.offset not in run.rejected
    else:
        row = run.rejected.get(sent.offset)
        assert row is not None, f"{name}: missing from the quarantine"
        assert row["reason_code"] == sent.code, row["reason"]
        assert sent.text in row["reason"]
        assert sent.event_id not in run.events


def test_every_record_is_stored_once(run: Run) -> None:
    accepted = sum(1 for s in run.sent if s.code is None)
    assert run.rows == (accepted, len(run.sent) - accepted)
    assert len(run.events) == accepted and len(run.rejected) == len(run.sent) - accepted
