"""The stack's own containers on a real Docker engine, exactly as the Pulumi program declares them.

The Docker, random and MinIO provider plugins cannot be had here, so the check runs the program under
Pulumi's mocks (recording.py), takes its resource graph (graph.py) and creates it through the Docker Engine
API (containers.py), the S3 stand-in (minio.py) and the dynamic providers' own code (dynamic.py), in the
program's dependency order (stack.py). `python -m testbed.docker up|down|status` runs it by hand;
tests/docker/test_docker_stack.py is the end-to-end check.
"""
