"""What the fault suite (test_faults_under_load.py) needs besides the test bed's own fault functions
(testbed/faults.py): a steady producer load, a watch on the pipeline's progress, the recovery figures taken from
it, and the reconciliation of what was produced with what an independent reader (delta-rs) finds.

- `Load` runs the producer CLI (`python -m producer`, as a user runs it) in waves, back to back, until it is told
  to stop and has sent at least its target: each wave at a steady --rate with malformed records and re-sends
  (--inject-malformed, --duplicates) mixed in and its own --manifest; once, a second producer re-sends the first
  records of wave 0 unchanged (same seed, start time and rate) beside the running wave, as an upstream retrying a
  whole range would.
- `Watch` samples, about once a second, the topic's end offsets (what was produced and acknowledged), the
  streaming query's checkpoint (offsets/N when batch N is planned, commits/N once it is written) and the job's
  record in Orion. `Timeline` turns that into figures: events in flight at a moment (produced, not committed),
  the first commit of a batch planned after a moment (the pipeline flowing again), when everything that was in
  flight at a moment has landed.
- `reconcile()` compares the manifests with the two tables' rows.
The pure parts (Timeline, reconcile, expected) are unit-tested in tests/testbed/test_faults.py.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# ------------------------------------------------------------------------------------------ the load


@dataclass
class Wave:
    index: int
    kind: str
    """'stream' (a wave of the steady stream) or 'resend' (a copy of the first records of wave 0)."""
    count: int
    manifest: Path
    summary_path: Path
    started: float
    proc: subprocess.Popen | None = None
    ended: float | None = None
    exit_code: int | None = None
    summary: dict = field(default_factory=dict)


class Load:
    """The producer's steady stream, in waves, in a thread of its own."""

    def __init__(
        self,
        endpoints: Mapping[str, str],
        topic: str,
        work: Path,
        *,
        rate: float,
        wave_events: int,
        target: int,
        malformed_share: float = 0.005,
        duplicate_share: float = 0.003,
        resend_events: int = 0,
        resend_at_wave: int = 1,
        seed: int = 7100,
    ) -> None:
        self.endpoints, self.topic, self.work = dict(endpoints), topic, work
        self.rate, self.wave_events, self.target = rate, wave_events, target
        self.malformed_share, self.duplicate_share = malformed_share, duplicate_share
        self.resend_events, self.resend_at_wave, self.seed = resend_events, resend_at_wave, seed
        self.waves: list[Wave] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._first_start: str | None = None
        self._thread = threading.Thread(target=self._run, name="faults-load", daemon=True)

    # ----- control
    def start(self) -> None:
        self._thread.start()

    def finish(self) -> None:
        """Stop after the current wave once the target is reached."""
        self._stop.set()

    def join(self, timeout: float) -> None:
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"the producer waves did not end within {timeout:.0f} s")

    def abort(self) -> None:
        self._stop.set()
        with self._lock:
            for w in self.waves:
                if w.proc is not None and w.proc.poll() is None:
                    w.proc.kill()

    # ----- state
    def sending(self) -> bool:
        """True while a wave of the stream is running."""
        with self._lock:
            return any(w.kind == "stream" and w.ended is None for w in self.waves)

    def stream_sent(self) -> int:
        with self._lock:
            return sum(w.count for w in self.waves if w.kind == "stream" and w.ended is not None)

    # ----- the thread
    def _argv(self, wave: Wave, seed: int, start_time: str, extra: list[str]) -> list[str]:
        return [
            sys.executable, "-m", "producer", "--bootstrap-servers", self.endpoints["kafka_bootstrap_servers"],
            "--topic", self.topic, "--no-progress", "--rate", f"{self.rate:g}", "--count", str(wave.count),
            "--seed", str(seed), "--start-time", start_time, "--manifest", str(wave.manifest),
            "--summary-json", str(wave.summary_path), *extra,
        ]  # fmt: skip

    def _launch(self, kind: str, count: int, seed: int, start_time: str, extra: list[str]) -> Wave:
        with self._lock:
            index = len(self.waves)
            stem = self.work / f"wave-{index}-{kind}"
            wave = Wave(index=index, kind=kind, count=count, manifest=stem.with_suffix(".jsonl"),
                        summary_path=stem.with_suffix(".summary.json"), started=time.monotonic())  # fmt: skip
            log = stem.with_suffix(".log").open("wb")
            wave.proc = subprocess.Popen(self._argv(wave, seed, start_time, extra), cwd=REPO, stdout=log,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)  # fmt: skip
            self.waves.append(wave)
            return wave

    def _reap(self, wave: Wave, timeout: float) -> None:
        assert wave.proc is not None
        try:
            wave.exit_code = wave.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            wave.proc.kill()
            wave.exit_code = wave.proc.wait(30)
            self.errors.append(f"wave {wave.index} ({wave.kind}) did not end within {timeout:.0f} s: killed")
        with self._lock:
            wave.ended = time.monotonic()
        if wave.summary_path.exists():
            wave.summary = json.loads(wave.summary_path.read_text())
        if wave.exit_code != 0:
            self.errors.append(f"wave {wave.index} ({wave.kind}) exited {wave.exit_code}: {wave.summary}")

    def _run(self) -> None:
        resend: Wave | None = None
        resend_thread: threading.Thread | None = None
        n = 0
        # Each wave ~wave_events/rate seconds; a stalled cluster gets the producer's own 120 s delivery timeout.
        bound = self.wave_events / self.rate * 4 + 300
        while True:
            if self._stop.is_set() and self.stream_sent() >= self.target:
                break
            start_time = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
            extra = ["--inject-malformed", str(max(1, int(self.wave_events * self.malformed_share))),
                     "--duplicates", str(max(1, int(self.wave_events * self.duplicate_share)))]  # fmt: skip
            if n == 0:
                self._first_start = start_time
            wave = self._launch("stream", self.wave_events, self.seed + n, start_time, extra)
            if n == self.resend_at_wave and self.resend_events and self._first_start:
                # The first records of wave 0 again, byte for byte: same seed, start time and rate, no injection.
                resend = self._launch("resend", self.resend_events, self.seed, self._first_start, [])
                resend_thread = threading.Thread(target=self._reap, args=(resend, bound), daemon=True)
                resend_thread.start()
            self._reap(wave, bound)
            n += 1
            if self.aborted():
                break
        if resend_thread is not None:
            resend_thread.join(bound)

    def aborted(self) -> bool:
        return any("killed" in e for e in self.errors)

    # ----- results
    def manifests(self) -> dict[str, list[dict]]:
        """Wave name -> its manifest lines (kind, event_id, partition, offset | error)."""
        out = {}
        for w in self.waves:
            lines = w.manifest.read_text().splitlines() if w.manifest.exists() else []
            out[f"{w.kind}-{w.index}"] = [json.loads(line) for line in lines]
        return out

    def acked_so_far(self) -> int:
        """Records acknowledged so far (manifest lines written; the files are buffered: a slight undercount)."""
        total = 0
        for w in list(self.waves):
            with contextlib.suppress(OSError):
                with w.manifest.open("rb") as fh:
                    total += sum(chunk.count(b"\n") for chunk in iter(lambda fh=fh: fh.read(1 << 20), b""))
        return total


