#!/usr/bin/env bash
# Run Debian's Apache ZooKeeper 3.8 (standalone) on an EXISTING dataDir, which may hold files
# written by another server (ferrozk). Nothing in the dataDir is wiped or created except what
# ZooKeeper itself writes (version-2/...).
#
#   zk-on-datadir.sh start <port> <datadir> [snapCount]   start, wait for `Mode: standalone`,
#                                                          print the PID
#   zk-on-datadir.sh stop [--kill] <datadir>               SIGTERM, wait (bounded), then SIGKILL;
#                                                          --kill: SIGKILL at once (crash)
#   zk-on-datadir.sh status <datadir>                      exit 0 if running, print PID
#   zk-on-datadir.sh cfg <port> <datadir> [snapCount]     print the zoo.cfg `start` writes (give
#                                                          the same file to ferrozk)
#   zk-on-datadir.sh check-log <datadir>                   WARN/ERROR lines of the latest start;
#                                                          exit 1 if the load of the dataDir was
#                                                          not clean (see below)
#
# Everything that is not ZooKeeper's own data goes to <datadir>.run/ (next to the dataDir, never
# inside it): zoo.cfg, zk.log (server log, appended across starts, each start marked), zk.pid.
#
# Settings (the server under test must get the same ones; all but the JVM flag are zoo.cfg keys
# that ferrozk reads from zoo.cfg too):
#   tickTime=2000, clientPortAddress=127.0.0.1, extendedTypesEnabled=true,
#   admin.enableServer=false, 4lw.commands.whitelist=*, maxClientCnxns=0,
#   snapCount=<snapCount, default 100>  -> several snapshots and txn-log rolls per 1000 txns
#   DigestAuthenticationProvider.superDigest=super:g9oN2HttPfn8MMWJZ2r45Np/LIA=
#       (password `superpw`; dump_tree.py authenticates as super so that every node is
#        readable whatever its ACL). ZooKeeper turns unknown zoo.cfg keys into `zookeeper.<key>`
#        system properties, so the zoo.cfg line alone would do; it is also passed as
#        -Dzookeeper.DigestAuthenticationProvider.superDigest for clarity.
#   -Dznode.container.checkIntervalMs=2147483647: the container/TTL reaper never runs during a
#        test (it would consume zxids at wall-clock-dependent moments). ferrozk: put
#        znode.container.checkIntervalMs=2147483647 in its zoo.cfg.
# check-log: Java ZooKeeper 3.8 starts on a dataDir it does not fully trust without failing:
#   a wrong TxnDigest or snapshot digest -> "WARN DataTree - Message:Digests are not matching"
#   (+ "ERROR DataTree - First digest mismatch on txn: ..."), a MISSING log file (zxid gap) -> only
#   that digest warning, a corrupt newest snapshot -> "WARN FileSnap - problem reading snap file"
#   and an older snapshot is used. check-log fails on those and on any other ERROR line but
#   "Error closing a command socket" (a four-letter-word client hanging up first).
# Optional environment:
#   ZK_MAX_SESSION_TIMEOUT  adds maxSessionTimeout=<ms> (default: ZooKeeper's 20 ticks = 40 s)
#   ZK_EXTRA_CFG            extra zoo.cfg lines (appended)
#   ZK_START_TIMEOUT        seconds to wait for `Mode: standalone` (default 60)
#   ZK_STOP_TIMEOUT         seconds to wait after SIGTERM before SIGKILL (default 20)
#   JAVA                    java binary (default java)
set -euo pipefail

SUPER_DIGEST='super:g9oN2HttPfn8MMWJZ2r45Np/LIA='

usage() {
    sed -n '6,16p' "$0" >&2
    exit 2
}

