"""Settings of the streaming job and of the standalone maintenance (standard library only: `--describe`
answers without Spark, and lakehouse/ imports it); names and grammars are the contract's.

Precedence, per setting: a flag, then the environment, then the default. A setting *derived* from another (the
quarantine table and the checkpoint follow the events table) takes the environment's value only when its base
came from the environment or the default too: a run given `--table-uri s3a://lake/other/events` writes its
quarantine beside that table and keeps its own checkpoint, whatever the environment (Orion gives every job the
stack's) says. Two queries never share a checkpoint by accident that way.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field

from contract import names
from contract.names import checkpoint_uri, derived_checkpoint_uri, rejected_table_name, table_uri
from contract.units import OFF, duration_seconds

FLAGS = {
    names.ENV_BOOTSTRAP: "--bootstrap-servers",
    names.ENV_TOPIC: "--topic",
    names.ENV_TABLE_URI: "--table-uri",
    names.ENV_REJECTED_URI: "--rejected-table-uri",
    names.ENV_CHECKPOINT_URI: "--checkpoint-uri",
    names.ENV_TRIGGER: "--trigger-interval",
    names.ENV_MAX_OFFSETS: "--max-offsets-per-trigger",
    names.ENV_DEDUP_WINDOW: "--dedup-window",
    names.ENV_MAINTENANCE_INTERVAL: "--maintenance-interval",
    names.ENV_STOP_TIMEOUT: "--stop-timeout",
}
"""The flag of each environment variable: the StreamingJob provider passes the stack's settings as flags."""
ENV_NAMES = tuple(FLAGS)

# The defaults, also the stack's (lakehouse/settings.py takes them from here).
DEFAULT_BOOTSTRAP = "kafka-1:9092,kafka-2:9092,kafka-3:9092"
DEFAULT_TABLE_URI = table_uri(names.DEFAULT_LAKE_BUCKET, names.DEFAULT_TABLE)
DEFAULT_CHECKPOINT_URI = checkpoint_uri(names.DEFAULT_CHECKPOINT_BUCKET, names.DEFAULT_TABLE)
DEFAULT_TRIGGER = "1 second"
DEFAULT_MAX_OFFSETS = 200_000
DEFAULT_DEDUP_WINDOW = "1 hour"
DEFAULT_MAINTENANCE_INTERVAL = "15 minutes"
DEFAULT_STOP_TIMEOUT = "30 seconds"
MAX_OFFSETS_LIMIT = 10_000_000
MIN_RETAIN_HOURS = 168

FLAG, ENVIRONMENT, DEFAULT, DERIVED = "flag", "environment", "default", "derived"


def _follow(
    flag: str | None, env: Mapping[str, str], name: str, base_source: str, derived: str, default: str | None = None
) -> tuple[str, str]:
    """A setting's value and where it came from: its flag; the environment unless its base came from a flag;
    else derived from the base (or `default` when the base is the default itself)."""
    if flag is not None:
        return flag, FLAG
    if env.get(name) and base_source != FLAG:
        return env[name], ENVIRONMENT
    if default is not None and base_source == DEFAULT:
        return default, DEFAULT
    return derived, DERIVED


def _pick(flag: str | None, env: Mapping[str, str], name: str, default: str) -> tuple[str, str]:
    return _follow(flag, env, name, DEFAULT, default, default)


def _table_and_quarantine(a: argparse.Namespace, env: Mapping[str, str], src: dict[str, str]) -> tuple[str, str]:
    """The events table and the quarantine that follows it; their sources go to `src`."""
    table, src["table_uri"] = _pick(a.table_uri, env, names.ENV_TABLE_URI, DEFAULT_TABLE_URI)
    table = table.strip().rstrip("/")
    rejected, src["rejected_table_uri"] = _follow(
        a.rejected_table_uri, env, names.ENV_REJECTED_URI, src["table_uri"], rejected_table_name(table)
    )
    return table, rejected


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
        return (
            None
            if self.maintenance_interval == OFF
            else duration_seconds(self.maintenance_interval, "maintenance interval")
        )

    def description(self) -> dict[str, object]:
        return _description(self, job="logistics_stream")


