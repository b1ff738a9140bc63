"""Settings of the streaming job and of the standalone maintenance: names, defaults, parsing, precedence.

One definition, shared: lakehouse/generators/job.py builds the stack's environment for the job from
the ENV_* names and the duration rule here, and the job reads them back with `parse_stream_settings`.
Standard library only (no pyspark): `--describe` answers without starting Spark, and the host-side
code (lakehouse/, Orion) can import it.

Precedence, per setting: a flag, then the environment (LAKEHOUSE_*), then the default. A setting
*derived* from another (the quarantine table and the checkpoint follow the events table) takes a value
from the environment only when its base came from the environment or the default too: a run given
`--table-uri s3a://lake/other/events` writes its quarantine beside that table and keeps its own
checkpoint, even where the environment (Orion gives every job the stack's) names the stack's ones.
Two queries never share a checkpoint by accident that way.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

# ----- environment names (the stack passes all of them; lakehouse/generators/job.py) -----
ENV_BOOTSTRAP = "LAKEHOUSE_KAFKA_BOOTSTRAP_SERVERS"
ENV_TOPIC = "LAKEHOUSE_KAFKA_TOPIC"
ENV_TABLE_URI = "LAKEHOUSE_TABLE_URI"
ENV_REJECTED_URI = "LAKEHOUSE_REJECTED_TABLE_URI"
ENV_CHECKPOINT_URI = "LAKEHOUSE_CHECKPOINT_URI"
ENV_TRIGGER = "LAKEHOUSE_TRIGGER_INTERVAL"
ENV_MAX_OFFSETS = "LAKEHOUSE_MAX_OFFSETS_PER_TRIGGER"
ENV_DEDUP_WINDOW = "LAKEHOUSE_DEDUP_WINDOW"
ENV_MAINTENANCE_INTERVAL = "LAKEHOUSE_MAINTENANCE_INTERVAL"
ENV_STOP_TIMEOUT = "LAKEHOUSE_STOP_TIMEOUT"
ENV_NAMES = (
    ENV_BOOTSTRAP,
    ENV_TOPIC,
    ENV_TABLE_URI,
    ENV_REJECTED_URI,
    ENV_CHECKPOINT_URI,
    ENV_TRIGGER,
    ENV_MAX_OFFSETS,
    ENV_DEDUP_WINDOW,
    ENV_MAINTENANCE_INTERVAL,
    ENV_STOP_TIMEOUT,
)
FLAGS = {
    ENV_BOOTSTRAP: "--bootstrap-servers",
    ENV_TOPIC: "--topic",
    ENV_TABLE_URI: "--table-uri",
    ENV_REJECTED_URI: "--rejected-table-uri",
    ENV_CHECKPOINT_URI: "--checkpoint-uri",
    ENV_TRIGGER: "--trigger-interval",
    ENV_MAX_OFFSETS: "--max-offsets-per-trigger",
    ENV_DEDUP_WINDOW: "--dedup-window",
    ENV_MAINTENANCE_INTERVAL: "--maintenance-interval",
    ENV_STOP_TIMEOUT: "--stop-timeout",
}
"""The flag of each environment variable: the StreamingJob provider passes the stack's settings as flags."""

# ----- defaults: the stack's (lakehouse/settings.py keeps its defaults equal; a test checks) -----
DEFAULT_BOOTSTRAP = "kafka-1:9092,kafka-2:9092,kafka-3:9092"
DEFAULT_TOPIC = "logistics-events"
DEFAULT_TABLE_URI = "s3a://lake/logistics_events"
DEFAULT_CHECKPOINT_URI = "s3a://checkpoints/logistics_events"
DEFAULT_TRIGGER = "1 second"
DEFAULT_MAX_OFFSETS = 200_000
DEFAULT_DEDUP_WINDOW = "1 hour"
DEFAULT_MAINTENANCE_INTERVAL = "15 minutes"
DEFAULT_STOP_TIMEOUT = "30 seconds"
REJECTED_SUFFIX = "_rejected"
CHECKPOINT_SUFFIX = "/_checkpoints/logistics_stream"
"""A checkpoint derived from a table lives inside it: it is the table's, and goes with it (Delta, VACUUM,
Trino and delta-rs ignore names starting with '_')."""
MAX_OFFSETS_LIMIT = 10_000_000
MIN_RETAIN_HOURS = 168
OFF = "off"

