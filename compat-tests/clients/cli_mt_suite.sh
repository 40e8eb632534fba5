#!/usr/bin/env bash
# Compatibility checks driving the stock ZooKeeper C client shell (cli_mt,
# Debian package zookeeper-bin) against a server.
#
# usage: cli_mt_suite.sh <host:port>
#
# cli_mt reads one command per line on stdin and reports asynchronously on
# stderr, e.g.
#   create [+[e|s|c|t=ttl]] <path>  -> "[<path>]: rc = <rc>" then "\tname = <created>"
#                                      (the node's data is always "new")
#   get <path>   -> "<path>: rc = <rc>", " value_len = N", data, stat lines, sets a watch
#   set <path> <data> -> "<path>: rc = <rc> Stat:" + stat lines
#   ls <path>    -> "<path>: rc = <rc>", one "\t<child>" per child, "time = ..."
#   delete <path> -> "<path>: rc = <rc>"
#   exists <path> -> prints nothing on success, "Error <rc> for <path>" otherwise
#   wexists <path> -> same, and leaves a watch ("Watcher CREATED_EVENT ... for path <path>")
# The shell is run as a coprocess; each command's reply is awaited with a
# timeout, so the whole suite is bounded (~ a few seconds normally, at most
# about 12 s per command if a server stops answering; capped by a global
# watchdog of SUITE_TIMEOUT seconds, default 120).
set -u

