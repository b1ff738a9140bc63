"""Kafka -> Delta streaming job for logistics events, exactly once, with a quarantine for bad records.

Entry point only (Orion's catalog lists jobs/*.py); the job is the package jobs/logistics/ (see its
stream module). `--describe` prints the resolved settings as one JSON object and exits without starting
Spark. Run: spark-submit [--py-files packages.zip] jobs/logistics_stream.py [--help].
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
    cfg = settings.parse_stream_settings(argv)
    if cfg.describe:
        settings.print_description(cfg.description())
        return 0
    if __package__:
        from .logistics import stream
    else:
        from logistics import stream  # type: ignore[no-redef]
    return stream.main(cfg)


if __name__ == "__main__":
    sys.exit(main())