# ----- durations: one rule for the job and the stack's config (lakehouse/settings.py imports it) -----
# At most six digits: Spark turns a duration into microseconds in a signed 64-bit number.
DURATION_PATTERN = r"^([1-9][0-9]{0,5}) (milliseconds?|seconds?|minutes?|hours?)$"
DURATION_EXAMPLES = "'1 second', '500 milliseconds', '10 minutes', '1 hour'"
_DURATION = re.compile(DURATION_PATTERN)
_UNIT_SECONDS = {"millisecond": 0.001, "second": 1, "minute": 60, "hour": 3600}


def duration_seconds(text: str, what: str) -> float:
    """'1 hour' -> 3600.0; raises ValueError naming `what`, the value and the allowed form."""
    m = _DURATION.match(text.strip()) if isinstance(text, str) else None
    if not m:
        raise ValueError(f"{what} = {text!r} is not allowed: a duration such as {DURATION_EXAMPLES}")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]


def derived_rejected_uri(table_uri: str) -> str:
    return table_uri.rstrip("/") + REJECTED_SUFFIX


def derived_checkpoint_uri(table_uri: str) -> str:
    return table_uri.rstrip("/") + CHECKPOINT_SUFFIX


# ----- where a value came from -----
FLAG, ENVIRONMENT, DEFAULT, DERIVED = "flag", "environment", "default", "derived"
_LEVEL = {FLAG: 2, ENVIRONMENT: 1, DEFAULT: 0, DERIVED: 0}


def _pick(flag: str | None, env: Mapping[str, str], name: str, default: str) -> tuple[str, str]:
    if flag is not None:
        return flag, FLAG
    if env.get(name):
        return env[name], ENVIRONMENT
    return default, DEFAULT


def _follow(
    flag: str | None, env: Mapping[str, str], name: str, base_source: str, derived: str, default: str | None = None
) -> tuple[str, str]:
    """A setting that follows its base: its own flag; the environment only if the base is not more
    specific (came from the environment or the default); else derived from the base (or `default` when
    the base is the default itself)."""
    if flag is not None:
        return flag, FLAG
    if env.get(name) and _LEVEL[base_source] <= _LEVEL[ENVIRONMENT]:
        return env[name], ENVIRONMENT
    if default is not None and base_source == DEFAULT:
        return default, DEFAULT
    return derived, DERIVED


@dataclass(frozen=True)
class StreamSettings:
    bootstrap_servers: str
    topic: str
    table_uri: str
    rejected_table_uri: str
    checkpoint_uri: str
    trigger_interval: str
    max_offsets_per_trigger: int
    dedup_window: str
    maintenance_interval: str = DEFAULT_MAINTENANCE_INTERVAL
    """How often the stream compacts, vacuums and checkpoints its tables between batches ('off': never)."""
    stop_timeout: str = DEFAULT_STOP_TIMEOUT
    """On SIGTERM, how long the batch in flight may take to finish before it is abandoned."""
    available_now: bool = False
    """Process what the topic holds now, then stop (catch-up runs, benchmarks)."""
    describe: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    """Where each value came from: flag, environment, default or derived."""

    @property
    def dedup_window_seconds(self) -> float:
        return duration_seconds(self.dedup_window, "dedup window")

    @property
    def stop_timeout_seconds(self) -> float:
        return duration_seconds(self.stop_timeout, "stop timeout")

    @property
    def maintenance_interval_seconds(self) -> float | None:
        """None when maintenance is off."""
        if self.maintenance_interval == OFF:
            return None
        return duration_seconds(self.maintenance_interval, "maintenance interval")

    def description(self) -> dict[str, object]:
        """What `--describe` prints: every resolved value and where it came from."""
        out: dict[str, object] = {"job": "logistics_stream"}
        out.update({k: v for k, v in asdict(self).items() if k not in ("describe", "sources")})
        out["sources"] = dict(self.sources)
        return out