# ------------------------------------------------------------------------------------------ what to expect


@dataclass
class Expected:
    valid: set[str]
    bad: dict[tuple[int, int], str]
    """(partition, offset) -> the injected kind (the reason code the job must give)."""
    resent: int
    """Records that repeat an event already sent: the job must recognise each as a duplicate."""
    acked: int
    failed: int


def expected(manifests: Mapping[str, list[dict]]) -> Expected:
    valid: set[str] = set()
    bad: dict[tuple[int, int], str] = {}
    resent = acked = failed = 0
    for name, lines in manifests.items():
        for line in lines:
            if "offset" not in line:
                failed += 1
                continue
            acked += 1
            if name.startswith("resend") or line["kind"] == "duplicate":
                resent += 1
            elif line["kind"] == "valid":
                if line["event_id"] in valid:
                    resent += 1  # a re-send that the producer did not label as one
                valid.add(line["event_id"])
            else:
                bad[(line["partition"], line["offset"])] = line["kind"]
    return Expected(valid=valid, bad=bad, resent=resent, acked=acked, failed=failed)


@dataclass
class Reconciliation:
    produced: int
    topic_records: int
    events_rows: int
    distinct_events: int
    lost: int
    duplicated: int
    unexpected: int
    """Event ids in the table that were never sent as valid events."""
    rejected_rows: int
    rejected_distinct: int
    rejected_missing: int
    rejected_extra: int
    wrong_reason: int
    no_reason_text: int
    resent: int
    recognised_duplicates: int
    """topic records - events rows - rejected rows: what the job dropped as re-sends."""

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def reconcile(
    exp: Expected,
    topic_records: int,
    event_ids: list[str],
    rejected: list[dict],
) -> Reconciliation:
    """`rejected`: rows with kafka_partition, kafka_offset, reason_code, reason."""
    counts = Counter(event_ids)
    found = {(r["kafka_partition"], r["kafka_offset"]): r for r in rejected}
    return Reconciliation(
        produced=exp.acked,
        topic_records=topic_records,
        events_rows=len(event_ids),
        distinct_events=len(counts),
        lost=len(exp.valid - set(counts)),
        duplicated=sum(n - 1 for n in counts.values() if n > 1),
        unexpected=len(set(counts) - exp.valid),
        rejected_rows=len(rejected),
        rejected_distinct=len(found),
        rejected_missing=len(set(exp.bad) - set(found)),
        rejected_extra=len(rejected) - len(set(found) & set(exp.bad)),
        wrong_reason=sum(1 for k, kind in exp.bad.items() if k in found and found[k]["reason_code"] != kind),
        no_reason_text=sum(1 for r in rejected if not r.get("reason")),
        resent=exp.resent,
        recognised_duplicates=topic_records - len(event_ids) - len(rejected),
    )


