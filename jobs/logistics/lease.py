"""One writer per table: a lease file the writing driver keeps fresh, so no second driver writes beside it
(Delta's log store on S3 serialises commits inside one JVM only). The stream and the standalone maintenance
each hold one on both tables, and refuse to start while another holder's lease is fresh, naming it.

The lease is `<table>/_writer/lease.json` (Delta, Trino and delta-rs ignore names starting with '_'), renewed
every DEFAULT_RENEW_S; one not renewed for `ttl_s` is stale (its driver died) and can be taken over. A stream
restarted from the same checkpoint is the same holder. The check is read, write, settle, re-read: of two drivers
starting in the same second, both see the later writer as the holder and one backs off.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections.abc import Sequence
from contextlib import closing
from typing import Any

from pyspark.sql import SparkSession

log = logging.getLogger("logistics.lease")

LEASE_FILE = "_writer/lease.json"
DEFAULT_TTL_S = 120.0
DEFAULT_RENEW_S = 20.0


class LeaseHeld(RuntimeError):
    """Another driver holds a fresh lease on a table."""

    def __init__(self, table_uri: str, lease: dict[str, Any], age_s: float) -> None:
        self.table_uri, self.lease, self.age_s = table_uri, lease, age_s
        who = lease.get("holder", "?")
        where = ", ".join(f"{k} {lease[k]}" for k in ("app_id", "host", "pid") if lease.get(k))
        super().__init__(
            f"{table_uri} is being written by {who} ({where}; lease renewed {age_s:.0f} s ago, "
            f"valid {lease.get('ttl_s', DEFAULT_TTL_S):.0f} s): one writer per table"
        )


class HadoopFiles:
    """The few Hadoop FileSystem calls the jobs make, through the driver's JVM (s3a:// and local paths)."""

    def __init__(self, spark: SparkSession) -> None:
        self._jvm = spark.sparkContext._jvm
        self._conf = spark.sparkContext._jsc.hadoopConfiguration()

    def _path(self, uri: str) -> tuple[Any, Any]:
        path = self._jvm.org.apache.hadoop.fs.Path(uri)
        return path, path.getFileSystem(self._conf)

    def read(self, uri: str) -> tuple[dict[str, Any], float] | None:
        """(content, modification time in epoch seconds) or None if there is no file."""
        path, fs = self._path(uri)
        try:
            status = fs.getFileStatus(path)
        except Exception as exc:
            if "FileNotFoundException" in str(exc) or "No such file" in str(exc):
                return None
            raise
        try:
            content = json.loads(self.text(uri))
        except ValueError:
            content = {"holder": "unreadable lease file", "renewed_at": status.getModificationTime() / 1000}
        return content, status.getModificationTime() / 1000

    def text(self, uri: str) -> str:
        path, fs = self._path(uri)
        with closing(fs.open(path)) as stream:
            return self._jvm.org.apache.commons.io.IOUtils.toString(stream, "UTF-8")

    def write(self, uri: str, content: dict[str, Any]) -> None:
        path, fs = self._path(uri)
        with closing(fs.create(path, True)) as out:
            out.write(bytearray(json.dumps(content, sort_keys=True).encode()))

    def delete(self, uri: str) -> None:
        path, fs = self._path(uri)
        fs.delete(path, False)


def age_of(lease: dict[str, Any], modified_s: float) -> float:
    """Seconds since the lease was last renewed: the younger of its own stamp and the file's time, so a
    clock difference between the holder and the reader errs towards 'fresh'."""
    return max(0.0, time.time() - max(float(lease.get("renewed_at") or 0), modified_s))


class WriterLease:
    """The lease of one holder on some tables. `acquire()`, then `start()` the heartbeat, `release()` at the end."""

    def __init__(
        self,
        spark: SparkSession,
        table_uris: Sequence[str],
        holder: str,
        details: dict[str, Any] | None = None,
        ttl_s: float = DEFAULT_TTL_S,
        settle_s: float = 1.0,
    ) -> None:
        self._fs = HadoopFiles(spark)
        self.paths = [f"{u.rstrip('/')}/{LEASE_FILE}" for u in table_uris]
        self.tables = list(table_uris)
        self.holder = holder
        self.ttl_s, self.settle_s = ttl_s, settle_s
        self._details = {"host": socket.gethostname(), "pid": os.getpid(), **(details or {})}
        self._since = time.time()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lost: str | None = None
        """Why the lease was lost (another holder took it over), or None."""

    def _content(self) -> dict[str, Any]:
        return {
            "holder": self.holder,
            "since": self._since,
            "renewed_at": time.time(),
            "ttl_s": self.ttl_s,
            **self._details,
        }

    def acquire(self) -> None:
        """Take the lease on every table, or raise LeaseHeld naming the holder."""
        for table, path in zip(self.tables, self.paths, strict=True):
            found = self._fs.read(path)
            if found is None or found[0].get("holder") == self.holder:
                continue
            lease, age = found[0], age_of(*found)
            if age < float(lease.get("ttl_s") or DEFAULT_TTL_S):
                raise LeaseHeld(table, lease, age)
            log.warning("taking over the stale lease of %s on %s (renewed %.0f s ago)", lease.get("holder"), table, age)
        content = self._content()
        for path in self.paths:
            self._fs.write(path, content)
        time.sleep(self.settle_s)
        for table, path in zip(self.tables, self.paths, strict=True):
            found = self._fs.read(path)
            if found is None or found[0].get("holder") != self.holder:
                lease, modified = found if found else ({"holder": "nobody (the lease vanished)"}, time.time())
                raise LeaseHeld(table, lease, age_of(lease, modified))

    def renew(self) -> None:
        for table, path in zip(self.tables, self.paths, strict=True):
            found = self._fs.read(path)
            if found is not None and found[0].get("holder") != self.holder:
                self.lost = f"the lease on {table} is now held by {found[0].get('holder')}"
                log.error("%s: this driver must stop writing", self.lost)
                self._stop.set()
                return
            self._fs.write(path, self._content())

    def _loop(self) -> None:
        while not self._stop.wait(DEFAULT_RENEW_S):
            try:
                self.renew()
            except Exception as exc:  # S3 away for a while: keep trying; the lease lasts ttl_s
                log.warning("could not renew the writer lease: %s", str(exc).splitlines()[0] if str(exc) else exc)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="writer-lease", daemon=True)
        self._thread.start()

    def release(self) -> None:
        """Stop renewing and delete the lease files that are still ours."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        for path in self.paths:
            try:
                found = self._fs.read(path)
                if found is not None and found[0].get("holder") == self.holder:
                    self._fs.delete(path)
            except Exception as exc:
                log.warning("could not release the writer lease %s: %s", path, exc)
