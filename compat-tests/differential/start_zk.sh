#!/usr/bin/env bash
# Minimal starter for a throw-away standalone Apache ZooKeeper (Debian's 3.8 jars)
# used as the reference server of zkdiff.py.
#
#   start_zk.sh <port> <workdir>        -> starts it in the background, prints its PID,
#                                          waits until it answers `ruok`.
#   kill <PID>                          -> stops it (stop_zk.sh <PID> also waits for exit).
#
# The work dir is wiped and recreated (fresh server => zxids start at 0).
# Settings that matter for differential runs:
#   tickTime=2000 (negotiated session timeouts are compared exactly: min 4000, max 40000)
#   extendedTypesEnabled=true (TTL nodes), admin.enableServer=false, forceSync=no (speed)
#   -Dznode.container.checkIntervalMs=2147483647: the ContainerManager (which deletes empty
#    containers and expired TTL nodes, consuming zxids at wall-clock-dependent moments)
#    must never run during a comparison. A candidate must likewise not GC containers/TTL
#    nodes during a run (or zxids diverge).
# ZK_EXTRA_CFG: more zoo.cfg lines (e.g. DigestAuthenticationProvider.superDigest=...,
# enforceQuota=true); the candidate must get the same ones.
# SERVER_JVMFLAGS: more JVM flags, as zkServer.sh passes them (e.g. the JAAS file).
# ZK_VERSION: run that Apache ZooKeeper release from Maven Central instead of Debian's 3.8.0
# (fetched once by compat-tests/scripts/fetch-zookeeper.sh into its cache, logging through
# logback at $ZK_LOGLEVEL), e.g. ZK_VERSION=3.9.5. ZK_CLASSPATH: any other server classpath.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
port=${1:?port}; dir=${2:?workdir}
tick=${ZK_TICKTIME:-2000}
rm -rf "$dir"; mkdir -p "$dir/data"
cat > "$dir/zoo.cfg" <<CFG
tickTime=$tick
dataDir=$dir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
extendedTypesEnabled=true
admin.enableServer=false
4lw.commands.whitelist=*
forceSync=no
${ZK_EXTRA_CFG:-}
CFG
J=/usr/share/java
if [ -n "${ZK_CLASSPATH:-}" ]; then
  CP=$ZK_CLASSPATH
elif [ -n "${ZK_VERSION:-}" ]; then
  CP=$(bash "$here/../scripts/fetch-zookeeper.sh" "$ZK_VERSION")
else
  CP="$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/slf4j-api.jar:$J/slf4j-simple.jar:$J/netty-handler.jar:$J/netty-common.jar:$J/netty-buffer.jar:$J/netty-transport.jar:$J/netty-codec.jar:$J/netty-resolver.jar:$J/netty-transport-native-epoll.jar:$J/netty-transport-native-unix-common.jar:$J/commons-cli.jar:$J/jackson-databind.jar:$J/jackson-core.jar:$J/jackson-annotations.jar:$J/metrics-core.jar:$J/snappy-java.jar"
fi
setsid java -Xmx256m -cp "$CP" \
  -Dznode.container.checkIntervalMs=2147483647 \
  -Dorg.slf4j.simpleLogger.defaultLogLevel=${ZK_LOGLEVEL:-info} \
  -Dorg.slf4j.simpleLogger.showDateTime=true \
  -Dzookeeper.log.level=${ZK_LOGLEVEL:-info} \
  ${SERVER_JVMFLAGS:-} \
  org.apache.zookeeper.server.quorum.QuorumPeerMain "$dir/zoo.cfg" \
  >"$dir/server.log" 2>&1 </dev/null &
pid=$!
echo $pid > "$dir/pid"
for _ in $(seq 1 150); do
  # `ruok` answers imok before the server is serving; `srvr` reports the mode only once
  # it is (before that: "This ZooKeeper instance is not currently serving requests")
  if ans=$( (exec 3<>/dev/tcp/127.0.0.1/$port && printf srvr >&3 && timeout 1 cat <&3) 2>/dev/null ) && [[ "$ans" == *"Mode: standalone"* ]]; then
    echo $pid; exit 0
  fi
  kill -0 $pid 2>/dev/null || { echo "zookeeper died, see $dir/server.log" >&2; exit 1; }
  sleep 0.2
done
echo "zookeeper did not come up on $port, see $dir/server.log" >&2; kill $pid; exit 1
