"""A package beside the test jobs: Orion ships it to the driver and the executors with --py-files."""

from .rules import triple

__all__ = ["triple"]
