#!/usr/bin/env bash
# dataDir interchange test. By default both servers are Java ZooKeeper 3.8 (the validation of
# this tooling: every check must pass Java -> Java). Set the SERVER2_* hooks to put ferrozk in
# the middle (see README.md): Java builds -> server 2 serves, writes, is killed -> Java again.
#
# usage: java_to_java.sh [--port P] [--txns N] [--keep] [--expiry] [--stop2 kill|term]
#                        [--workdir DIR]
#
#  1. fresh dir; Java ZK (snapCount=100); build_tree (N=2000 bulk txns, 4 sessions left open)
#  2. dump A; stop Java (SIGTERM); Java's classes load the dir offline (toolkit.sh dump) == A
#  3. SERVER 2 on the same dir; dump B; A == B, and B's dumper session came exactly 2 zxids after
#     A's (no txn lost or invented)
#  4. write_more on server 2 (resumes E1 and closes it, resumes E3, new session left open);
#     dump C; stop server 2 with kill -9 (--stop2 term: its clean stop)
#  5. toolkit.sh all on the dir (TxnLogToolkit / SnapshotFormatter / ZkFileCheck on every file,
#     full restore); offline load == C
#  6. Java ZK on the dir (its log must show a clean load: zk-on-datadir.sh check-log); dump D;
#     C == D (consecutive); stop; toolkit.sh all again (now with Java's startup snapshot)
#  7. (--expiry) Java again; wait until every restored session must have expired (max timeout +
#     2 ticks + 4 s); dump E: no ephemerals left, exactly one closeSession zxid per session; the
#     closeSession records' times are printed relative to the restart.
#
# Server 2 hooks (shell commands run with PORT, DATADIR, SNAPCOUNT, ZOOCFG in the environment;
# ZOOCFG is a zoo.cfg with the settings both servers must share, from zk-on-datadir.sh cfg):
#   SERVER2_START  start on $DATADIR, return once it serves on 127.0.0.1:$PORT (non-zero: failed)
#   SERVER2_KILL   kill -9 it        SERVER2_STOP  stop it cleanly      SERVER2_NAME  for messages
# Defaults: Java ZooKeeper through zk-on-datadir.sh.
# Prints per-step timings. Exit 0 when every check passed. Everything is bounded in time; servers
# are stopped by PID on exit. Work dir: --workdir or a fresh mktemp dir (removed on success
# unless --keep).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
port=21970; txns=2000; keep=0; expiry=0; work=""; stop2=kill
while [ $# -gt 0 ]; do
    case "$1" in
    --port) port=$2; shift 2 ;;
    --txns) txns=$2; shift 2 ;;
    --keep) keep=1; shift ;;
    --expiry) expiry=1; shift ;;
    --stop2) stop2=$2; shift 2 ;;
    --workdir) work=$2; shift 2 ;;
    *) sed -n '2,33p' "$0" >&2; exit 2 ;;
    esac
done
if [ -z "$work" ]; then work=$(mktemp -d /tmp/ix-j2j.XXXXXX); else rm -rf "$work"; mkdir -p "$work"; fi
data="$work/data"
export PORT=$port DATADIR=$data SNAPCOUNT=100 ZOOCFG="$work/zoo.cfg"
"$here/zk-on-datadir.sh" cfg "$PORT" "$DATADIR" "$SNAPCOUNT" > "$ZOOCFG"
S2_NAME=${SERVER2_NAME:-Java ZK}
S2_START=${SERVER2_START:-'"'"$here"'/zk-on-datadir.sh" start "$PORT" "$DATADIR" "$SNAPCOUNT" >/dev/null'}
S2_STOP=${SERVER2_STOP:-'"'"$here"'/zk-on-datadir.sh" stop "$DATADIR"'}
S2_KILL=${SERVER2_KILL:-'"'"$here"'/zk-on-datadir.sh" stop --kill "$DATADIR"'}
failures=0
T0=$(date +%s.%N)
declare -a TIMES=()

now() { date +%s.%N; }
step() { # step <name> <cmd...>: run (bounded), time, record
    local name=$1; shift
    local t1 t2 rc
    t1=$(now)
    timeout 300 "$@"
    rc=$?
    t2=$(now)
    TIMES+=("$(printf '%-44s %6.2fs  rc=%d' "$name" "$(echo "$t2 - $t1" | bc)" $rc)")
    return $rc
}
check() { # check <name> <cmd...>: a step whose failure is counted
    if step "$@"; then echo "PASS: $1"; else echo "FAIL: $1"; failures=$((failures + 1)); fi
}
cleanup() {
    "$here/zk-on-datadir.sh" stop --kill "$data" >/dev/null 2>&1 || true
    [ -n "${SERVER2_KILL:-}" ] && timeout 30 bash -c "$S2_KILL" >/dev/null 2>&1
    return 0
}
trap cleanup EXIT

start_java() {
    step "start Java ZK ($1)" "$here/zk-on-datadir.sh" start "$port" "$data" 100 >/dev/null || {
        echo "FAIL: Java ZooKeeper could not start on $data ($1):"
        tail -30 "$data.run/zk.log" | sed 's/^/    /' | cut -c1-300
        exit 1; }
    local w
    if ! w=$("$here/zk-on-datadir.sh" check-log "$data" 2>&1); then
        echo "FAIL: Java did not load $data cleanly ($1):"; failures=$((failures + 1))
    fi
    grep -v '^info: ' <<<"$w" | sed 's/^/    /' | cut -c1-300
    return 0
}
dump() { step "dump $1" $PY "$here/dump_tree.py" "127.0.0.1:$port" > "$work/$1.json" || {
    echo "FAIL: dump $1"; failures=$((failures + 1)); }; }
