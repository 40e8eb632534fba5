#!/usr/bin/env bash
# Run zkdiff.py with two FRESH servers per seed. By default both are real ZooKeeper
# (reference vs reference: validates the tester itself; every run must report 0
# differences). Set CANDIDATE_START to a script with the same convention as start_zk.sh
# (args: <port> <workdir>; starts a fresh server in the background, waits until it
# serves, prints its PID) to test a candidate, e.g.
#   CANDIDATE_START=./start-ferrozk.sh ./ref_vs_ref.sh --steps 300 1 2 3
#
#   ref_vs_ref.sh [--steps N] [--expiry K] [--self-test] [--base-port P] [--zkdiff-flag=value...] SEED...
#
# Servers are started with start_zk.sh and stopped by PID afterwards (free loopback
# ports are picked unless --base-port is given). NOTE: compat-tests/scripts/
# start-reference-zk.sh is NOT used: it sets znode.container.checkIntervalMs=1000, so
# containers/TTL nodes get reaped at wall-clock moments, which consumes zxids at
# different points on the two servers and makes an exact zxid comparison impossible.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
steps=300; expiry=0; extra=(); base=
while [ $# -gt 0 ]; do
  case "$1" in
    --steps) steps=$2; shift 2;;
    --expiry) expiry=$2; shift 2;;
    --self-test) extra+=(--self-test); shift;;
    --base-port) base=$2; shift 2;;
    --) shift; break;;
    -*) extra+=("$1"); shift;;
    *) break;;
  esac
done
seeds=("$@"); [ ${#seeds[@]} -gt 0 ] || seeds=(1)
start=${START_ZK:-$here/start_zk.sh}
work=$(mktemp -d /tmp/zkdiff.XXXXXX)
pids=()
cleanup() { [ ${#pids[@]} -gt 0 ] && "$here/stop_zk.sh" "${pids[@]}"; }
trap cleanup EXIT
fail=0
for seed in "${seeds[@]}"; do
  if [ -n "$base" ]; then p1=$base; p2=$((base+1)); else
    read -r p1 p2 < <(/usr/bin/python3 -c 'import socket
ss=[socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
  fi
  a=$("$start" $p1 "$work/ref-$seed") || { echo "cannot start reference"; exit 2; }
  pids+=($a)
  b=$("${CANDIDATE_START:-$start}" $p2 "$work/cand-$seed") || { echo "cannot start candidate"; exit 2; }
  pids+=($b)
  /usr/bin/python3 "$here/zkdiff.py" --reference 127.0.0.1:$p1 --candidate 127.0.0.1:$p2 \
      --seed "$seed" --steps "$steps" --expiry "$expiry" "${extra[@]}"
  rc=$?
  [ $rc -eq 0 ] || { fail=1; echo "seed $seed: exit $rc (server logs in $work)"; }
  "$here/stop_zk.sh" $a $b
  pids=()
done
[ $fail -eq 0 ] && rm -rf "$work"
exit $fail
