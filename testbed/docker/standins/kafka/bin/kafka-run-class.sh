#!/usr/bin/env bash
# Stand-in for Kafka's bin/kafka-run-class.sh (testbed/docker/standins/kafka): runs a class on the jars in
# ../libs with Kafka's default JVM flags and the environment variables Kafka's script reads.
if [ $# -lt 1 ]; then
  echo "USAGE: $0 [-name servicename] [-loggc] classname [opts]" >&2
  exit 1
fi
base_dir=$(cd "$(dirname "$0")/.." && pwd)
while [ $# -gt 0 ]; do
  case "$1" in
    -name) shift 2 ;;   # only names the GC log file, which the stand-in does not write
    -loggc) shift ;;
    -daemon) echo "kafka stand-in: -daemon is not reproduced (run in the foreground)" >&2; exit 2 ;;
    *) break ;;
  esac
done
LOG_DIR=${LOG_DIR:-$base_dir/logs}
mkdir -p "$LOG_DIR" 2>/dev/null || true
KAFKA_HEAP_OPTS=${KAFKA_HEAP_OPTS:--Xmx256M}
KAFKA_JVM_PERFORMANCE_OPTS=${KAFKA_JVM_PERFORMANCE_OPTS:--server -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 -XX:+ExplicitGCInvokesConcurrent -XX:MaxInlineLevel=15 -Djava.awt.headless=true}
KAFKA_LOG4J_OPTS=${KAFKA_LOG4J_OPTS:--Dlog4j2.configurationFile=$base_dir/config/tools-log4j2.yaml}
java=${JAVA_HOME:+$JAVA_HOME/bin/}java
classpath="$base_dir/libs/*${CLASSPATH:+:$CLASSPATH}"
# Word splitting of the *_OPTS variables is intended: each holds several JVM flags, as in Kafka's script.
# shellcheck disable=SC2086
exec "$java" $KAFKA_HEAP_OPTS $KAFKA_JVM_PERFORMANCE_OPTS "-Dkafka.logs.dir=$LOG_DIR" $KAFKA_LOG4J_OPTS $KAFKA_OPTS \
  -cp "$classpath" "$@"