# ------------------------------------------------------------------------------------------ the timeline


@dataclass
class Batch:
    id: int
    planned_at: float
    """When offsets/<id> was first seen (monotonic clock)."""
    total: int
    """Sum over partitions of the batch's end offsets."""
    committed_at: float | None = None


@dataclass
class Timeline:
    batches: dict[int, Batch] = field(default_factory=dict)
    ends: list[tuple[float, int]] = field(default_factory=list)
    """(time, records in the topic)."""
    jobs: list[tuple[float, dict]] = field(default_factory=list)
    """(time, the job's record in Orion: state, run, app_id, restart_count)."""

    def committed_total(self, t: float) -> int:
        return max((b.total for b in self.batches.values() if b.committed_at is not None and b.committed_at <= t),
                   default=0)  # fmt: skip

    def planned_total(self, t: float) -> int:
        return max((b.total for b in self.batches.values() if b.planned_at <= t), default=0)

    def end_total(self, t: float) -> int | None:
        before = [n for at, n in self.ends if at <= t]
        return before[-1] if before else None

    def in_flight(self, t: float) -> int | None:
        end = self.end_total(t)
        return None if end is None else max(0, end - self.committed_total(t))

    def first_flow_after(self, t: float) -> float | None:
        """Commit time of the first batch planned after `t` that reads beyond what was planned by `t`."""
        beyond = self.planned_total(t)
        times = [b.committed_at for b in self.batches.values()
                 if b.planned_at > t and b.total > beyond and b.committed_at is not None]  # fmt: skip
        return min(times) if times else None

    def first_commit_after(self, t: float) -> float | None:
        """The first commit after `t` that carries offsets beyond those committed at `t` (the table grows)."""
        level = self.committed_total(t)
        times = [b.committed_at for b in self.batches.values()
                 if b.committed_at is not None and b.committed_at > t and b.total > level]  # fmt: skip
        return min(times) if times else None

    def landed_by(self, level: int, after: float) -> float | None:
        """When the committed offsets first reached `level` (at or after `after`)."""
        times = [b.committed_at for b in self.batches.values()
                 if b.committed_at is not None and b.committed_at >= after and b.total >= level]  # fmt: skip
        return min(times) if times else None

    def commits_between(self, a: float, b: float) -> int:
        return sum(1 for x in self.batches.values() if x.committed_at is not None and a < x.committed_at <= b)


def parse_offsets_file(text: str, topic: str) -> dict[int, int] | None:
    """End offsets by partition from a Structured Streaming offsets/<batch> file (v1, metadata, one line per
    source); None if the file names no such topic."""
    for line in text.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get(topic), dict):
            return {int(p): int(o) for p, o in obj[topic].items()}
    return None