abspath() { # the directory need not exist yet
    case "$1" in /*) printf '%s\n' "${1%/}" ;; *) printf '%s\n' "$(pwd)/${1%/}" ;; esac
}

srvr() { # print the `srvr` answer of 127.0.0.1:$1 (empty if none)
    timeout 3 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1 && printf srvr >&3 && cat <&3" 2>/dev/null || true
}

alive() { # running and not a zombie (an orphaned JVM may linger as a zombie until reaped)
    [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null || return 1
    local st
    st=$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null) || return 1
    [ "$st" != "Z" ]
}

write_cfg() { # port datadir snapcount
    echo "# written by zk-on-datadir.sh $(date -u +%FT%TZ)"
    echo "tickTime=2000"
    echo "dataDir=$2"
    echo "clientPort=$1"
    echo "clientPortAddress=127.0.0.1"
    echo "maxClientCnxns=0"
    echo "extendedTypesEnabled=true"
    echo "admin.enableServer=false"
    echo "4lw.commands.whitelist=*"
    echo "snapCount=$3"
    echo "DigestAuthenticationProvider.superDigest=$SUPER_DIGEST"
    echo "znode.container.checkIntervalMs=2147483647"
    [ -n "${ZK_MAX_SESSION_TIMEOUT:-}" ] && echo "maxSessionTimeout=$ZK_MAX_SESSION_TIMEOUT"
    [ -n "${ZK_EXTRA_CFG:-}" ] && printf '%s\n' "$ZK_EXTRA_CFG"
    return 0
}

cmd=${1:-}; shift || true
case "$cmd" in
start)
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    port=$1; datadir=$(abspath "$2"); snapcount=${3:-100}
    run="$datadir.run"
    mkdir -p "$datadir" "$run"
    if [ -f "$run/zk.pid" ] && alive "$(cat "$run/zk.pid")"; then
        echo "a server is already running on $datadir (pid $(cat "$run/zk.pid"))" >&2
        exit 1
    fi
    if timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" 2>/dev/null; then
        echo "port $port on 127.0.0.1 is already in use" >&2
        exit 1
    fi
    write_cfg "$port" "$datadir" "$snapcount" > "$run/zoo.cfg"
    echo "===== start $(date -u +%FT%T.%3NZ) port=$port snapCount=$snapcount =====" >> "$run/zk.log"
    # zookeeper.jar's manifest Class-Path brings its Debian dependencies; slf4j-simple logs to
    # stderr (-> zk.log). Serial GC + C1 only: keeps the JVM's CPU use modest on a small box.
    cp="/usr/share/java/zookeeper.jar:/usr/share/java/zookeeper-jute.jar:/usr/share/java/slf4j-simple.jar"
    setsid "${JAVA:-java}" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
        -Dorg.slf4j.simpleLogger.defaultLogLevel=info \
        -Dorg.slf4j.simpleLogger.showDateTime=true \
        -Dorg.slf4j.simpleLogger.dateTimeFormat="yyyy-MM-dd'T'HH:mm:ss.SSS" \
        -Dznode.container.checkIntervalMs=2147483647 \
        -Dzookeeper.DigestAuthenticationProvider.superDigest="$SUPER_DIGEST" \
        -Dzookeeper.jmx.log4j.disable=true \
        -cp "$cp" org.apache.zookeeper.server.quorum.QuorumPeerMain "$run/zoo.cfg" \
        >>"$run/zk.log" 2>&1 </dev/null &
    pid=$!
    echo "$pid" > "$run/zk.pid"
    deadline=$((SECONDS + ${ZK_START_TIMEOUT:-60}))
    while :; do
        if ! alive "$pid"; then
            echo "ZooKeeper (pid $pid) exited during startup; log tail ($run/zk.log):" >&2
            tail -40 "$run/zk.log" >&2 || true
            rm -f "$run/zk.pid"
            exit 1
        fi
        # `ruok` answers before the database is loaded; `srvr` reports the mode only once the
        # server is serving ("This ZooKeeper instance is not currently serving requests" before)
        [[ "$(srvr "$port")" == *"Mode: standalone"* ]] && break
        if [ $SECONDS -ge $deadline ]; then
            echo "ZooKeeper did not report Mode: standalone within ${ZK_START_TIMEOUT:-60}s; killing pid $pid; log tail:" >&2
            tail -40 "$run/zk.log" >&2 || true
            kill -9 "$pid" 2>/dev/null || true
            rm -f "$run/zk.pid"
            exit 1
        fi
        sleep 0.2
    done
    echo "$pid"
    ;;
stop)
    kill_now=0
    if [ "${1:-}" = "--kill" ]; then kill_now=1; shift; fi
    [ $# -eq 1 ] || usage
    run="$(abspath "$1").run"
    if [ ! -f "$run/zk.pid" ]; then
        echo "no $run/zk.pid; nothing to stop" >&2
        exit 0
    fi
    pid=$(cat "$run/zk.pid")
    if alive "$pid"; then
        if [ $kill_now -eq 1 ]; then
            echo "===== kill -9 $pid $(date -u +%FT%T.%3NZ) =====" >> "$run/zk.log"
            kill -9 "$pid" 2>/dev/null || true
        else
            echo "===== SIGTERM $pid $(date -u +%FT%T.%3NZ) =====" >> "$run/zk.log"
            kill -TERM "$pid" 2>/dev/null || true
            deadline=$((SECONDS + ${ZK_STOP_TIMEOUT:-20}))
            while alive "$pid" && [ $SECONDS -lt $deadline ]; do sleep 0.1; done
            if alive "$pid"; then
                echo "pid $pid still alive ${ZK_STOP_TIMEOUT:-20}s after SIGTERM; SIGKILL" >&2
                kill -9 "$pid" 2>/dev/null || true
            fi
        fi
        for _ in $(seq 1 100); do alive "$pid" || break; sleep 0.05; done
        if alive "$pid"; then echo "pid $pid did not die" >&2; exit 1; fi
    fi
    rm -f "$run/zk.pid"
    ;;
check-log)
    [ $# -eq 1 ] || usage
    log="$(abspath "$1").run/zk.log"
    [ -f "$log" ] || { echo "no $log" >&2; exit 1; }
    last=$(awk '/^===== start/{buf=""} {buf=buf $0 "\n"} END{printf "%s", buf}' "$log")
    warn=$(grep -E " (WARN|ERROR) " <<<"$last" |
           grep -vE "Either no config or no quorum defined|maxCnxns is not configured|NIOServerCnxn - Unexpected exception|Close of session|Exception causing close|Error closing a command socket" || true)
    [ -n "$warn" ] && printf '%s\n' "$warn"
    grep -E "Reading snapshot|txns loaded|highest zxid" <<<"$last" | sed 's/^/info: /'
    if grep -qE "Digests are not matching|digest mismatch|problem reading snap|CRC|ERROR " <<<"$warn"; then
        echo "check-log: the dataDir did NOT load cleanly (see above)" >&2
        exit 1
    fi
    ;;
cfg)
    [ $# -ge 2 ] && [ $# -le 3 ] || usage
    write_cfg "$1" "$(abspath "$2")" "${3:-100}"
    ;;
status)
    [ $# -eq 1 ] || usage
    run="$(abspath "$1").run"
    if [ -f "$run/zk.pid" ] && alive "$(cat "$run/zk.pid")"; then cat "$run/zk.pid"; exit 0; fi
    exit 1
    ;;
*) usage ;;
esac
