#!/bin/bash
# Healthcheck of the superset stand-in (testbed/docker/standins/superset): Superset's /health answers.
exec curl -fsS -o /dev/null "http://localhost:${SUPERSET_PORT:-8088}/health"
