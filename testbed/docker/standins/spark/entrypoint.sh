#!/bin/bash
# Entrypoint of the apache/spark stand-in (testbed/docker/standins/spark): runs the command it is given, as the
# official image's entrypoint does for any command that is not one of its Kubernetes modes. Those modes
# (`driver`, `executor`) are not reproduced: the stack runs Spark standalone with explicit commands.
set -eo pipefail
case "${1:-}" in
  driver | executor)
    echo "spark stand-in: the Kubernetes '$1' mode of /opt/entrypoint.sh is not reproduced" >&2
    exit 2
    ;;
  "")
    echo "spark stand-in: no command given (the image has no default command, like the official one)" >&2
    exit 2
    ;;
esac
exec "$@"