def _stream_parser(env: Mapping[str, str]) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logistics_stream.py",
        description="Kafka -> Delta streaming job for logistics events, exactly once, with a quarantine.",
    )
    p.add_argument("--bootstrap-servers", help=f"Kafka brokers (${ENV_BOOTSTRAP}; default {DEFAULT_BOOTSTRAP})")
    p.add_argument("--topic", help=f"${ENV_TOPIC}; default {DEFAULT_TOPIC}")
    p.add_argument("--table-uri", help=f"the events table (${ENV_TABLE_URI}; default {DEFAULT_TABLE_URI})")
    p.add_argument(
        "--rejected-table-uri",
        help=f"the quarantine (${ENV_REJECTED_URI} when the table is not given by flag; "
        f"default: the table's location + '{REJECTED_SUFFIX}')",
    )
    p.add_argument(
        "--checkpoint-uri",
        help=f"the query's checkpoint (${ENV_CHECKPOINT_URI} when the table is not given by flag; default "
        f"{DEFAULT_CHECKPOINT_URI} for the default table, else the table's location + '{CHECKPOINT_SUFFIX}')",
    )
    p.add_argument("--trigger-interval", help=f"${ENV_TRIGGER}; default {DEFAULT_TRIGGER}")
    p.add_argument("--max-offsets-per-trigger", help=f"${ENV_MAX_OFFSETS}; default {DEFAULT_MAX_OFFSETS}")
    p.add_argument("--dedup-window", help=f"${ENV_DEDUP_WINDOW}; default {DEFAULT_DEDUP_WINDOW}")
    p.add_argument(
        "--maintenance-interval",
        help=f"${ENV_MAINTENANCE_INTERVAL}; default {DEFAULT_MAINTENANCE_INTERVAL}; '{OFF}' turns it off",
    )
    p.add_argument("--stop-timeout", help=f"${ENV_STOP_TIMEOUT}; default {DEFAULT_STOP_TIMEOUT}")
    p.add_argument("--available-now", action="store_true", help="Process what the topic holds now, then stop.")
    p.add_argument(
        "--describe", action="store_true", help="Print the resolved settings as one JSON object and exit (no Spark)."
    )
    return p


def parse_stream_settings(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> StreamSettings:
    """Flags win over the environment, the environment over the defaults (derived settings follow their
    base, see the module docstring). Raises SystemExit(2) with the reason on a bad value."""
    env = os.environ if env is None else env
    p = _stream_parser(env)
    a = p.parse_args(argv)
    src: dict[str, str] = {}

    def pick(attr: str, name: str, default: str) -> str:
        value, src[attr] = _pick(getattr(a, attr), env, name, default)
        return value

    bootstrap = pick("bootstrap_servers", ENV_BOOTSTRAP, DEFAULT_BOOTSTRAP)
    topic = pick("topic", ENV_TOPIC, DEFAULT_TOPIC)
    table = pick("table_uri", ENV_TABLE_URI, DEFAULT_TABLE_URI).strip().rstrip("/")
    rejected, src["rejected_table_uri"] = _follow(
        a.rejected_table_uri, env, ENV_REJECTED_URI, src["table_uri"], derived_rejected_uri(table)
    )
    checkpoint, src["checkpoint_uri"] = _follow(
        a.checkpoint_uri,
        env,
        ENV_CHECKPOINT_URI,
        src["table_uri"],
        derived_checkpoint_uri(table),
        DEFAULT_CHECKPOINT_URI,
    )
    trigger = pick("trigger_interval", ENV_TRIGGER, DEFAULT_TRIGGER)
    max_offsets_text = pick("max_offsets_per_trigger", ENV_MAX_OFFSETS, str(DEFAULT_MAX_OFFSETS))
    window = pick("dedup_window", ENV_DEDUP_WINDOW, DEFAULT_DEDUP_WINDOW)
    maintenance = pick("maintenance_interval", ENV_MAINTENANCE_INTERVAL, DEFAULT_MAINTENANCE_INTERVAL)
    stop_timeout = pick("stop_timeout", ENV_STOP_TIMEOUT, DEFAULT_STOP_TIMEOUT)
    try:
        duration_seconds(trigger, "trigger interval")
        duration_seconds(window, "dedup window")
        duration_seconds(stop_timeout, "stop timeout")
        if maintenance.strip() != OFF:
            duration_seconds(maintenance, f"maintenance interval (or '{OFF}')")
        try:
            max_offsets = int(max_offsets_text)
        except ValueError:
            max_offsets = 0
        if not 1 <= max_offsets <= MAX_OFFSETS_LIMIT:
            raise ValueError(
                f"maxOffsetsPerTrigger = {max_offsets_text!r} is not allowed: an integer from 1 to {MAX_OFFSETS_LIMIT}"
            )
        for name, value in (("table_uri", table), ("rejected_table_uri", rejected), ("checkpoint_uri", checkpoint)):
            if not value.strip():
                raise ValueError(f"{name} is empty: give a location such as s3a://bucket/path")
        if not bootstrap.strip() or not topic.strip():
            raise ValueError("bootstrap servers and topic must not be empty")
        rejected, checkpoint = rejected.strip().rstrip("/"), checkpoint.strip().rstrip("/")
        if len({table, rejected}) < 2:
            raise ValueError(f"the quarantine {rejected!r} must not be the events table itself")
        for inner, outer in ((checkpoint, table), (checkpoint, rejected)):
            if inner == outer:
                raise ValueError(f"the checkpoint {inner!r} must not be a table's location")
    except ValueError as exc:
        p.error(str(exc))
    return StreamSettings(
        bootstrap_servers=bootstrap.strip(),
        topic=topic.strip(),
        table_uri=table,
        rejected_table_uri=rejected,
        checkpoint_uri=checkpoint,
        trigger_interval=trigger.strip(),
        max_offsets_per_trigger=max_offsets,
        dedup_window=window.strip(),
        maintenance_interval=maintenance.strip(),
        stop_timeout=stop_timeout.strip(),
        available_now=a.available_now,
        describe=a.describe,
        sources=src,
    )


@dataclass(frozen=True)
class MaintenanceSettings:
    table_uri: str
    rejected_table_uri: str
    retain_hours: int
    skip_vacuum: bool
    describe: bool = False
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)

    def description(self) -> dict[str, object]:
        out: dict[str, object] = {"job": "delta_maintenance", "checkpoint_uri": None}
        out.update({k: v for k, v in asdict(self).items() if k not in ("describe", "sources")})
        out["sources"] = dict(self.sources)
        return out


