"""Imported on the executors (from the zip) when a task calls it."""


def triple(x: int) -> int:
    return 3 * x
