#!/usr/bin/env bash
# SERVER2_* hook for java_to_java.sh that puts ferrozk in the middle of the interchange test:
#
#   SERVER2_NAME=ferrozk \
#   SERVER2_START="$PWD/server2-ferrozk.sh start" \
#   SERVER2_STOP="$PWD/server2-ferrozk.sh stop" \
#   SERVER2_KILL="$PWD/server2-ferrozk.sh kill" \
#   ./java_to_java.sh [--stop2 term|kill] [--keep]
#
# Uses PORT, DATADIR and ZOOCFG from java_to_java.sh (ZOOCFG = the zoo.cfg Java gets, from
# `zk-on-datadir.sh cfg`: same tickTime, dataDir, clientPort, snapCount, superDigest,
# znode.container.checkIntervalMs...). FERROZK_BIN (default target/release/ferrozk of this work
# tree; build it yourself, this script never runs cargo). Log, pid: $DATADIR.ferrozk/.
#   start  launch `ferrozk $ZOOCFG` in the background; wait (bounded, 60 s) until 127.0.0.1:$PORT
#          accepts TCP connections (ferrozk serves no four-letter words; a plain connect opens no
#          session, so it costs no zxid). Fails if the process dies first.
#   stop   SIGTERM, wait (bounded, 20 s), then SIGKILL
#   kill   SIGKILL
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bin=${FERROZK_BIN:-$here/../../target/release/ferrozk}
: "${DATADIR:?DATADIR not set}"
run="$DATADIR.ferrozk"
mkdir -p "$run"
alive() { [ -n "${1:-}" ] && kill -0 "$1" 2>/dev/null && [ "$(awk '{print $3}' /proc/$1/stat 2>/dev/null)" != Z ]; }
pid=$(cat "$run/pid" 2>/dev/null || true)
case "${1:-}" in
start)
    : "${PORT:?}" "${ZOOCFG:?}"
    [ -x "$bin" ] || { echo "no ferrozk binary at $bin (set FERROZK_BIN)" >&2; exit 1; }
    cp "$ZOOCFG" "$run/zoo.cfg"
    echo "===== start $(date -u +%FT%T.%3NZ) =====" >> "$run/ferrozk.log"
    setsid "$bin" "$run/zoo.cfg" >> "$run/ferrozk.log" 2>&1 < /dev/null &
    pid=$!
    echo "$pid" > "$run/pid"
    deadline=$((SECONDS + 60))
    until timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$PORT" 2>/dev/null; do
        if ! alive "$pid"; then echo "ferrozk exited during startup:" >&2; tail -20 "$run/ferrozk.log" >&2; exit 1; fi
        [ $SECONDS -ge $deadline ] && { echo "ferrozk not listening after 60 s" >&2; kill -9 "$pid"; exit 1; }
        sleep 0.2
    done
    ;;
stop)
    alive "$pid" || exit 0
    kill -TERM "$pid"
    for _ in $(seq 1 200); do alive "$pid" || break; sleep 0.1; done
    alive "$pid" && { echo "ferrozk still alive 20 s after SIGTERM: SIGKILL" >&2; kill -9 "$pid"; }
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    ;;
kill)
    alive "$pid" && kill -9 "$pid"
    for _ in $(seq 1 50); do alive "$pid" || break; sleep 0.1; done
    ;;
*) sed -n '2,20p' "$0" >&2; exit 2 ;;
esac
