#!/usr/bin/env bash
# Start the reference Apache ZooKeeper 3.8 (Debian package) standalone, in the
# background, on 127.0.0.1:<port>, with all state under <workdir>.
#
# usage: start-reference-zk.sh <port> <workdir>
#
# Writes <workdir>/zoo.cfg, <workdir>/data/, <workdir>/zk.log, <workdir>/zk.pid,
# waits (bounded, ZK_START_TIMEOUT seconds, default 60) until `ruok` answers
# `imok`, then prints the server PID on stdout. Exit status non-zero on failure
# (the half-started server is killed).
#
# Server settings that the client suites rely on (a server under test must be
# configured equivalently):
#   tickTime=2000                -> negotiable session timeouts 4 s .. 40 s
#   extendedTypesEnabled=true    -> TTL nodes (CreateMode.*_WITH_TTL)
#   -Dznode.container.checkIntervalMs=1000
#                                -> containers / expired TTL nodes are reaped
#                                   within ~1 s instead of the 60 s default
#   admin.enableServer=false, 4lw.commands.whitelist=*
#
# Optional env (for experiments): ZK_EXTRA_CFG (extra zoo.cfg lines, appended,
# so they override the above), ZK_JVM_FLAGS (extra JVM flags, after ours),
# JAVA (java binary).
set -euo pipefail

if [ $# -ne 2 ]; then
    echo "usage: $0 <port> <workdir>" >&2
    exit 2
fi
port=$1
workdir=$2
timeout_s=${ZK_START_TIMEOUT:-60}
java_bin=${JAVA:-java}

mkdir -p "$workdir/data"
workdir=$(cd "$workdir" && pwd)

if [ -f "$workdir/zk.pid" ] && kill -0 "$(cat "$workdir/zk.pid")" 2>/dev/null; then
    echo "a server is already running from $workdir (pid $(cat "$workdir/zk.pid"))" >&2
    exit 1
fi

# refuse to start if something already listens on the port (its ruok answer
# would otherwise be mistaken for ours)
if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
    echo "port $port on 127.0.0.1 is already in use" >&2
    exit 1
fi

cat > "$workdir/zoo.cfg" <<CFG
tickTime=2000
initLimit=10
syncLimit=5
dataDir=$workdir/data
clientPort=$port
clientPortAddress=127.0.0.1
maxClientCnxns=0
extendedTypesEnabled=true
admin.enableServer=false
4lw.commands.whitelist=*
${ZK_EXTRA_CFG:-}
CFG

# zookeeper.jar's manifest Class-Path pulls in its Debian dependencies;
# slf4j-simple sends the server log to stderr, which goes to zk.log.
cp="/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar"

nohup "$java_bin" -Xmx256m \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
    -Dorg.slf4j.simpleLogger.showDateTime=true \
    -Dznode.container.checkIntervalMs=1000 \
    -Dzookeeper.jmx.log4j.disable=true \
    ${ZK_JVM_FLAGS:-} \
    -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$workdir/zoo.cfg" \
    >"$workdir/zk.log" 2>&1 </dev/null &
pid=$!
echo "$pid" > "$workdir/zk.pid"

ruok() {
    # bash /dev/tcp: send "ruok", read the reply (server closes the socket).
    local reply
    reply=$(timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port; printf ruok >&3; cat <&3" 2>/dev/null) || true
    [ "$reply" = "imok" ]
}

deadline=$((SECONDS + timeout_s))
while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
        echo "reference ZooKeeper exited during startup; log follows:" >&2
        tail -50 "$workdir/zk.log" >&2 || true
        rm -f "$workdir/zk.pid"
        exit 1
    fi
    if ruok; then
        break
    fi
    if [ $SECONDS -ge $deadline ]; then
        echo "reference ZooKeeper did not answer imok within ${timeout_s}s; log tail:" >&2
        tail -50 "$workdir/zk.log" >&2 || true
        kill "$pid" 2>/dev/null || true
        rm -f "$workdir/zk.pid"
        exit 1
    fi
    sleep 0.3
done
echo "$pid"