def _stream_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="logistics_stream.py",
        description="Kafka -> Delta streaming job for logistics events, exactly once, with a quarantine.",
    )
    p.add_argument("--bootstrap-servers", help=f"Kafka brokers (${names.ENV_BOOTSTRAP}; default {DEFAULT_BOOTSTRAP})")
    p.add_argument("--topic", help=f"${names.ENV_TOPIC}; default {names.DEFAULT_TOPIC}")
    p.add_argument("--table-uri", help=f"the events table (${names.ENV_TABLE_URI}; default {DEFAULT_TABLE_URI})")
    p.add_argument(
        "--rejected-table-uri",
        help=f"the quarantine (${names.ENV_REJECTED_URI} when the table is not given by flag; "
        f"default: the table's location + '{names.REJECTED_SUFFIX}')",
    )
    p.add_argument(
        "--checkpoint-uri",
        help=f"the query's checkpoint (${names.ENV_CHECKPOINT_URI} when the table is not given by flag; default "
        f"{DEFAULT_CHECKPOINT_URI} for the default table, else the table's location + '{names.CHECKPOINT_SUFFIX}')",
    )
    p.add_argument("--trigger-interval", help=f"${names.ENV_TRIGGER}; default {DEFAULT_TRIGGER}")
    p.add_argument("--max-offsets-per-trigger", help=f"${names.ENV_MAX_OFFSETS}; default {DEFAULT_MAX_OFFSETS}")
    p.add_argument("--dedup-window", help=f"${names.ENV_DEDUP_WINDOW}; default {DEFAULT_DEDUP_WINDOW}")
    p.add_argument(
        "--maintenance-interval",
        help=f"${names.ENV_MAINTENANCE_INTERVAL}; default {DEFAULT_MAINTENANCE_INTERVAL}; '{OFF}' turns it off",
    )
    p.add_argument("--stop-timeout", help=f"${names.ENV_STOP_TIMEOUT}; default {DEFAULT_STOP_TIMEOUT}")
    p.add_argument("--available-now", action="store_true", help="Process what the topic holds now, then stop.")
    p.add_argument(
        "--describe", action="store_true", help="Print the resolved settings as one JSON object and exit (no Spark)."
    )
    return p


def parse_stream_settings(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> StreamSettings:
    """The settings by the module's precedence; SystemExit(2) with the reason on a bad value."""
    env = os.environ if env is None else env
    p = _stream_parser()
    a = p.parse_args(argv)
    src: dict[str, str] = {}

    def pick(attr: str, name: str, default: str) -> str:
        value, src[attr] = _pick(getattr(a, attr), env, name, default)
        return value

    bootstrap = pick("bootstrap_servers", names.ENV_BOOTSTRAP, DEFAULT_BOOTSTRAP)
    topic = pick("topic", names.ENV_TOPIC, names.DEFAULT_TOPIC)
    table, rejected = _table_and_quarantine(a, env, src)
    derived = derived_checkpoint_uri(table)
    checkpoint, src["checkpoint_uri"] = _follow(
        a.checkpoint_uri, env, names.ENV_CHECKPOINT_URI, src["table_uri"], derived, DEFAULT_CHECKPOINT_URI
    )
    trigger = pick("trigger_interval", names.ENV_TRIGGER, DEFAULT_TRIGGER)
    max_offsets_text = pick("max_offsets_per_trigger", names.ENV_MAX_OFFSETS, str(DEFAULT_MAX_OFFSETS))
    window = pick("dedup_window", names.ENV_DEDUP_WINDOW, DEFAULT_DEDUP_WINDOW)
    maintenance = pick("maintenance_interval", names.ENV_MAINTENANCE_INTERVAL, DEFAULT_MAINTENANCE_INTERVAL)
    stop_timeout = pick("stop_timeout", names.ENV_STOP_TIMEOUT, DEFAULT_STOP_TIMEOUT)
    try:
        for text, what in ((trigger, "trigger interval"), (window, "dedup window"), (stop_timeout, "stop timeout")):
            duration_seconds(text, what)
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
        if table == rejected:
            raise ValueError(f"the quarantine {rejected!r} must not be the events table itself")
        if checkpoint in (table, rejected):
            raise ValueError(f"the checkpoint {checkpoint!r} must not be a table's location")
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
        return _description(self, job="delta_maintenance", checkpoint_uri=None)


def parse_maintenance_settings(
    argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
) -> MaintenanceSettings:
    env = os.environ if env is None else env
    p = argparse.ArgumentParser(
        prog="delta_maintenance.py",
        description="Compaction, vacuum and log checkpoint of the events table and its quarantine, by hand, "
        "while no stream writes them (the stream runs the same maintenance itself, on its schedule).",
    )
    p.add_argument("--table-uri", help=f"${names.ENV_TABLE_URI}; default {DEFAULT_TABLE_URI}")
    p.add_argument(
        "--rejected-table-uri",
        help=f"${names.ENV_REJECTED_URI} when the table is not given by flag; default: the table's location + "
        f"'{names.REJECTED_SUFFIX}'",
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
    table, rejected = _table_and_quarantine(a, env, src)
    if not table:
        p.error("table_uri is empty: give a location such as s3a://bucket/path")
    return MaintenanceSettings(
        table_uri=table,
        rejected_table_uri=rejected.strip().rstrip("/"),
        retain_hours=a.retain_hours,
        skip_vacuum=a.skip_vacuum,
        describe=a.describe,
        sources=src,
    )


def _description(settings: StreamSettings | MaintenanceSettings, **head: object) -> dict[str, object]:
    """What `--describe` prints: every resolved value and where it came from."""
    values = {k: v for k, v in asdict(settings).items() if k not in ("describe", "sources")}
    return {**head, **values, "sources": dict(settings.sources)}


def print_description(description: Mapping[str, object]) -> None:
    """ONE JSON object on one line of stdout (Orion reads it)."""
    print(json.dumps(description, sort_keys=True), flush=True)


def run_job(module: str, cfg: StreamSettings | MaintenanceSettings) -> int:
    """An entry point's work: `--describe` answers without importing Spark; else `module`'s main runs."""
    if cfg.describe:
        print_description(cfg.description())
        return 0
    return importlib.import_module(f".{module}", __package__).main(cfg)