class Watch:
    """Samples the topic, the checkpoint and the job about once a second, in a thread, into a Timeline."""

    def __init__(
        self,
        endpoints: Mapping[str, str],
        topic: str,
        checkpoint_uri: str,
        job: Callable[[], dict | None],
        *,
        interval: float = 1.0,
    ) -> None:
        self.endpoints, self.topic, self.interval = dict(endpoints), topic, interval
        bucket_path = checkpoint_uri.split("://", 1)[1]
        self.bucket, _, prefix = bucket_path.partition("/")
        self.prefix = prefix.rstrip("/") + "/"
        self._job = job
        self.timeline = Timeline()
        self.errors: Counter[str] = Counter()
        self.lock = threading.Lock()
        self._stop = threading.Event()
        self._consumer = None
        self._s3 = None
        self._thread = threading.Thread(target=self._run, name="faults-watch", daemon=True)
        self._last_job = 0.0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)
        if self._consumer is not None:
            with contextlib.suppress(Exception):
                self._consumer.close()

    def _s3_client(self):
        if self._s3 is None:
            import boto3
            from botocore.config import Config

            self._s3 = boto3.client(
                "s3",
                endpoint_url=self.endpoints["s3_endpoint"],
                region_name=self.endpoints.get("testbed_s3_region", "us-east-1"),
                aws_access_key_id=self.endpoints["testbed_s3_admin_access_key"],
                aws_secret_access_key=self.endpoints["testbed_s3_admin_secret_key"],
                config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}, connect_timeout=2,
                              read_timeout=4),
            )  # fmt: skip
        return self._s3

    def topic_end(self) -> tuple[int, dict[int, int]]:
        """Records in the topic now (sum of end offsets; the topic is new, so its offsets start at 0)."""
        from kafka import KafkaConsumer, TopicPartition

        with self.lock:
            if self._consumer is None:
                self._consumer = KafkaConsumer(
                    bootstrap_servers=self.endpoints["kafka_bootstrap_servers"].split(","),
                    request_timeout_ms=8000, session_timeout_ms=6000, heartbeat_interval_ms=2000,
                    client_id="faults-watch",
                )  # fmt: skip
            parts = [TopicPartition(self.topic, p) for p in sorted(self._consumer.partitions_for_topic(self.topic))]
            ends = self._consumer.end_offsets(parts)
        by_partition = {tp.partition: int(o) for tp, o in ends.items()}
        return sum(by_partition.values()), by_partition

    def sample_end(self) -> int:
        total, _ = self.topic_end()
        with self.lock:
            self.timeline.ends.append((time.monotonic(), total))
        return total

    def _names(self, sub: str) -> set[int]:
        s3 = self._s3_client()
        out: set[int] = set()
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + sub):
            for obj in page.get("Contents", []):
                name = obj["Key"].rsplit("/", 1)[-1]
                if name.isdigit():
                    out.add(int(name))
        return out

    def _poll_checkpoint(self) -> None:
        offsets = self._names("offsets/")
        commits = self._names("commits/")
        now = time.monotonic()
        tl = self.timeline
        for n in sorted(offsets - set(tl.batches)):
            body = self._s3_client().get_object(Bucket=self.bucket, Key=f"{self.prefix}offsets/{n}")["Body"].read()
            parts = parse_offsets_file(body.decode(), self.topic)
            if parts is not None:
                with self.lock:
                    tl.batches[n] = Batch(id=n, planned_at=now, total=sum(parts.values()))
        with self.lock:
            for n in commits:
                b = tl.batches.get(n)
                if b is not None and b.committed_at is None:
                    b.committed_at = now

    def poll_once(self) -> None:
        for what, fn in (("kafka", self.sample_end), ("checkpoint", self._poll_checkpoint)):
            try:
                fn()
            except Exception as exc:
                self.errors[f"{what}: {type(exc).__name__}"] += 1
        if time.monotonic() - self._last_job >= 2:
            self._last_job = time.monotonic()
            try:
                job = self._job()
            except Exception as exc:
                self.errors[f"orion: {type(exc).__name__}"] += 1
            else:
                if job is not None:
                    keep = {k: job.get(k) for k in ("state", "run", "app_id", "restart_count", "pid", "detail")}
                    with self.lock:
                        self.timeline.jobs.append((time.monotonic(), keep))

    def _run(self) -> None:
        while not self._stop.is_set():
            began = time.monotonic()
            self.poll_once()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - began)))

    def committed_total(self) -> int:
        with self.lock:
            return self.timeline.committed_total(time.monotonic())

    def commits(self) -> int:
        with self.lock:
            return sum(1 for b in self.timeline.batches.values() if b.committed_at is not None)
