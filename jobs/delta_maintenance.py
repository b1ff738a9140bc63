"""Compaction, vacuum and log checkpoint of the events table and its quarantine, by hand.

Entry point only (jobs/logistics/maintenance.py): it refuses to run (exit 3) while a stream, which runs the
same upkeep on a schedule, holds the tables' writer lease. Run: spark-submit [--py-files packages.zip]
jobs/delta_maintenance.py [--help | --describe].
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

if __package__:
    from .logistics import settings
else:  # run as a file: the package sits beside it (this directory is first on sys.path) or in the --py-files zip
    sys.path.append(str(Path(__file__).resolve().parents[1]))  # contract/ beside jobs/, when there is no zip
    from logistics import settings  # type: ignore[no-redef]


def main(argv: Sequence[str] | None = None) -> int:
    return settings.run_job("maintenance", settings.parse_maintenance_settings(argv))


if __name__ == "__main__":
    sys.exit(main())
