#!/usr/bin/env bash
# stop_zk.sh PID... : SIGTERM the given server PIDs and wait (max 10 s) until they are gone.
for p in "$@"; do kill "$p" 2>/dev/null; done
for _ in $(seq 1 100); do
  alive=0; for p in "$@"; do kill -0 "$p" 2>/dev/null && alive=1; done
  [ $alive -eq 0 ] && exit 0; sleep 0.1
done
for p in "$@"; do kill -9 "$p" 2>/dev/null; done
