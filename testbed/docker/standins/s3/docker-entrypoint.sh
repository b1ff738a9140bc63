#!/bin/bash
# Entrypoint of the S3 stand-in (testbed/docker/standins/s3): as MinIO's image does, a command that does not start
# with the server's name gets it put in front (`server /data ...` runs `minio server /data ...`).
set -e
case "${1:-}" in
  minio | silo | "") ;;
  *) set -- minio "$@" ;;
esac
exec "$@"