def parse_maintenance_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> MaintenanceSettings:
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(
        prog="delta_maintenance.py",
        description="Compaction, vacuum and log checkpoint of the events table and its quarantine, by hand, "
        "while no stream writes them (the stream runs the same maintenance itself, on its schedule).",
    )
    p.add_argument("--table-uri", help=f"${ENV_TABLE_URI}; default {DEFAULT_TABLE_URI}")
    p.add_argument(
        "--rejected-table-uri",
        help=f"${ENV_REJECTED_URI} when the table is not given by flag; default: the table's location + "
        f"'{REJECTED_SUFFIX}'",
    )
    p.add_argument(
        "--retain-hours",
        type=int,
        default=MIN_RETAIN_HOURS,
        help=f"VACUUM retention in hours, at least {MIN_RETAIN_HOURS} (default)",
    )
    p.add_argument("--skip-vacuum", action="store_true", help="Only compact and checkpoint.")
    p.add_argument("--describe", action="store_true", help="Print the resolved settings as JSON and exit.")
    a = p.parse_args(argv)
    if a.retain_hours < MIN_RETAIN_HOURS:
        p.error(
            f"--retain-hours {a.retain_hours} is not allowed: at least {MIN_RETAIN_HOURS} hours, or VACUUM can delete "
            "files that running queries, time travel or a lagging stream still read"
        )
    src: dict[str, str] = {}
    table, src["table_uri"] = _pick(a.table_uri, env, ENV_TABLE_URI, DEFAULT_TABLE_URI)
    table = table.strip().rstrip("/")
    if not table:
        p.error("table_uri is empty: give a location such as s3a://bucket/path")
    rejected, src["rejected_table_uri"] = _follow(
        a.rejected_table_uri, env, ENV_REJECTED_URI, src["table_uri"], derived_rejected_uri(table)
    )
    return MaintenanceSettings(
        table_uri=table,
        rejected_table_uri=rejected.strip().rstrip("/"),
        retain_hours=a.retain_hours,
        skip_vacuum=a.skip_vacuum,
        describe=a.describe,
        sources=src,
    )


def print_description(description: Mapping[str, object]) -> None:
    """ONE JSON object on one line of stdout (Orion reads it)."""
    print(json.dumps(description, sort_keys=True), flush=True)
