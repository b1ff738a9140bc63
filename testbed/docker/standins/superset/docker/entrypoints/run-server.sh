#!/bin/bash
# Default command of the superset stand-in (testbed/docker/standins/superset), as the official image's
# run-server.sh: gunicorn serving Superset on SUPERSET_BIND_ADDRESS:SUPERSET_PORT, tuned by the same variables.
set -eo pipefail
exec gunicorn \
  --bind "${SUPERSET_BIND_ADDRESS:-0.0.0.0}:${SUPERSET_PORT:-8088}" \
  --access-logfile "${ACCESS_LOG_FILE:--}" \
  --error-logfile "${ERROR_LOG_FILE:--}" \
  --workers "${SERVER_WORKER_AMOUNT:-1}" \
  --worker-class "${SERVER_WORKER_CLASS:-gthread}" \
  --threads "${SERVER_THREADS_AMOUNT:-20}" \
  --log-level "${GUNICORN_LOGLEVEL:-info}" \
  --timeout "${GUNICORN_TIMEOUT:-60}" \
  --keep-alive "${GUNICORN_KEEPALIVE:-2}" \
  --max-requests "${WORKER_MAX_REQUESTS:-0}" \
  --max-requests-jitter "${WORKER_MAX_REQUESTS_JITTER:-0}" \
  --limit-request-line "${SERVER_LIMIT_REQUEST_LINE:-0}" \
  --limit-request-field_size "${SERVER_LIMIT_REQUEST_FIELD_SIZE:-0}" \
  "${FLASK_APP}"
