#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-storage.sh (testbed/docker/standins/kafka): kafka.tools.StorageTool
# (format, random-uuid, info, ...).
exec "$(dirname "$0")/kafka-run-class.sh" kafka.tools.StorageTool "$@"
