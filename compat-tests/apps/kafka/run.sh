#!/usr/bin/env bash
# Kafka brokers on a ZooKeeper service, then their migration to KRaft (KafkaCheck.java).
#
# usage: run.sh <zk-connect> <port,port,port,controller-port> [pid of a ZooKeeper server to kill]
#
# KAFKA_VERSION: the newest Kafka 3.x (the last line with ZooKeeper mode) by default.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${KAFKA_VERSION:=3.9.2}"
exec bash "$here/../run-java-check.sh" "$here/KafkaCheck.java" "kafka-$KAFKA_VERSION" \
    "org.apache.kafka:kafka_2.13:$KAFKA_VERSION org.slf4j:slf4j-reload4j:1.7.36" "$@"
