#!/usr/bin/env bash
# Compatibility checks driving the stock Java ZooKeeper shell (zkCli.sh from
# the Debian zookeeper package) against a server.
#
# usage: zkcli_suite.sh [--enforce-quota] [--super PASSWORD] <host:port>
#
# --enforce-quota: the server runs with enforceQuota=true (hard quotas refuse writes).
# --super PASSWORD: the server's DigestAuthenticationProvider.superDigest is that of
#   super:PASSWORD (the super user reads what no ACL lets it read).
#
# To keep JVM start-ups few, the main scenario is a single zkCli session fed on
# stdin. zkCli prints nothing that delimits one command's output from the
# next, so after every command the suite sends `printwatches`, a purely local
# command that prints "printwatches is on"; the output is split on that line.
# Watch notifications ("WatchedEvent state:... type:... path:...") arrive
# asynchronously and are checked over the whole transcript.
# Then three one-shot invocations (`zkCli.sh -server X <cmd>`) check exit
# codes and that the session's ephemerals were removed when it closed.
# Every zkCli run is bounded by `timeout` (the session by ZKCLI_TIMEOUT,
# default 60 s; each one-shot by ZKCLI_ONESHOT_TIMEOUT, default 20 s).
# If the session does not complete, the one-shot part is skipped.
set -u

ENFORCE=0
SUPER=
while [ $# -gt 1 ]; do
    case "$1" in
        --enforce-quota) ENFORCE=1; shift;;
        --super) SUPER=$2; shift 2;;
        *) break;;
    esac
