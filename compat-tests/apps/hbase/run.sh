#!/usr/bin/env bash
# HBase 2 masters and a region server on an external ZooKeeper quorum (HBaseCheck.java).
#
# usage: run.sh <zk-connect> <port> [pid of a ZooKeeper server to kill]
#
# HBASE_VERSION: the newest HBase 2 built for Hadoop 3 that resolves on Maven Central here.
# The JVM flags are those HBase's own scripts add on Java 17.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${HBASE_VERSION:=2.5.11-hadoop3}"
export APP_JAVA_OPTS="-Xmx1g -XX:TieredStopAtLevel=1 --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-exports=java.base/jdk.internal.misc=ALL-UNNAMED -Dorg.apache.hbase.thirdparty.io.netty.tryReflectionSetAccessible=true"
exec bash "$here/../run-java-check.sh" "$here/HBaseCheck.java" "hbase-$HBASE_VERSION" \
    "org.apache.hbase:hbase-server:$HBASE_VERSION org.apache.hbase:hbase-client:$HBASE_VERSION" "$@"
