#!/usr/bin/env bash
# Kafka 3.9 brokers on a ZooKeeper service, then their migration to KRaft (KafkaCheck.java).
#
# usage: run.sh <zk-connect> <port,port,port,controller-port> [pid of a ZooKeeper server to kill]
#
# Fetches Kafka from Maven Central on first use (compat-tests/apps/fetch-maven.sh), compiles
# KafkaCheck against it, runs it in a fresh work directory (removed when the check passes,
# kept and named when it fails). Exit status: KafkaCheck's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KAFKA_VERSION:=3.9.2}"
export KAFKA_CP
KAFKA_CP=$(bash "$here/../fetch-maven.sh" "kafka-$KAFKA_VERSION" \
    "org.apache.kafka:kafka_2.13:$KAFKA_VERSION" org.slf4j:slf4j-reload4j:1.7.36) || {
    echo "FAIL: could not fetch org.apache.kafka:kafka_2.13:$KAFKA_VERSION from Maven Central"
    exit 1
}
classes=${TMPDIR:-/tmp}/ferrozk-kafka-check-classes-$KAFKA_VERSION
mkdir -p "$classes"
exec 9>"$classes/.lock"
flock 9
if [ ! -f "$classes/KafkaCheck.class" ] || [ "$here/KafkaCheck.java" -nt "$classes/KafkaCheck.class" ]; then
    javac -nowarn -encoding UTF-8 -d "$classes" -cp "$KAFKA_CP" "$here/KafkaCheck.java"
fi
flock -u 9
work=$(mktemp -d "${TMPDIR:-/tmp}/ferrozk-kafka.XXXXXX")
echo "Kafka $KAFKA_VERSION on ZooKeeper at $1; work directory $work"
status=0
java -Xmx256m -XX:+UseSerialGC -cp "$classes:$KAFKA_CP" -Dlog4j.configuration=file:/dev/null \
    KafkaCheck "$1" "$work" "$2" ${3:+"$3"} || status=$?
if [ "$status" -eq 0 ]; then
    rm -rf "$work"
else
    echo "KafkaCheck failed (status $status); logs kept in $work"
fi
exit "$status"
