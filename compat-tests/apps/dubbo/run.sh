#!/usr/bin/env bash
# Dubbo 3 providers and a consumer with the registry, config center and metadata report on a
# ZooKeeper service (DubboCheck.java).
#
# usage: run.sh <zk-connect> <port,port> [pid of a ZooKeeper server to kill]
#
# Dubbo's own ZooKeeper dependency set (dubbo-dependencies-zookeeper-curator5) is not served
# by the Maven Central mirror here, so its members are named: Curator 5 and, through it, the
# ZooKeeper 3.9 client.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
: "${DUBBO_VERSION:=3.3.6}"
: "${DUBBO_CURATOR_VERSION:=5.9.0}"
exec bash "$here/../run-java-check.sh" "$here/DubboCheck.java" "dubbo-$DUBBO_VERSION" \
    "org.apache.dubbo:dubbo:$DUBBO_VERSION org.apache.curator:curator-x-discovery:$DUBBO_CURATOR_VERSION org.apache.curator:curator-recipes:$DUBBO_CURATOR_VERSION org.slf4j:slf4j-simple:1.7.36" "$@"
