#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-server-start.sh (testbed/docker/standins/kafka): the broker (kafka.Kafka) on a
# server.properties, with Kafka's default heap (1G) unless KAFKA_HEAP_OPTS says otherwise.
if [ $# -lt 1 ]; then
  echo "USAGE: $0 server.properties [--override property=value]*" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")" && pwd)
export KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/../config/log4j2.yaml}
export KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx1G -Xms1G}
exec "$base_dir/kafka-run-class.sh" -name kafkaServer -loggc kafka.Kafka "$@"
