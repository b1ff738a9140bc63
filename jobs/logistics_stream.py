"""Kafka -> Delta streaming job for logistics events, exactly once, with a quarantine for bad records.

Entry point only (Orion's catalog lists jobs/*.py); the job is jobs/logistics/stream.py.
Run: spark-submit [--py-files packages.zip] jobs/logistics_stream.py [--help | --describe].
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__:  # imported as jobs.logistics_stream (tests, host-side tools)
    from .logistics import settings
else:  # run as a file: the package sits beside it (this directory is first on sys.path) or in the --py-files zip
    sys.path.append(str(Path(__file__).resolve().parents[1]))  # contract/ beside jobs/, when there is no zip
    from logistics import settings  # type: ignore[no-redef]


def main(argv: Sequence[str] | None = None) -> int:
    return settings.run_job("stream", settings.parse_stream_settings(argv))


if __name__ == "__main__":
    sys.exit(main())
