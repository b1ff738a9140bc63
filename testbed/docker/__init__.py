"""The stack's own containers on a real Docker engine, exactly as the Pulumi program declares them (stack.py).
`python -m testbed.docker up|down|status|compare` by hand; tests/docker/test_docker_stack.py end to end.
"""

from collections.abc import Callable

Echo = Callable[[str], None]  # where progress lines go