done
if [ $# -ne 1 ]; then
    echo "usage: $0 [--enforce-quota] [--super PASSWORD] <host:port>" >&2
    exit 2
fi
CONNECT=$1
ZKCLI=${ZKCLI:-/usr/share/zookeeper/bin/zkCli.sh}
ZKCLI_TIMEOUT=${ZKCLI_TIMEOUT:-60}
ZKCLI_ONESHOT_TIMEOUT=${ZKCLI_ONESHOT_TIMEOUT:-20}

PASSED=0
FAILED=0
pass() { PASSED=$((PASSED + 1)); echo "PASS: $1"; }
fail() { FAILED=$((FAILED + 1)); echo "FAIL: $1${2:+ -- $2}"; }
check() { if [ "$2" -eq 0 ]; then pass "$1"; else fail "$1" "${3:-}"; fi; }
finish() {
    echo "$PASSED passed, $FAILED failed"
    [ "$FAILED" -eq 0 ] && [ "$PASSED" -gt 0 ]
    exit $?
}

if [ ! -x "$ZKCLI" ]; then
    fail "zkCli.sh present at $ZKCLI"
    finish
fi

TMP=$(mktemp -d /tmp/ferrozk-zkcli.XXXXXX)
trap 'rm -rf "$TMP"' EXIT

BASE="/ferrozk-zkcli-$$-$RANDOM"
MARK="printwatches is on"

# ---------------------------------------------------------------------------
# Session 1: one zkCli process, commands on stdin.
CMDS=()
cmd() { CMDS+=("$1"); }          # command i is CMDS[i-1]; its output is section i

cmd "create $BASE basedata"                     # 1
cmd "create $BASE dup"                          # 2
cmd "create -e $BASE/eph edata"                 # 3
cmd "create -s $BASE/seq- sdata"                # 4
cmd "create -e -s $BASE/eseq- esdata"           # 5
cmd "create -c $BASE-c"                         # 6
cmd "create -t 600000 $BASE-t tdata"            # 7
cmd "create $BASE/missing/x"                    # 8
cmd "get $BASE"                                 # 9
cmd "set $BASE newdata"                         # 10
cmd "get -s $BASE"                              # 11
cmd "set -v 0 $BASE bad"                        # 12
cmd "stat $BASE"                                # 13
cmd "stat $BASE/eph"                            # 14
cmd "ls $BASE"                                  # 15
cmd "ls -s $BASE"                               # 16
cmd "getAllChildrenNumber $BASE"                # 17
cmd "getEphemerals $BASE"                       # 18
cmd "getEphemerals"                             # 19
cmd "addWatch $BASE"                            # 20 default mode PERSISTENT_RECURSIVE
cmd "create $BASE/w x"                          # 21
cmd "create $BASE/w/deep y"                     # 22
cmd "set $BASE/w/deep z"                        # 23
cmd "addWatch -m PERSISTENT $BASE-c"            # 24
cmd "create $BASE-c/k kdata"                    # 25
cmd "set $BASE-c cdata"                         # 26
cmd "removewatches $BASE-c"                     # 27
cmd "set $BASE-c cdata2"                        # 28
cmd "delete $BASE"                              # 29
cmd "delete -v 5 $BASE/eph"                     # 30
cmd "delete $BASE/nonexistent"                  # 31
cmd "sync $BASE"                                # 32
cmd "stat $BASE-t"                              # 33
cmd "delete $BASE/w/deep"                       # 34
cmd "deleteall $BASE"                           # 35
cmd "ls $BASE"                                  # 36
cmd "deleteall $BASE-c"                         # 37
cmd "delete $BASE-t"                            # 38
cmd "create $BASE-p"                            # 39
cmd "create -e $BASE-p/eph"                     # 40
cmd "ls $BASE-p"                                # 41
cmd "getAllChildrenNumber /"                    # 42

# write_input FILE: the session's commands, each followed by printwatches, then quit.
write_input() {
    {
        echo "printwatches"
        for c in "${CMDS[@]}"; do
            echo "$c"
            echo "printwatches"
        done
        echo "quit"
    } > "$1"
}
write_input "$TMP/input"

start=$SECONDS
timeout "$ZKCLI_TIMEOUT" "$ZKCLI" -server "$CONNECT" < "$TMP/input" > "$TMP/raw" 2>&1
rc=$?
echo "  (zkCli session took $((SECONDS - start))s, exit $rc)" >&2
sed 's/^/  | /' "$TMP/raw" >&2

# watch events seen anywhere
grep -o 'WatchedEvent state:[A-Za-z]* type:[A-Za-z]* path:.*' "$TMP/raw" > "$TMP/events"
# transcript without log noise, watcher blocks and blank lines
# split_sections RAW DIR: drops zkCli's noise lines and cuts the rest into DIR/sec.N on the
# marker (section 0 is the banner); sets nsec to the number of markers seen.
split_sections() {
    grep -v -e '^SLF4J:' -e '^WATCHER::$' -e '^WatchedEvent ' -e '^$' "$1" > "$1.clean"
    mkdir -p "$2"
    awk -v dir="$2" -v mark="$MARK" '
        BEGIN { n = 0; f = dir "/sec.0"; printf "" > f }
        $0 == mark { n++; f = dir "/sec." n; printf "" > f; next }
        { print >> f }
    ' "$1.clean"
    nsec=$(grep -cx "$MARK" "$1.clean")
}
split_sections "$TMP/raw" "$TMP"

SESSION_OK=1
[ "$rc" -eq 0 ] && [ "$nsec" -eq $(( ${#CMDS[@]} + 1 )) ] || SESSION_OK=0
check "zkCli session ran all ${#CMDS[@]} commands and quit cleanly" $((1 - SESSION_OK)) "exit=$rc markers=$nsec"

# section accessors; they refuse (fail) when the session did not complete, so
# that "prints nothing" checks cannot pass vacuously
sec() { [ "$SESSION_OK" = 1 ] || return 1; cat "$TMP/sec.$1" 2>/dev/null; }
secis() { [ "$SESSION_OK" = 1 ] && [ "$(sec "$1")" = "$2" ]; }    # exact section content
show() { sec "$1" | tr '\n' '|'; }

grep -qx 'WatchedEvent state:SyncConnected type:None path:null' "$TMP/events"
check "connected (SyncConnected event)" $?

secis 1 "Created $BASE"
check "create persistent" $? "$(show 1)"
secis 2 "Node already exists: $BASE"
check "create existing -> 'Node already exists'" $? "$(show 2)"
secis 3 "Created $BASE/eph"
check "create -e (ephemeral)" $? "$(show 3)"
[[ $(sec 4) =~ ^Created\ $BASE/seq-[0-9]{10}$ ]]
check "create -s (sequential, 10-digit suffix)" $? "$(show 4)"
SEQ=$(sec 4 | sed 's/^Created //')
[[ $(sec 5) =~ ^Created\ $BASE/eseq-[0-9]{10}$ ]] && [ "$(( 10#${SEQ: -10} ))" -lt "$(( 10#$(sec 5 | tail -c 11) ))" ]
check "create -e -s (ephemeral sequential, counter increases)" $? "$(show 5)"
ESEQ=$(sec 5 | sed 's/^Created //')
secis 6 "Created $BASE-c"
check "create -c (container)" $? "$(show 6)"
secis 7 "Created $BASE-t"
check "create -t 600000 (TTL)" $? "$(show 7)"
secis 8 "Node does not exist: $BASE/missing/x"
check "create with missing parent -> 'Node does not exist'" $? "$(show 8)"
secis 9 "basedata"
check "get returns data" $? "$(show 9)"
secis 10 ""
check "set prints nothing on success" $? "$(show 10)"
{ sec 11 | head -1 | grep -qx newdata && sec 11 | grep -qx 'dataVersion = 1' && sec 11 | grep -qx 'dataLength = 7' \
    && sec 11 | grep -qx 'numChildren = 3' && sec 11 | grep -qx 'ephemeralOwner = 0x0' && sec 11 | grep -qx 'aclVersion = 0'; }
check "get -s: new data, dataVersion 1, dataLength 7, numChildren 3" $? "$(show 11)"
secis 12 "version No is not valid : $BASE"
check "set -v with wrong version -> BadVersion" $? "$(show 12)"

stat_field() { sec "$1" | sed -n "s/^$2 = //p" | head -1; }
czxid=$(stat_field 13 cZxid); mzxid=$(stat_field 13 mZxid); pzxid=$(stat_field 13 pZxid)
{ [[ $czxid =~ ^0x[0-9a-f]+$ ]] && [[ $mzxid =~ ^0x[0-9a-f]+$ ]] && [[ $pzxid =~ ^0x[0-9a-f]+$ ]] \
    && [ $((mzxid)) -gt $((czxid)) ] && [ $((pzxid)) -gt $((czxid)) ] \
    && [ "$(stat_field 13 cversion)" = 3 ] && [ "$(stat_field 13 numChildren)" = 3 ]; }
check "stat: zxids in hex, mZxid/pZxid > cZxid, cversion 3, numChildren 3" $? "$(show 13)"
owner=$(stat_field 14 ephemeralOwner)
[[ $owner =~ ^0x[0-9a-f]+$ ]] && [ "$owner" != 0x0 ] && [ "$(stat_field 14 dataLength)" = 5 ]
check "stat of ephemeral: non-zero ephemeralOwner" $? "$(show 14)"

want=$(printf '%s\n' eph "${SEQ##*/}" "${ESEQ##*/}" | sort | paste -sd, | sed 's/,/, /g')
secis 15 "[$want]"
check "ls lists the 3 children (sorted)" $? "got $(show 15) want [$want]"
sec 16 | head -1 | grep -qxF "[$want]" && sec 16 | grep -qx 'numChildren = 3'
check "ls -s prints children and stat" $? "$(show 16)"
secis 17 3
check "getAllChildrenNumber $BASE -> 3" $? "$(show 17)"

want=$(printf '%s\n' "$BASE/eph" "$ESEQ" | sort)
got=$(sec 18 | tr -d '[]' | tr ',' '\n' | sed 's/^ *//' | grep . | sort)
[ "$got" = "$want" ]
check "getEphemerals $BASE -> this session's 2 ephemerals" $? "$(show 18)"
got=$(sec 19 | tr -d '[]' | tr ',' '\n' | sed 's/^ *//' | grep . | sort)
[ "$got" = "$want" ]
check "getEphemerals (all) -> this session's 2 ephemerals" $? "$(show 19)"

secis 20 "" && secis 21 "Created $BASE/w" && secis 22 "Created $BASE/w/deep"
check "addWatch (recursive) and nested creates succeed" $? "$(show 20) $(show 21) $(show 22)"
grep -qx "WatchedEvent state:SyncConnected type:NodeCreated path:$BASE/w" "$TMP/events"
check "recursive watch: NodeCreated for child" $?
grep -qx "WatchedEvent state:SyncConnected type:NodeCreated path:$BASE/w/deep" "$TMP/events"
check "recursive watch: NodeCreated for grandchild" $?
grep -qx "WatchedEvent state:SyncConnected type:NodeDataChanged path:$BASE/w/deep" "$TMP/events"
check "recursive watch: NodeDataChanged for grandchild" $?
[ "$SESSION_OK" = 1 ] && ! grep -q "type:NodeChildrenChanged path:$BASE\(/.*\)\?\$" "$TMP/events"
check "recursive watch: no NodeChildrenChanged events" $?
grep -qx "WatchedEvent state:SyncConnected type:NodeDeleted path:$BASE/w/deep" "$TMP/events"
check "recursive watch: NodeDeleted for grandchild" $?
grep -qx "WatchedEvent state:SyncConnected type:NodeDeleted path:$BASE" "$TMP/events"
check "recursive watch: NodeDeleted for the watched node itself" $?

grep -qx "WatchedEvent state:SyncConnected type:NodeChildrenChanged path:$BASE-c" "$TMP/events"
check "persistent watch: NodeChildrenChanged" $?
n=$(grep -cx "WatchedEvent state:SyncConnected type:NodeDataChanged path:$BASE-c" "$TMP/events")
[ "$n" -eq 1 ]
check "persistent watch: exactly one NodeDataChanged (none after removewatches)" $? "count=$n"
secis 27 "" && grep -qx "WatchedEvent state:SyncConnected type:PersistentWatchRemoved path:$BASE-c" "$TMP/events"
check "removewatches: PersistentWatchRemoved event" $? "$(show 27)"
[ "$SESSION_OK" = 1 ] && ! grep -q "path:$BASE-c/k\$" "$TMP/events"
check "persistent (non-recursive) watch: no events for the child itself" $?

secis 29 "Node not empty: $BASE"
check "delete non-empty -> 'Node not empty'" $? "$(show 29)"
secis 30 "version No is not valid : $BASE/eph"
check "delete -v with wrong version -> BadVersion" $? "$(show 30)"
secis 31 "Node does not exist: $BASE/nonexistent"
check "delete missing -> 'Node does not exist'" $? "$(show 31)"
secis 32 "Sync is OK"
check "sync" $? "$(show 32)"
[ "$(stat_field 33 ephemeralOwner)" = 0x0 ] && [ "$(stat_field 33 dataLength)" = 5 ]
check "stat of TTL node: ephemeralOwner 0x0, dataLength 5" $? "$(show 33)"
secis 34 "" && secis 35 "" && secis 36 "Node does not exist: $BASE"
check "deleteall removes the subtree" $? "$(show 34) $(show 35) $(show 36)"
secis 37 "" && secis 38 ""
check "deleteall container, delete TTL node" $? "$(show 37) $(show 38)"
secis 39 "Created $BASE-p" && secis 40 "Created $BASE-p/eph" && secis 41 "[eph]"
check "create parent + ephemeral child for close test" $? "$(show 39) $(show 40) $(show 41)"
[[ $(sec 42) =~ ^[0-9]+$ ]] && [ "$(sec 42)" -ge 2 ]
check "getAllChildrenNumber / is a number >= 2" $? "$(show 42)"

grep -qx 'WatchedEvent state:Closed type:None path:null' "$TMP/events"
check "quit closes the session (Closed event)" $?

# ---------------------------------------------------------------------------
# One-shot invocations
if [ "$SESSION_OK" != 1 ]; then
    fail "one-shot checks" "skipped because the session did not complete"
    finish
fi
oneshot() { # oneshot <outfile> <args...>; sets ORC
    local out=$1; shift
    timeout "$ZKCLI_ONESHOT_TIMEOUT" "$ZKCLI" -server "$CONNECT" "$@" > "$out" 2>&1
    ORC=$?
    sed 's/^/  | /' "$out" >&2
    grep -v -e '^SLF4J:' -e '^WATCHER::$' -e '^WatchedEvent ' -e '^$' -e '^Connecting to ' "$out" > "$out.clean"
}

oneshot "$TMP/o1" ls "$BASE-p"
[ "$ORC" = 0 ] && [ "$(cat "$TMP/o1.clean")" = "[]" ]
check "one-shot ls: ephemeral gone after its session closed" $? "exit=$ORC $(tr '\n' '|' < "$TMP/o1.clean")"

oneshot "$TMP/o2" get "$BASE-p/nope"
[ "$ORC" = 1 ] && [ "$(cat "$TMP/o2.clean")" = "Node does not exist: $BASE-p/nope" ]
check "one-shot get of missing node -> exit 1, 'Node does not exist'" $? "exit=$ORC $(tr '\n' '|' < "$TMP/o2.clean")"

oneshot "$TMP/o3" delete "$BASE-p"
[ "$ORC" = 0 ] && [ ! -s "$TMP/o3.clean" ]
check "one-shot delete -> exit 0" $? "exit=$ORC $(tr '\n' '|' < "$TMP/o3.clean")"

# ---------------------------------------------------------------------------
# Session 2: quotas (setquota, listquota, delquota) and access control (addauth, setAcl,
# getAcl, whoami), in a second zkCli process.
Q="$BASE-q"
BOB=$(/usr/bin/python3 -c "import hashlib,base64;print('bob:'+base64.b64encode(hashlib.sha1(b'bob:pw').digest()).decode())")
CMDS=()
cmd "create $Q qdata"                           # 1
cmd "setquota -n 3 $Q"                          # 2
cmd "listquota $Q"                              # 3
cmd "create $Q/a aa"                            # 4
cmd "create $Q/b bb"                            # 5
cmd "create $Q/c cc"                            # 6 past the soft limit: still created
cmd "listquota $Q"                              # 7
cmd "setquota -N 4 $Q"                          # 8
cmd "create $Q/d dd"                            # 9 past the hard limit
cmd "setquota -B 20 $Q"                         # 10
cmd "set $Q 0123456789012345678901234567890"    # 11 past the byte hard limit
cmd "listquota $Q"                              # 12
cmd "delquota -N $Q"                            # 13
cmd "listquota $Q"                              # 14
cmd "delquota $Q"                               # 15
cmd "listquota $Q"                              # 16
cmd "get /zookeeper/quota$Q/zookeeper_stats"    # 17
cmd "whoami"                                    # 18
cmd "addauth digest alice:secret"               # 19
cmd "create $Q-acl secret auth::cdrwa"          # 20
cmd "getAcl $Q-acl"                             # 21
cmd "setAcl $Q-acl world:anyone:r"              # 22
cmd "getAcl -s $Q-acl"                          # 23
cmd "set $Q-acl x"                              # 24
cmd "create $Q-d data digest:$BOB:cdrwa"        # 25
cmd "get $Q-d"                                  # 26
cmd "addauth digest bob:pw"                     # 27
cmd "get $Q-d"                                  # 28
cmd "create $Q-ip x ip:127.0.0.1:cdrwa"         # 29
cmd "get $Q-ip"                                 # 30
cmd "setAcl $Q-ip ip:10.0.0.0/8:cdrwa"          # 31
cmd "get $Q-ip"                                 # 32
cmd "whoami"                                    # 33
cmd "addauth digest super:${SUPER:-nosuper}"    # 34
cmd "get $Q-ip"                                 # 35
cmd "getAcl $Q-d"                               # 36
cmd "setAcl $Q-ip world:anyone:cdrwa"           # 37
cmd "deleteall $Q"                              # 38
cmd "delete $Q-ip"                              # 39

write_input "$TMP/input2"
timeout "$ZKCLI_TIMEOUT" "$ZKCLI" -server "$CONNECT" < "$TMP/input2" > "$TMP/raw2" 2>&1
rc=$?
sed 's/^/  | /' "$TMP/raw2" >&2
split_sections "$TMP/raw2" "$TMP/s2"
SESSION_OK=1
[ "$rc" -eq 0 ] && [ "$nsec" -eq $(( ${#CMDS[@]} + 1 )) ] || SESSION_OK=0
check "zkCli quota/ACL session ran all ${#CMDS[@]} commands and quit cleanly" $((1 - SESSION_OK)) "exit=$rc markers=$nsec"
sec() { [ "$SESSION_OK" = 1 ] || return 1; cat "$TMP/s2/sec.$1" 2>/dev/null; }

LIMITS="absolute path is /zookeeper/quota$Q/zookeeper_limits"
quota_is() { # quota_is <section> <limits text> <stats text>
    secis "$1" "$LIMITS
Output quota for $Q $2
Output stat for $Q $3"
}
secis 1 "Created $Q" && secis 2 ""
check "setquota -n on an existing node" $? "$(show 1) $(show 2)"
quota_is 3 "count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" "count=1,bytes=5"
check "listquota: limits as StatsTrack text, stats count the node itself" $? "$(show 3)"
secis 6 "Created $Q/c" && quota_is 7 "count=3,bytes=-1=;byteHardLimit=-1;countHardLimit=-1" "count=4,bytes=11"
check "soft count limit: the create still succeeds, stats count=4 bytes=11" $? "$(show 6) $(show 7)"
secis 8 "[Warning]: the count quota you create is less than the existing count:4"
check "setquota -N on an existing quota updates the limits node" $? "$(show 8)"
if [ "$ENFORCE" = 1 ]; then
    secis 9 "Quota has exceeded : $Q/d" && secis 11 "Quota has exceeded : $Q" \
        && quota_is 12 "count=3,bytes=-1=;byteHardLimit=20;countHardLimit=4" "count=4,bytes=11"
    check "enforceQuota: hard count and byte limits refuse create and set (QuotaExceeded)" $? "$(show 9) $(show 11) $(show 12)"
    STATS="count=4,bytes=11"
else
    secis 9 "Created $Q/d" && secis 11 "" \
        && quota_is 12 "count=3,bytes=-1=;byteHardLimit=20;countHardLimit=4" "count=5,bytes=39"
    check "without enforceQuota hard limits do not refuse writes; stats follow them" $? "$(show 9) $(show 11) $(show 12)"
    STATS="count=5,bytes=39"
fi
quota_is 14 "count=3,bytes=-1=;byteHardLimit=20;countHardLimit=-1" "$STATS"
check "delquota -N clears only the count hard limit" $? "$(show 14)"
secis 15 "" && secis 16 "$LIMITS
quota for $Q does not exist." && secis 17 "Node does not exist: /zookeeper/quota$Q/zookeeper_stats"
check "delquota removes the quota; listquota then says it does not exist" $? "$(show 15) $(show 16) $(show 17)"

secis 18 "Auth scheme: User
ip: 127.0.0.1"
check "whoami before addauth: the ip identity only" $? "$(show 18)"
ALICE=$(/usr/bin/python3 -c "import hashlib,base64;print('alice:'+base64.b64encode(hashlib.sha1(b'alice:secret').digest()).decode())")
secis 19 "" && secis 20 "Created $Q-acl" && secis 21 "'digest,'$ALICE
: cdrwa"
check "addauth digest + create with auth:: ACL -> the caller's digest id" $? "$(show 21)"
secis 22 "" && sec 23 | head -2 | paste -sd'|' | grep -qx "'world,'anyone|: r" && sec 23 | grep -qx 'aclVersion = 1'
check "setAcl world:anyone:r; getAcl -s shows it and aclVersion 1" $? "$(show 23)"
secis 24 "Insufficient permission : $Q-acl"
check "set on a read-only ACL -> Insufficient permission" $? "$(show 24)"
secis 25 "Created $Q-d" && secis 26 "Insufficient permission : $Q-d" && secis 27 "" && secis 28 "data"
check "digest ACL: denied until addauth as that user" $? "$(show 26) $(show 28)"
secis 29 "Created $Q-ip" && secis 30 "x" && secis 31 "" && secis 32 "Insufficient permission : $Q-ip"
check "ip ACL 127.0.0.1 allows, 10.0.0.0/8 denies" $? "$(show 30) $(show 32)"
secis 33 "Auth scheme: User
digest: alice
digest: bob
ip: 127.0.0.1"
check "whoami lists every identity of the connection" $? "$(show 33)"
if [ -n "$SUPER" ]; then
    secis 35 "x" && secis 36 "'digest,'$BOB
: cdrwa" && secis 37 ""
    check "super user: reads and changes what no ACL grants it" $? "$(show 35) $(show 36)"
else
    secis 35 "Insufficient permission : $Q-ip"
    check "super:<password> is an ordinary digest user without superDigest" $? "$(show 35)"
fi

finish