offline() { # offline <name>: Java's classes load the dir; the tree must equal dump <name>
    step "offline load ($1)" "$here/toolkit.sh" dump "$data" > "$work/$1.offline.json" 2> "$work/$1.offline.log" ||
        { echo "FAIL: offline load after $1:"; sed 's/^/    /' "$work/$1.offline.log" | head -20; failures=$((failures + 1)); }
    check "$1 == offline load of the dir" $PY "$here/compare_trees.py" "$work/$1.json" "$work/$1.offline.json"
}
toolkit_all() {
    check "toolkit.sh all ($1)" env TOOLKIT_OUT="$work/toolkit-$1" "$here/toolkit.sh" all "$data" 2> "$work/toolkit-$1.txt"
    grep -E "^FAIL|^independent|MISMATCH|GAP|toolkit.sh all:" "$work/toolkit-$1.txt" | sed 's/^/    /' | cut -c1-300
}

echo "work dir: $work (port $port), server 2: $S2_NAME"
start_java "fresh dir"
step "build_tree ($txns bulk txns)" $PY "$here/build_tree.py" "127.0.0.1:$port" --txns "$txns" \
    --sessions-out "$work/sessions.json" || { echo "FAIL: build_tree"; exit 1; }
dump A
step "stop Java (SIGTERM)" "$here/zk-on-datadir.sh" stop "$data"
offline A

step "start $S2_NAME" bash -c "$S2_START" || { echo "FAIL: $S2_NAME could not start on $data"; exit 1; }
dump B
check "A == B (consecutive)" $PY "$here/compare_trees.py" --consecutive "$work/A.json" "$work/B.json"
step "write_more on $S2_NAME" $PY "$here/write_more.py" "127.0.0.1:$port" --sessions "$work/sessions.json" ||
    { echo "FAIL: write_more"; failures=$((failures + 1)); }
dump C
if [ "$stop2" = term ]; then
    step "stop $S2_NAME (clean)" bash -c "$S2_STOP"
else
    step "stop $S2_NAME (kill -9)" bash -c "$S2_KILL"
fi
toolkit_all after-server2
offline C

start_java "on the dir $S2_NAME left"
dump D
check "C == D (consecutive)" $PY "$here/compare_trees.py" --consecutive "$work/C.json" "$work/D.json"
step "stop Java (SIGTERM)" "$here/zk-on-datadir.sh" stop "$data"
toolkit_all final

if [ $expiry -eq 1 ]; then
    start_java "for the expiry check"
    restart_ms=$(( $(date +%s%N) / 1000000 ))
    maxto=$($PY -c "import json,sys; d=json.load(open(sys.argv[1])); print(max(d['facts']['sessions'].values() or [0]))" "$work/C.offline.json")
    wait_s=$(( (maxto + 4000) / 1000 + 4 ))
    echo "waiting ${wait_s}s for the restored sessions (max timeout ${maxto} ms) to expire"
    sleep "$wait_s"
    dump E
    check "E: no ephemerals left" $PY -c "
import json, sys
d, e = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
left = e['facts']['ephemeral_owners']
n = len(d['facts']['ephemeral_owners'])
exp = d['facts']['zxid_first'] + 1 + n + 1
print('sessions with ephemerals in D: %d, in E: %d; E created at zxid 0x%x, expected 0x%x (D close + %d expiries + 1)'
      % (n, len(left), e['facts']['zxid_first'], exp, n))
sys.exit(1 if left or e['facts']['zxid_first'] != exp else 0)" "$work/D.json" "$work/E.json"
    step "stop Java (SIGTERM)" "$here/zk-on-datadir.sh" stop "$data"
    newest=$(ls "$data/version-2" | grep '^log\.' | while read -r f; do printf '%d %s\n' "$((16#${f#log.}))" "$f"; done | sort -n | tail -1 | cut -d' ' -f2)
    echo "closeSession records after the restart at $restart_ms ms (from $newest):"
    $PY "$here/zkfile_inspect.py" -v "$data/version-2/$newest" | grep -a closeSession |
        $PY -c "
import re, sys
r = int(sys.argv[1])
for line in sys.stdin:
    m = re.search(r'session=(0x[0-9a-f]+) cxid=(0x[0-9a-f]+) zxid=(0x[0-9a-f]+) time=(\d+)', line)
    if m and int(m.group(4)) >= r:
        print('    session %s closed at zxid %s, %.1f s after the restart%s' % (m.group(1), m.group(3),
              (int(m.group(4)) - r) / 1000.0, ' (expiry: cxid 0)' if m.group(2) == '0x0' else ''))" "$restart_ms"
fi

echo
echo "files in $data/version-2:"
ls -ls "$data/version-2" | tail -n +2 | awk '{printf "    %-22s %10d bytes, %6d KiB on disk\n", $10, $6, $1}'
echo
echo "timings:"
printf '    %s\n' "${TIMES[@]}"
printf '    %-44s %6.2fs\n' "total" "$(echo "$(now) - $T0" | bc)"
if [ $failures -eq 0 ]; then
    echo "java_to_java: ALL CHECKS PASSED"
    [ $keep -eq 0 ] && rm -rf "$work" "$data.run"
    exit 0
fi
echo "java_to_java: $failures CHECK(S) FAILED; work dir kept: $work"
exit 1