if [ $# -lt 1 ]; then
    echo "usage: $0 <host:port>" >&2
    exit 2
fi
CONNECT=$1
CLI=${CLI_MT:-/usr/lib/zookeeper/bin/cli_mt}
STEP_TIMEOUT=${STEP_TIMEOUT:-10}
SUITE_TIMEOUT=${SUITE_TIMEOUT:-120}

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1${2:+ -- $2}"; }
check() { # check <name> <condition-exit-status> [detail]
    if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${3:-}"; fi
}

if [ ! -x "$CLI" ]; then
    fail "cli_mt binary present at $CLI"
    echo "$PASSED passed, $FAILED failed"
    exit 1
fi

summary_and_exit() {
    echo "$PASSED passed, $FAILED failed"
    exit 1
}
# Watchdog: end this whole suite if it overruns.
SELF=$$
# (its own output goes to /dev/null so that it never holds the caller's pipes,
# and it takes its sleep down with it when cancelled)
(
    trap 'kill "$sp" 2>/dev/null; exit 0' TERM
    sleep "$SUITE_TIMEOUT" &
    sp=$!
    wait "$sp" && kill -TERM "$SELF" 2>/dev/null
) >/dev/null 2>&1 </dev/null &
WATCHDOG=$!
trap 'fail "suite finished within ${SUITE_TIMEOUT}s" "watchdog fired"; summary_and_exit' TERM

trap '' PIPE
coproc CLIPROC { exec stdbuf -oL -eL "$CLI" "$CONNECT" 2>&1; }
CLI_PID=$CLIPROC_PID
CLI_IN=${CLIPROC[1]}
CLI_OUT=${CLIPROC[0]}

cleanup() {
    kill "$WATCHDOG" 2>/dev/null
    if kill -0 "$CLI_PID" 2>/dev/null; then
        kill "$CLI_PID" 2>/dev/null
    fi
}
trap cleanup EXIT

TRANSCRIPT=""   # everything read so far
OUT=""          # lines read by the current expect_* sequence
LAST=""         # the line that matched

send() {
    echo "  > $1" >&2
    printf '%s\n' "$1" >&"$CLI_IN"
}

# expect_re <ERE> [timeout]: read lines until one matches; 0 if matched.
# After MAX_TIMEOUTS timed-out waits the suite gives up (server not answering).
TIMEOUTS=0
MAX_TIMEOUTS=${MAX_TIMEOUTS:-3}
expect_re() {
    local re=$1 t=${2:-$STEP_TIMEOUT} line end now left
    end=$(( $(date +%s%N) / 1000000 + t * 1000 ))
    while :; do
        now=$(( $(date +%s%N) / 1000000 ))
        left=$(( end - now ))
        if [ "$left" -le 0 ]; then
            TIMEOUTS=$((TIMEOUTS + 1))
            echo "  (timed out after ${t}s waiting for /$re/)" >&2
            if [ "$TIMEOUTS" -ge "$MAX_TIMEOUTS" ]; then
                fail "server keeps answering" "$TIMEOUTS waits timed out; giving up"
                summary_and_exit
            fi
            return 1
        fi
        if IFS= read -r -t "$(printf '%d.%03d' $((left / 1000)) $((left % 1000)))" -u "$CLI_OUT" line; then
            echo "  < $line" >&2
            TRANSCRIPT+="$line"$'\n'
            OUT+="$line"$'\n'
            if [[ $line =~ $re ]]; then
                LAST=$line
                return 0
            fi
        else
            # >128: read timed out (loop to account for it); otherwise EOF
            [ $? -gt 128 ] && continue
            echo "  (cli_mt output closed)" >&2
            return 1
        fi
    done
}

# Escape a path for use inside an ERE.
re_esc() { printf '%s' "$1" | sed -e 's/[][\.*^$+?(){}|/]/\\&/g'; }

# do_create <flags-or-empty> <path>: sets RC and NAME
do_create() {
    local flags=$1 path=$2 pe
    pe=$(re_esc "$path")
    RC="timeout"; NAME=""; OUT=""
    if [ -n "$flags" ]; then send "create $flags $path"; else send "create $path"; fi
    if expect_re "^\[$pe\]: rc = (-?[0-9]+)"; then
        RC=${BASH_REMATCH[1]}
        if [ "$RC" = 0 ] && expect_re $'^\tname = (.*)$'; then
            NAME=${BASH_REMATCH[1]}
        fi
    fi
}

# do_simple <cmd> <path> [args]: commands answering "<path>: rc = N"; sets RC
do_simple() {
    local cmd=$1 path=$2 pe
    shift 2
    pe=$(re_esc "$path")
    RC="timeout"; OUT=""
    send "$cmd $path${*:+ $*}"
    if expect_re "^$pe: rc = (-?[0-9]+)"; then
        RC=${BASH_REMATCH[1]}
    fi
}

# do_get <path>: sets RC, OUT (value lines + stat)
do_get() {
    do_simple get "$1"
    if [ "$RC" = 0 ]; then
        expect_re 'ephemeralOwner' || RC="timeout-stat"
    fi
}

# do_ls <path>: sets RC, CHILDREN (sorted, one per line)
do_ls() {
    CHILDREN=""
    do_simple ls "$1"
    if [ "$RC" = 0 ]; then
        OUT=""
        if expect_re '^time = '; then
            CHILDREN=$(printf '%s' "$OUT" | grep $'^\t' | sed -e $'s/^\t//' | sort)
        else
            RC="timeout-list"
        fi
    fi
}

# ---------------------------------------------------------------------------
OUT=""
if expect_re 'CONNECTED_STATE' 15; then
    pass "connect: session established (CONNECTED_STATE)"
else
    fail "connect: session established (CONNECTED_STATE)" "no CONNECTED_STATE event within 15 s"
    summary_and_exit
fi
OUT=""
expect_re 'session id: 0x[0-9a-f]+' 5
check "connect: non-zero session id reported" $? "$OUT"

BASE="/ferrozk-climt-$$-$RANDOM"

# create persistent
do_create "" "$BASE"
[ "$RC" = 0 ] && [ "$NAME" = "$BASE" ]
check "create persistent $BASE -> rc 0, name echoed" $? "rc=$RC name=$NAME"

# create again -> NodeExists
do_create "" "$BASE"
[ "$RC" = -110 ]
check "create existing node -> rc -110 (ZNODEEXISTS)" $? "rc=$RC"

# create under missing parent -> NoNode
do_create "" "$BASE/missing/child"
[ "$RC" = -101 ]
check "create with missing parent -> rc -101 (ZNONODE)" $? "rc=$RC"

# get initial data (cli_mt always creates with data "new")
do_get "$BASE"
{ [ "$RC" = 0 ] && grep -q '^ value_len = 3$' <<<"$OUT" && grep -qx 'new' <<<"$OUT" \
    && grep -q $'^\tversion=0\taversion=0$' <<<"$OUT" && grep -q 'ephemeralOwner = 0$' <<<"$OUT"; }
check "get: data 'new', value_len 3, version 0, ephemeralOwner 0" $? "rc=$RC out=$(tr '\n' '|' <<<"$OUT")"

# cli_mt prints zxids (and ephemeralOwner) in hex without a 0x prefix
czxid=$(sed -n 's/^\tczxid=\([0-9a-f]*\)$/\1/p' <<<"$OUT" | head -1)
mzxid=$(sed -n 's/^\tmzxid=\([0-9a-f]*\)$/\1/p' <<<"$OUT" | head -1)
[ -n "$czxid" ] && [ "$((16#$czxid))" -gt 0 ] && [ "$czxid" = "$mzxid" ]
check "get: fresh node has czxid == mzxid > 0" $? "czxid=$czxid mzxid=$mzxid"

# set -> version bump; the watch left by get fires CHANGED_EVENT
do_simple set "$BASE" hello-ferrozk
setrc=$RC
{ [ "$setrc" = 0 ] && expect_re $'^\tversion=1\taversion=0$'; }
check "set: rc 0 and returned stat has version=1" $? "rc=$setrc out=$(tr '\n' '|' <<<"$OUT")"

if grep -q "CHANGED_EVENT .*for path $BASE\$" <<<"$TRANSCRIPT"; then r=0; else OUT=""; expect_re "CHANGED_EVENT .*for path $(re_esc "$BASE")\$" 5; r=$?; fi
check "get watch fired CHANGED_EVENT on set" $r

do_get "$BASE"
mzxid2=$(sed -n 's/^\tmzxid=\([0-9a-f]*\)$/\1/p' <<<"$OUT" | head -1)
{ [ "$RC" = 0 ] && grep -q '^ value_len = 13$' <<<"$OUT" && grep -qx 'hello-ferrozk' <<<"$OUT" \
    && grep -q $'^\tversion=1\taversion=0$' <<<"$OUT" && [ -n "$mzxid2" ] && [ -n "$mzxid" ] && [ "$((16#$mzxid2))" -gt "$((16#$mzxid))" ]; }
check "get after set: new data, version 1, mzxid increased" $? "rc=$RC mzxid=$mzxid2 out=$(tr '\n' '|' <<<"$OUT")"

# ephemeral child
do_create "+e" "$BASE/eph"
[ "$RC" = 0 ] && [ "$NAME" = "$BASE/eph" ]
check "create ephemeral (+e)" $? "rc=$RC name=$NAME"

do_get "$BASE/eph"
sid=$(grep -o 'session id: 0x[0-9a-f]*' <<<"$TRANSCRIPT" | head -1 | sed 's/.*0x//')
owner=$(sed -n 's/^\tephemeralOwner = \(.*\)$/\1/p' <<<"$OUT" | head -1)
# ephemeralOwner is printed in hex without 0x
owner_hex=""
if [[ $owner =~ ^(0x)?([0-9a-fA-F]+)$ ]]; then owner_hex=${BASH_REMATCH[2]}; fi
[ "$RC" = 0 ] && [ -n "$sid" ] && [ "$((16#${owner_hex:-0}))" = "$((16#$sid))" ]
check "ephemeral node's ephemeralOwner == session id" $? "rc=$RC owner=$owner session=0x$sid"

# sequential child: 10-digit zero-padded suffix
do_create "+s" "$BASE/seq-"
[ "$RC" = 0 ] && [[ $NAME =~ ^$(re_esc "$BASE")/seq-[0-9]{10}$ ]]
check "create sequential (+s) -> name with 10-digit suffix" $? "rc=$RC name=$NAME"
seq1=$NAME
do_create "+s" "$BASE/seq-"
[ "$RC" = 0 ] && [[ $NAME =~ ^$(re_esc "$BASE")/seq-[0-9]{10}$ ]] && [ "$((10#${NAME: -10}))" -gt "$((10#${seq1: -10}))" ]
check "second sequential create gets a larger counter" $? "first=$seq1 second=$NAME"
seq2=$NAME

do_create "+es" "$BASE/eseq-"
[ "$RC" = 0 ] && [[ $NAME =~ ^$(re_esc "$BASE")/eseq-[0-9]{10}$ ]]
check "create ephemeral sequential (+es)" $? "rc=$RC name=$NAME"
eseq=$NAME

# ls
do_ls "$BASE"
expected=$(printf '%s\n' eph "${seq1##*/}" "${seq2##*/}" "${eseq##*/}" | sort)
[ "$RC" = 0 ] && [ "$CHILDREN" = "$expected" ]
check "ls lists exactly the 4 children" $? "rc=$RC got=$(tr '\n' ' ' <<<"$CHILDREN") want=$(tr '\n' ' ' <<<"$expected")"

do_ls "$BASE/nope"
[ "$RC" = -101 ]
check "ls on missing node -> rc -101" $? "rc=$RC"

# container and TTL nodes
do_create "+c" "$BASE-container"
[ "$RC" = 0 ] && [ "$NAME" = "$BASE-container" ]
check "create container (+c)" $? "rc=$RC name=$NAME"

do_create "+t=600000" "$BASE-ttl"
[ "$RC" = 0 ] && [ "$NAME" = "$BASE-ttl" ]
check "create TTL node (+t=600000)" $? "rc=$RC name=$NAME"

# exists / wexists
OUT=""
send "exists $BASE/absent"
expect_re "^Error (-?[0-9]+) for $(re_esc "$BASE/absent")\$"
r=$?
[ $r = 0 ] && [ "${BASH_REMATCH[1]}" = -101 ]
check "exists on missing node -> error -101" $? "$(tr '\n' '|' <<<"$OUT")"

OUT=""
send "wexists $BASE/later"
expect_re "^Error (-?[0-9]+) for $(re_esc "$BASE/later")\$"
[ $? = 0 ] && [ "${BASH_REMATCH[1]}" = -101 ]
check "wexists on missing node -> error -101 (watch set)" $? "$(tr '\n' '|' <<<"$OUT")"

do_create "" "$BASE/later"
createrc=$RC
if grep -q "CREATED_EVENT .*for path $BASE/later\$" <<<"$TRANSCRIPT"; then r=0; else OUT=""; expect_re "CREATED_EVENT .*for path $(re_esc "$BASE/later")\$" 5; r=$?; fi
[ "$createrc" = 0 ] && [ $r = 0 ]
check "exists watch fires CREATED_EVENT when node is created" $? "createrc=$createrc"

# sync
do_create_sync() {
    local pe; pe=$(re_esc "$1")
    OUT=""; RC=timeout
    send "sync $1"
    if expect_re "^\[$pe\]: rc = (-?[0-9]+)"; then RC=${BASH_REMATCH[1]}; fi
}
do_create_sync "$BASE"
[ "$RC" = 0 ]
check "sync -> rc 0" $? "rc=$RC"

# delete semantics
do_simple delete "$BASE"
[ "$RC" = -111 ]
check "delete non-empty node -> rc -111 (ZNOTEMPTY)" $? "rc=$RC"

do_simple delete "$BASE/absent"
[ "$RC" = -101 ]
check "delete missing node -> rc -101 (ZNONODE)" $? "rc=$RC"

do_simple set "$BASE/absent" x
[ "$RC" = -101 ]
check "set on missing node -> rc -101" $? "rc=$RC"

do_simple get "$BASE/absent"
[ "$RC" = -101 ]
check "get on missing node -> rc -101" $? "rc=$RC"

ok=0
for p in "$BASE/later" "$seq1" "$seq2" "$eseq" "$BASE/eph"; do
    do_simple delete "$p"
    [ "$RC" = 0 ] || { ok=1; echo "  delete $p rc=$RC" >&2; }
done
check "delete each child -> rc 0" $ok

do_ls "$BASE"
[ "$RC" = 0 ] && [ -z "$CHILDREN" ]
check "ls after deleting children -> empty" $? "rc=$RC children=$CHILDREN"

ok=0
for p in "$BASE" "$BASE-ttl" "$BASE-container"; do
    do_simple delete "$p"
    # the childless container may already have been reaped? No: a container that
    # never had a child is never reaped, so deletion must succeed.
    [ "$RC" = 0 ] || { ok=1; echo "  delete $p rc=$RC" >&2; }
done
check "delete parent, TTL and container nodes -> rc 0" $ok

send "exists $BASE"
OUT=""
expect_re "^Error (-?[0-9]+) for $(re_esc "$BASE")\$"
[ $? = 0 ] && [ "${BASH_REMATCH[1]}" = -101 ]
check "deleted node no longer exists" $? "$(tr '\n' '|' <<<"$OUT")"

# quit: the shell closes its session and exits (its last words may be lost
# because bash closes the coprocess pipes when it exits)
send "quit"
r=1
for _ in $(seq 1 100); do
    if ! kill -0 "$CLI_PID" 2>/dev/null; then r=0; break; fi
    sleep 0.1
done
check "quit: cli_mt exits within 10 s" $r

echo "$PASSED passed, $FAILED failed"
[ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
