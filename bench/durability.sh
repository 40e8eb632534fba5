#!/usr/bin/env bash
# Durability benchmarks, ferrozk and Apache ZooKeeper 3.8 (Debian) side by side on the same
# disk, forceSync on: setData 100 B at 1/8/32 in flight; populate 1M znodes; restart-to-serving
# with them; p99.9 of writes with and without snapshots being taken. Not run by CI.
#   bash bench/durability.sh [count=1000000]     (KINDS=ferrozk to run one side only)
# Needs: cargo build --release -p ferrozk -p bench; compat-tests/scripts/install-deps.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
COUNT=${1:-1000000}
B=target/release/ferrozk-bench
F=target/release/ferrozk
work=$(mktemp -d /tmp/ferrozk-bench.XXXXXX)
trap 'pkill -f "$work" 2>/dev/null || true; rm -rf "$work"' EXIT

start_server() { # kind port dir snapCount
  local kind=$1 port=$2 dir=$3 snap=$4
  if [ "$kind" = ferrozk ]; then
    mkdir -p "$dir"
    printf "tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nsnapCount=%s\n" "$dir/data" "$port" "$snap" > "$dir/zoo.cfg"
    "$F" "$dir/zoo.cfg" > "$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
  else
    java_start "$port" "$dir" "$snap"
  fi
  "$B" --server 127.0.0.1:$port wait-ready --timeout 600 > /dev/null
}
# Java ZooKeeper as Debian's zkServer.sh runs it: its default heap (ZK_SERVER_HEAP=1000 MB),
# default GC and JIT, forceSync on.
java_start() { # port dir snap
  mkdir -p "$2/data"
  printf "tickTime=2000\ndataDir=%s\nclientPort=%s\nclientPortAddress=127.0.0.1\nmaxClientCnxns=0\nsnapCount=%s\nadmin.enableServer=false\n" "$2/data" "$1" "$3" > "$2/zoo.cfg"
  java -Xmx1000m -cp "/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar" \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn \
    org.apache.zookeeper.server.quorum.QuorumPeerMain "$2/zoo.cfg" >> "$2/server.log" 2>&1 &
  echo $! > "$2/pid"
}
stop_server() { # kind dir
  kill -9 "$(cat "$2/pid")"; sleep 0.5
}
restart_time() { # kind port dir snap
  local kind=$1 port=$2 dir=$3 snap=$4
  sed -i "s/^snapCount=.*/snapCount=$snap/" "$dir/zoo.cfg"
  if [ "$kind" = ferrozk ]; then
    "$F" "$dir/zoo.cfg" >> "$dir/server.log" 2>&1 &
    echo $! > "$dir/pid"
  else
    java_start "$port" "$dir" "$snap"
  fi
  "$B" --server 127.0.0.1:$port wait-ready --timeout 900
}
rss() { # kind dir
  awk '/VmRSS/ {print $2 " KB"}' /proc/"$(cat "$2/pid")"/status
}

port=29181
for kind in ${KINDS:-ferrozk zookeeper}; do
  port=$((port + 1)); d="$work/$kind"
  echo "== $kind"
  start_server $kind $port "$d/w" 100000
  for n in 1 8 32; do "$B" --server 127.0.0.1:$port write --inflight $n --seconds 10 --size 100; done
  stop_server $kind "$d/w"
  port=$((port + 1))
  start_server $kind $port "$d/p" 100000
  "$B" --server 127.0.0.1:$port populate --count "$COUNT" --size 100 --inflight 256
  echo "rss with $COUNT znodes: $(rss $kind "$d/p")"
  "$B" --server 127.0.0.1:$port write --inflight 8 --seconds 10 --size 100 --path /nosnap
  stop_server $kind "$d/p"
  echo -n "restart to serving with $COUNT znodes: "
  restart_time $kind $port "$d/p" 100000
  stop_server $kind "$d/p"
  # The same writes while snapshots of the whole tree are taken (snapCount 20000: one
  # every 10000-20000 writes).
  restart_time $kind $port "$d/p" 20000 > /dev/null
  "$B" --server 127.0.0.1:$port write --inflight 8 --seconds 20 --size 100 --path /withsnap
  stop_server $kind "$d/p"
done
