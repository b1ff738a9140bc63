"""The bounded stop (SIGTERM/SIGINT or a caller's request): no new batch starts; the batch in flight may finish
within the stop timeout, else its Spark jobs are cancelled and it is abandoned (replayed, exactly once, on the
next start). One log line says which: `stop-outcome=finished|abandoned [batch=<id>] seconds=<s>`."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

from pyspark.sql import SparkSession
from pyspark.sql.streaming import StreamingQuery

from .writer import BatchWriter, job_group

log = logging.getLogger("logistics_stream")

CANCEL_GRACE_S = 20.0
"""After cancelling an abandoned batch's Spark jobs, how long its writer may take to give up."""
QUERY_STOP_S = 20.0
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


def first_line(exc: BaseException) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


class Stopper:
    """Finish the batch in flight within `timeout_s` or abandon it; log the outcome once."""

    def __init__(self, spark: SparkSession, query: StreamingQuery, writer: BatchWriter, timeout_s: float) -> None:
        self._spark, self._query, self.writer, self._timeout_s = spark, query, writer, timeout_s
        self.requested = threading.Event()
        self.requested_at: float | None = None
        self.outcome: str | None = None
        self.line: str | None = None
        self._stop_lock = threading.Lock()

    def request(self) -> None:
        if not self.requested.is_set():
            self.requested_at = time.monotonic()
            self.writer.stopping.set()
            self.requested.set()

    def _stop_query(self) -> bool:
        """True if the query stopped within QUERY_STOP_S."""
        thread = threading.Thread(target=self._query_stop, name="query-stop", daemon=True)
        thread.start()
        thread.join(QUERY_STOP_S)
        return not thread.is_alive()

    def _query_stop(self) -> None:
        try:
            self._query.stop()
        except Exception as exc:
            log.warning("query.stop: %s", first_line(exc))

    def stop(self) -> str:
        """Bring the query down; returns and logs the outcome line. Once: a second caller gets the same line."""
        with self._stop_lock:
            if self.line is None:
                self.line = self._stop_once()
            return self.line

    def _stop_once(self) -> str:
        self.request()
        assert self.requested_at is not None
        batch = self.writer.current
        outcome = "finished"
        if batch is not None:
            log.info("stopping: batch %d in flight, waiting up to %.0f s for it to finish", batch, self._timeout_s)
            if not self.writer.wait_idle(self._timeout_s):
                outcome = "abandoned"
                self.writer.abandoning.set()
                log.info("stopping: cancelling batch %d (replayed on the next start)", batch)
                self._spark.sparkContext.cancelJobGroup(job_group(batch))
                self.writer.wait_idle(CANCEL_GRACE_S)
        stopped = self._stop_query()
        seconds = time.monotonic() - self.requested_at
        self.outcome = f"stop-outcome={outcome}" + (f" batch={batch}" if batch is not None else "")
        line = f"{self.outcome} seconds={seconds:.1f}"
        if not stopped:
            line += " (the query did not end in time: exiting without waiting for it)"
        log.info("%s", line)
        for handler in logging.getLogger().handlers:
            handler.flush()
        if not stopped:
            os._exit(0)  # the stop itself went well; only the query's own shutdown hangs
        return line


@contextmanager
def stop_on_signals(stopper: Stopper) -> Iterator[None]:
    """Within: SIGTERM/SIGINT stop the job, whatever the main thread is doing (off the main thread: nothing).

    A Python handler runs only when the main thread gets back to Python code, and it can sit inside a call into
    the JVM. So the handler only marks the request, and the interpreter's wakeup fd (written the moment the
    signal arrives) wakes a watcher thread that runs the bounded stop; the main thread joins the same stop."""
    if threading.current_thread() is not threading.main_thread():  # a runner may start the job on a thread
        yield
        return
    read_fd, write_fd = os.pipe()
    os.set_blocking(write_fd, False)

    def on_signal(signum: int, frame: object) -> None:
        stopper.request()  # no logging here: the main thread may hold the logging lock it was interrupted in

    previous = {sig: signal.signal(sig, on_signal) for sig in STOP_SIGNALS}
    previous_fd = signal.set_wakeup_fd(write_fd, warn_on_full_buffer=False)

    def watch() -> None:
        while True:
            try:
                data = os.read(read_fd, 64)
            except OSError:
                return
            if not data:
                return
            for signum in data:
                if signum in STOP_SIGNALS:
                    log.info("signal %d: stopping", signum)
                    stopper.request()
                    stopper.stop()
                    return

    threading.Thread(target=watch, name="signal-watcher", daemon=True).start()
    try:
        yield
    finally:
        signal.set_wakeup_fd(previous_fd)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        os.close(write_fd)  # the watcher's read returns b"": it ends
        os.close(read_fd)
