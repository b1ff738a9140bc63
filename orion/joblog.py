"""Per-job driver logs on disk, bounded: two rotating segments and stable byte offsets.

A job's log lives in <data_dir>/jobs/<id>/: `driver.log` (current segment) and `driver.log.1`
(previous one). When the current segment reaches half the cap it becomes the previous one and the
oldest bytes are dropped; `log.meta` remembers how many, so offsets keep counting from the start of
the job's first run and a reader that fell behind learns that it missed some.
"""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import dataclass
from pathlib import Path

CURRENT = "driver.log"
PREVIOUS = "driver.log.1"
META = "log.meta"


@dataclass(frozen=True)
class LogOut:  # a piece of a job's log, as GET /jobs/{id}/logs returns it (a docstring would change the OpenAPI)
    offset: int  # where `text` starts (past the requested offset when older bytes were dropped)
    next_offset: int
    size: int  # bytes written since the job's first run, dropped ones included
    truncated: bool  # bytes before `offset` were dropped by the size cap
    text: str


class BoundedLog:
    def __init__(self, directory: Path, max_bytes: int) -> None:
        self.directory = directory
        self.segment_bytes = max(max_bytes // 2, 1024)
        self._lock = threading.Lock()
        directory.mkdir(parents=True, exist_ok=True)
        self._dropped = self._read_meta()

    def _read_meta(self) -> int:
        try:
            return int(json.loads((self.directory / META).read_text())["dropped"])
        except (OSError, ValueError, KeyError, TypeError):
            return 0

    def _size(self, name: str) -> int:
        try:
            return (self.directory / name).stat().st_size
        except FileNotFoundError:
            return 0

    def append(self, text: str) -> None:
        data = text.encode("utf-8", errors="replace")
        if len(data) > self.segment_bytes:
            data = data[: self.segment_bytes - 32] + b"... [line cut by Orion]\n"
        with self._lock:
            if self._size(CURRENT) + len(data) > self.segment_bytes:
                self._rotate()
            with open(self.directory / CURRENT, "ab") as fh:
                fh.write(data)

    def _rotate(self) -> None:
        self._dropped += self._size(PREVIOUS)
        (self.directory / META).write_text(json.dumps({"dropped": self._dropped}))
        if (self.directory / CURRENT).exists():
            (self.directory / CURRENT).replace(self.directory / PREVIOUS)

    def read(self, offset: int = 0, limit: int = 65536) -> LogOut:
        with self._lock:
            prev_size, cur_size = self._size(PREVIOUS), self._size(CURRENT)
            dropped = self._dropped
            total = dropped + prev_size + cur_size
            start = min(max(offset, dropped), total)
            want = min(limit, total - start)
            data = b""
            for name, base, size in ((PREVIOUS, dropped, prev_size), (CURRENT, dropped + prev_size, cur_size)):
                pos = start + len(data)
                if len(data) < want and pos < base + size:
                    with open(self.directory / name, "rb") as fh:
                        fh.seek(pos - base)
                        data += fh.read(min(want - len(data), base + size - pos))
        # Stop at a line end when the chunk was cut by `limit`, so a UTF-8 character is never split.
        if start + len(data) < total and b"\n" in data:
            data = data[: data.rindex(b"\n") + 1]
        return LogOut(
            offset=start,
            next_offset=start + len(data),
            size=total,
            truncated=offset < dropped,
            text=data.decode("utf-8", errors="replace"),
        )

    def remove(self) -> None:
        with self._lock:
            shutil.rmtree(self.directory, ignore_errors=True)
