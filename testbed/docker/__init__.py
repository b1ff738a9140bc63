"""The stack's own containers on a real Docker engine, exactly as the Pulumi program declares them: the program
recorded under Pulumi's mocks (recording.py, graph.py), created through the Docker Engine API (containers.py),
the S3 stand-in (minio.py) and the dynamic providers' own code (dynamic.py), in dependency order (stack.py).
`python -m testbed.docker up|down|status|compare` by hand; tests/docker/test_docker_stack.py end to end.
"""
