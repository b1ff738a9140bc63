"""`python -m orion`: validate the ORION_* settings, then serve the API and UI with uvicorn."""

from __future__ import annotations

import logging
import sys

import uvicorn
from pydantic import ValidationError

from orion.main import create_app
from orion.settings import OrionSettings, describe_errors


def main() -> int:
    try:
        settings = OrionSettings()  # type: ignore[call-arg]  # fields come from the environment
    except ValidationError as exc:
        print(describe_errors(exc), file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # No access log: the UI polls every few seconds and the lines would drown the job events.
    uvicorn.run(create_app(settings), host=settings.host, port=settings.port, access_log=False, log_level="info")
    return 0


if __name__ == "__main__":
    sys.exit(main())
