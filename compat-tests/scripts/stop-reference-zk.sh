#!/usr/bin/env bash
# Stop a server started by start-reference-zk.sh, by the PID in <workdir>/zk.pid.
# usage: stop-reference-zk.sh <workdir>
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 <workdir>" >&2
    exit 2
fi
pidfile="$1/zk.pid"
if [ ! -f "$pidfile" ]; then
    echo "no $pidfile; nothing to stop" >&2
    exit 0
fi
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 1 50); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.2
    done
    if kill -0 "$pid" 2>/dev/null; then
        kill -9 "$pid" 2>/dev/null || true
    fi
fi
rm -f "$pidfile"
