"""Entry point of `python -m producer` (see producer/cli.py)."""

from producer.cli import main

# Guarded: `--processes N` spawns workers, which import this module again under another name.
if __name__ == "__main__":
    raise SystemExit(main())
