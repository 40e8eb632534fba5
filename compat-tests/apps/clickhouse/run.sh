#!/usr/bin/env bash
# ClickHouse replication on a ZooKeeper service: two clickhouse-server processes
# (Debian's 18.16) hold the two replicas of one ReplicatedMergeTree table, and
# everything that makes them replicas goes through ZooKeeper: the replication log
# and queues, part registry, insert de-duplication blocks, quorum inserts, leader
# election, ALTER metadata, and the is_active ephemerals that tell a replica
# whether its peer is up.
#
# usage: run.sh <zk-connect> <port,port,port,port,port,port> [pid]
#
#   zk-connect  host:port[,host:port...][/chroot]; every host goes into the
#               servers' <zookeeper> section; a chroot prefixes the table's path.
#   ports       six free loopback ports: tcp, http and interserver-http port of
#               replica 1, then the same three of replica 2.
#   pid         optional: a ZooKeeper server process killed with SIGKILL while
#               replica 2 is down and replica 1 keeps writing (the caller runs an
#               ensemble and wants it to lose a member under load); the run must
#               go on on the remaining members.
#
# Each step prints "STEP <name> ...", then "  ok <name> (<seconds> s)"; the
# first failure prints "FAIL <name>: <reason>" and the tails of both servers'
# logs, keeps the work directory (named), and exits non-zero. On success the
# last line is "CLICKHOUSE CHECK PASSED in <N> s" and the work directory is gone.
#
# Every ZooKeeper path used lives under [chroot]/clickhouse/<run-id>/, so concurrent or
# successive runs can share one ZooKeeper service; the table is dropped at the
# end, which makes ClickHouse delete its own subtree again.
#
# Set CLICKHOUSE_CHECK_KEEP=1 to keep the work directory (the servers' logs) after
# a pass too, e.g. to compare the ZooKeeper errors ClickHouse logged on two services.
#
# The servers run as the invoking user (18.16 does not refuse root) from a fresh
# mktemp directory; only processes started here are stopped, by PID.
set -uo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <zk-connect> <port,port,port,port,port,port> [pid]" >&2
    exit 2
fi
ZK_CONNECT=$1
IFS=',' read -r -a PORTS <<<"$2"
KILL_PID=${3:-}
if [ "${#PORTS[@]}" -ne 6 ]; then
    echo "need exactly six ports, got '$2'" >&2
    exit 2
fi
for p in "${PORTS[@]}"; do
    [[ $p =~ ^[0-9]+$ ]] || { echo "bad port '$p'" >&2; exit 2; }
done
if [ -n "$KILL_PID" ] && ! [[ $KILL_PID =~ ^[0-9]+$ ]]; then
    echo "bad pid '$KILL_PID'" >&2
    exit 2
fi
for bin in clickhouse-server clickhouse-client timeout; do
    command -v "$bin" >/dev/null || { echo "FAIL setup: $bin not found" >&2; exit 1; }
done

# replica n (1 or 2) -> its ports
declare -A TCP HTTP INTERSERVER PID
TCP[1]=${PORTS[0]} HTTP[1]=${PORTS[1]} INTERSERVER[1]=${PORTS[2]}
TCP[2]=${PORTS[3]} HTTP[2]=${PORTS[4]} INTERSERVER[2]=${PORTS[5]}
PID[1]="" PID[2]=""

STARTED=$EPOCHREALTIME
RUN_ID=chk-$(date +%s)-$$-$RANDOM
ZK_PREFIX=""            # the connect string's chroot, if any (see zookeeper_xml)
if [[ $ZK_CONNECT == */* ]]; then
    ZK_PREFIX=/${ZK_CONNECT#*/}
    ZK_PREFIX=${ZK_PREFIX%/}
fi
ZK_TABLE_ROOT=$ZK_PREFIX/clickhouse/$RUN_ID/tables/01      # {shard} macro is 01
ZK_TABLE=$ZK_TABLE_ROOT/events
QUERY_TIMEOUT=90        # bound on any single clickhouse-client call
WORK=$(mktemp -d "${TMPDIR:-/tmp}/ferrozk-clickhouse.XXXXXX")
CUR_STEP=setup

echo "ClickHouse $(clickhouse-client --version 2>/dev/null | grep -o '[0-9][0-9.]*[0-9]' | head -1) replicas on ZooKeeper at $ZK_CONNECT; run $RUN_ID; work directory $WORK"

# ---- helpers ---------------------------------------------------------------

secs_since() { # seconds (one decimal) since an $EPOCHREALTIME value
    awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'
}

# why <text>: the failure reason of the current step. A file, so that it also
# works from the $(...) subshells the helpers below run in.
why() { printf '%s\n' "$*" >"$WORK/reason"; }

# sql <n> <query> [client options]: run a query on replica n, print its result.
# On failure record the error as the reason and return non-zero.
sql() {
    local n=$1 query=$2 rc=0
    shift 2
    timeout "$QUERY_TIMEOUT" clickhouse-client --host 127.0.0.1 --port "${TCP[$n]}" \
        "$@" --query "$query" 2>"$WORK/sql.err" || rc=$?
    if [ "$rc" -ne 0 ]; then
        why "r$n: query failed (exit $rc): $(printf '%s' "$query" | tr -s '\n ' '  '): $(tr '\n' ' ' <"$WORK/sql.err" | cut -c1-600)"
        return 1
    fi
}

# wait_for <seconds> <what> <command...>: poll the command (every 0.5 s) until it
# succeeds; on timeout the reason names what was awaited and the last failure.
wait_for() {
    local limit=$1 what=$2 t0=$EPOCHREALTIME last
    shift 2
    while :; do
        rm -f "$WORK/reason"
        if "$@"; then return 0; fi
        if awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
            last=$(cat "$WORK/reason" 2>/dev/null)
            why "timed out after ${limit} s waiting for $what${last:+ (last: $last)}"
            return 1
        fi
        sleep 0.5
    done
}

# expect_eq <n> <query> <expected>: the query's result on replica n is exactly <expected>.
expect_eq() {
    local got
    got=$(sql "$1" "$2") || return 1
    if [ "$got" != "$3" ]; then
        why "r$1: $2 returned '$(printf '%s' "$got" | tr '\n\t' '| ')', expected '$(printf '%s' "$3" | tr '\n\t' '| ')'"
        return 1
    fi
}

# Rows inserted so far (the check knows what each replica must hold).
EXP_COUNT=0 EXP_SUM_K=0 EXP_SUM_W=0
ALTERED=0   # column w exists from step alter on

# insert_rows <n> <first k> <last k> [client options]: one INSERT on replica n of
# keys first..last, spread over three months (three partitions, so three parts
# and three de-duplication blocks per insert unless the rows fit one month).
insert_sql() {
    local from=$1 to=$2
    echo "INSERT INTO events (d, k, v) SELECT toDate('2024-01-15') + 31 * (number % 3), number + $from, concat('row-', toString(number + $from)) FROM numbers($((to - from + 1)))"
}
count_rows() { # account for rows first..last inserted with the default w (7)
    local from=$1 to=$2 n=$(($2 - $1 + 1))
    EXP_COUNT=$((EXP_COUNT + n))
    EXP_SUM_K=$((EXP_SUM_K + (from + to) * n / 2))
    EXP_SUM_W=$((EXP_SUM_W + 7 * n))
}
insert_rows() {
    local n=$1 from=$2 to=$3
    shift 3
    sql "$n" "$(insert_sql "$from" "$to")" "$@" || return 1
    count_rows "$from" "$to"
}
# The same, retried for up to <seconds> while the replica cannot write (read-only
# while it re-creates its ZooKeeper session, e.g. after losing its server).
# Retrying an INSERT whose outcome is unknown is safe: an identical block is
# de-duplicated through ZooKeeper, so rows cannot be counted twice.
insert_rows_retry() {
    local n=$1 from=$2 to=$3 limit=$4 tries=0 t0=$EPOCHREALTIME first_err=""
    while :; do
        tries=$((tries + 1))
        if sql "$n" "$(insert_sql "$from" "$to")"; then
            count_rows "$from" "$to"
            if [ "$tries" -gt 1 ]; then
                echo "    insert of k=$from..$to on r$n took $tries attempts, $(secs_since "$t0") s; first error: $first_err"
            fi
            return 0
        fi
        [ -n "$first_err" ] || first_err=$(cut -c1-300 "$WORK/reason")
        if awk -v a="$t0" -v b="$EPOCHREALTIME" -v l="$limit" 'BEGIN { exit !(b - a > l) }'; then
            why "insert of k=$from..$to on r$n still failing after $tries attempts in ${limit} s: $(cat "$WORK/reason")"
            return 1
        fi
        sleep 1
    done
}

# has_expected_rows <n>: replica n holds exactly the rows inserted so far.
has_expected_rows() {
    if [ "$ALTERED" -eq 1 ]; then
        expect_eq "$1" "SELECT count(), sum(k), sum(w) FROM events" "$EXP_COUNT	$EXP_SUM_K	$EXP_SUM_W"
    else
        expect_eq "$1" "SELECT count(), sum(k) FROM events" "$EXP_COUNT	$EXP_SUM_K"
    fi
}

both_have_expected_rows() { has_expected_rows 1 && has_expected_rows 2; }

# ---- servers -----------------------------------------------------------------

# The <zookeeper> section: one <node> per host of the connect string, in order.
# A chroot in the connect string is not given to ClickHouse as <root> (18.16
# insists that the root node already exists, and has no way to create it); it
# prefixes the table's path instead (see ZK_PREFIX), which is the same thing to
# the server, since a chroot is only ever a client-side path prefix.
zookeeper_xml() {
    local i=0 h host port
    echo "    <zookeeper>"
    IFS=',' read -r -a hl <<<"${ZK_CONNECT%%/*}"
    for h in "${hl[@]}"; do
        if [[ $h =~ ^\[(.*)\]:([0-9]+)$ ]] || [[ $h =~ ^([^:]*):([0-9]+)$ ]]; then
            host=${BASH_REMATCH[1]} port=${BASH_REMATCH[2]}
        else
            host=$h port=2181
        fi
        i=$((i + 1))
        echo "        <node index=\"$i\"><host>$host</host><port>$port</port></node>"
    done
    # 10 s sessions: short enough that an expired session is noticed quickly,
    # long enough for a loaded 2-core machine (server range with tickTime=2000
    # is 4..40 s).
    echo "        <session_timeout_ms>10000</session_timeout_ms>"
    echo "        <operation_timeout_ms>10000</operation_timeout_ms>"
    echo "    </zookeeper>"
}

write_config() {
    local n=$1 d=$WORK/r$1
    mkdir -p "$d"
    cat >"$d/config.xml" <<XML
<?xml version="1.0"?>
<!-- replica r$n of run $RUN_ID, generated by ferrozk compat-tests/apps/clickhouse/run.sh -->
<yandex>
    <logger>
        <level>information</level>
        <log>$d/server.log</log>
        <errorlog>$d/server.err.log</errorlog>
        <size>100M</size>
        <count>2</count>
    </logger>
    <listen_host>127.0.0.1</listen_host>
    <tcp_port>${TCP[$n]}</tcp_port>
    <http_port>${HTTP[$n]}</http_port>
    <interserver_http_port>${INTERSERVER[$n]}</interserver_http_port>
    <!-- what the replica registers in ZooKeeper (replicas/r$n/host) for its peer to fetch parts from -->
    <interserver_http_host>127.0.0.1</interserver_http_host>
    <path>$d/data/</path>
    <tmp_path>$d/tmp/</tmp_path>
    <user_files_path>$d/user_files/</user_files_path>
    <format_schema_path>$d/format_schemas/</format_schema_path>
    <users_config>$d/users.xml</users_config>
    <default_profile>default</default_profile>
    <default_database>default</default_database>
    <mark_cache_size>67108864</mark_cache_size>
    <uncompressed_cache_size>67108864</uncompressed_cache_size>
    <max_concurrent_queries>20</max_concurrent_queries>
$(zookeeper_xml)
    <macros>
        <shard>01</shard>
        <replica>r$n</replica>
    </macros>
    <merge_tree>
        <!-- how often a table checks whether its ZooKeeper session expired and
             re-creates it (default 60 s, too slow for a bounded check) -->
        <zookeeper_session_expiration_check_period>2</zookeeper_session_expiration_check_period>
    </merge_tree>
    <!-- no <distributed_ddl>, <query_log> or <remote_servers>: nothing here uses
         them, and distributed_ddl would write outside /clickhouse/$RUN_ID -->
</yandex>
XML
    cat >"$d/users.xml" <<XML
<?xml version="1.0"?>
<yandex>
    <profiles><default></default></profiles>
    <users>
        <default>
            <password></password>
            <networks><ip>127.0.0.1</ip></networks>
            <profile>default</profile>
            <quota>default</quota>
        </default>
    </users>
    <quotas><default></default></quotas>
</yandex>
XML
}

start_server() {
    local n=$1
    clickhouse-server --config-file="$WORK/r$n/config.xml" >>"$WORK/r$n/stdout.log" 2>&1 </dev/null &
    PID[$n]=$!
}

server_ready() { # up and answering; fail fast if the process is gone
    if ! kill -0 "${PID[$1]}" 2>/dev/null; then
        why "r$1 (pid ${PID[$1]}) exited: $(tail -5 "$WORK/r$1/stdout.log" "$WORK/r$1/server.err.log" 2>/dev/null | tr '\n' ' ' | cut -c1-800)"
        return 2
    fi
    expect_eq "$1" "SELECT 1" 1
}
wait_ready() {
    local n=$1 t0=$EPOCHREALTIME rc
    while :; do
        rm -f "$WORK/reason"
        server_ready "$n"
        rc=$?
        [ "$rc" -eq 0 ] && return 0
        [ "$rc" -eq 2 ] && return 1
        if awk -v a="$t0" -v b="$EPOCHREALTIME" 'BEGIN { exit !(b - a > 60) }'; then
            why "r$n did not answer within 60 s: $(cat "$WORK/reason")"
            return 1
        fi
        sleep 0.5
    done
}

# stop_server <n>: SIGTERM (graceful: ClickHouse closes its ZooKeeper session),
# SIGKILL if it is still there after 60 s.
stop_server() {
    local n=$1 pid=${PID[$1]} i
    [ -n "$pid" ] || return 0
    kill -TERM "$pid" 2>/dev/null
    for ((i = 0; i < 600; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$pid" 2>/dev/null; then
        echo "    r$n (pid $pid) still running 60 s after SIGTERM; SIGKILL"
        kill -KILL "$pid" 2>/dev/null
    fi
    wait "$pid" 2>/dev/null
    PID[$n]=""
}
stop_all() { stop_server 2; stop_server 1; }

fail() {
    local name=$1 reason=$2 n
    echo "FAIL $name: $reason"
    for n in 1 2; do
        # without the per-query chatter, which would hide the replication and
        # ZooKeeper messages
        echo "---- r$n: tail of $WORK/r$n/server.log (per-query lines left out)"
        grep -v -E '<Information> (TCPHandler|executeQuery|InterserverIOHTTPHandler|HTTPHandler):|^[0-9]+\. |^$' \
            "$WORK/r$n/server.log" 2>/dev/null | cut -c1-400 | tail -n 40
        if [ -s "$WORK/r$n/server.err.log" ]; then
            echo "---- r$n: tail of $WORK/r$n/server.err.log"
            grep -v -E '^[0-9]+\. |^$' "$WORK/r$n/server.err.log" | cut -c1-400 | tail -n 20
        fi
        if [ -s "$WORK/r$n/stdout.log" ]; then
            echo "---- r$n: tail of $WORK/r$n/stdout.log"
            tail -n 10 "$WORK/r$n/stdout.log"
        fi
    done
    stop_all
    echo "work directory kept: $WORK"
    trap - EXIT
    exit 1
}
trap 'fail "$CUR_STEP" "interrupted"' INT TERM
trap 'stop_all' EXIT

step() { # step <name> <function>: run one step of the scenario, timed
    local name=$1 t0=$EPOCHREALTIME
    shift
    CUR_STEP=$name
    echo "STEP $name ..."
    rm -f "$WORK/reason"
    if "$@"; then
        echo "  ok $name ($(secs_since "$t0") s)"
    else
        fail "$name" "$(cat "$WORK/reason" 2>/dev/null || echo "no reason recorded")"
    fi
}

# ---- the scenario ---------------------------------------------------------------

CREATE_TABLE="CREATE TABLE events (d Date, k UInt64, v String)
    ENGINE = ReplicatedMergeTree('$ZK_TABLE_ROOT/events', '{replica}')
    PARTITION BY toYYYYMM(d) ORDER BY k"

# 1a. Both servers come up with the generated configs (ZooKeeper is contacted
# lazily, by the first query that needs it).
step_start() {
    write_config 1 && write_config 2 || { why "could not write configs in $WORK"; return 1; }
    start_server 1
    start_server 2
    wait_ready 1 && wait_ready 2
}

replica_names() { # replica names registered under the table in ZooKeeper, as seen from r<n>
    sql "$1" "SELECT arrayStringConcat(groupArray(name), ',') FROM (SELECT name FROM system.zookeeper WHERE path = '$ZK_TABLE/replicas' ORDER BY name)"
}
expect_replicas() { # expect_replicas <n> <names>
    local got
    got=$(replica_names "$1") || return 1
    [ "$got" = "$2" ] || { why "replicas in ZooKeeper seen from r$1: '$got', expected '$2'"; return 1; }
}

# 1b. The table on both: r1 creates the shared metadata in ZooKeeper, r2 joins it
# (it must find the same columns/metadata there) under its own replica name.
step_create() {
    sql 1 "$CREATE_TABLE" && sql 2 "$CREATE_TABLE" || return 1
    expect_eq 1 "SELECT name FROM system.zookeeper WHERE path = '$ZK_TABLE_ROOT'" events || return 1
    expect_replicas 2 r1,r2 || return 1
    # each replica's is_active ephemeral exists
    wait_for 30 "both replicas active" expect_eq 1 \
        "SELECT total_replicas, active_replicas, is_readonly FROM system.replicas WHERE table = 'events'" "2	2	0"
}

# 2. Inserts replicate both ways (log entries + part fetches over interserver HTTP,
# announced through ZooKeeper); an identical block is de-duplicated through the
# ZooKeeper blocks registry, even when sent to the other replica; a quorum insert
# returns only when both replicas have the part (quorum node + watches); a merge
# assigned by the leader replica is replayed on the other.
step_replicate() {
    insert_rows 1 1 100 || return 1
    insert_rows 2 101 200 || return 1
    wait_for 60 "r2 to have r1's rows and r1 to have r2's" \
        both_have_expected_rows || return 1
    # SYSTEM SYNC REPLICA waits until the replica's queue has caught up with the log
    sql 1 "SYSTEM SYNC REPLICA events" && sql 2 "SYSTEM SYNC REPLICA events" || return 1

    # de-duplication: the block r1 inserted, inserted again on r2, adds nothing
    sql 2 "$(insert_sql 1 100)" || return 1
    has_expected_rows 2 || { why "duplicate block was not de-duplicated: $(cat "$WORK/reason")"; return 1; }
    sql 1 "SYSTEM SYNC REPLICA events" || return 1
    has_expected_rows 1 || { why "duplicate block was not de-duplicated: $(cat "$WORK/reason")"; return 1; }

    # quorum insert (one month, so one part): when it returns, r2 has the rows;
    # select_sequential_consistency makes r2 check the quorum state in ZooKeeper
    sql 1 "INSERT INTO events (d, k, v) SELECT toDate('2024-04-10'), number + 201, 'quorum' FROM numbers(10)" \
        --insert_quorum=2 --insert_quorum_timeout=60000 || return 1
    count_rows 201 210
    expect_eq 2 "SELECT count(), sum(k) FROM events" "$EXP_COUNT	$EXP_SUM_K" --select_sequential_consistency=1 || return 1

    # a merge, asked for on r2 (forwarded to the leader if r2 is not it), ends up
    # as the same single part on both replicas
    sql 2 "OPTIMIZE TABLE events PARTITION 202401 FINAL" || return 1
    wait_for 60 "one merged part of 202401, the same on both replicas" merged_202401
}
active_parts() { # active_parts <n> [partition]: comma-separated active part names on r<n>
    sql "$1" "SELECT arrayStringConcat(groupArray(name), ',') FROM (SELECT name FROM system.parts
        WHERE database = currentDatabase() AND table = 'events' AND active ${2:+AND partition = '$2'} ORDER BY name)"
}
merged_202401() {
    local p1 p2
    p1=$(active_parts 1 202401) && p2=$(active_parts 2 202401) || return 1
    [ "$p1" = "$p2" ] && [[ $p1 != *,* ]] || { why "active parts of 202401: r1 '$p1', r2 '$p2'"; return 1; }
}

# 3. ALTER ADD COLUMN on r1 goes through the shared columns node; r2 applies it,
# and data written on r2 with the new column replicates back.
step_alter() {
    sql 1 "ALTER TABLE events ADD COLUMN w UInt32 DEFAULT 7" || return 1
    ALTERED=1
    wait_for 60 "column w on r2" expect_eq 2 \
        "SELECT type, default_kind FROM system.columns WHERE database = currentDatabase() AND table = 'events' AND name = 'w'" \
        "UInt32	DEFAULT" || return 1
    expect_eq 2 "SELECT count() FROM events WHERE w != 7" 0 || return 1
    sql 2 "INSERT INTO events (d, k, v, w) SELECT toDate('2024-02-20'), number + 301, 'altered', 1000 FROM numbers(10)" || return 1
    count_rows 301 310
    EXP_SUM_W=$((EXP_SUM_W - 7 * 10 + 1000 * 10))
    wait_for 60 "r2's rows with w on r1" has_expected_rows 1 || return 1
    expect_eq 1 "SELECT columns_version >= 1 FROM system.replicas WHERE table = 'events'" 1
}

# 4. r2 goes away cleanly (its session closes, so r1 soon sees one active
# replica); r1 keeps writing; the given ZooKeeper server is killed; r1 writes
# again (after moving its session to a surviving member if needed); r2 comes back
# and catches up from the replication log.
step_restart() {
    stop_server 2
    wait_for 30 "r1 to see r2 inactive (its is_active ephemeral gone)" expect_eq 1 \
        "SELECT total_replicas, active_replicas FROM system.replicas WHERE table = 'events'" "2	1" || return 1
    insert_rows_retry 1 1001 1100 60 || return 1
    insert_rows_retry 1 1101 1200 60 || return 1
    if [ -n "$KILL_PID" ]; then
        if kill -KILL "$KILL_PID" 2>/dev/null; then
            echo "    killed ZooKeeper server pid $KILL_PID (SIGKILL)"
        else
            why "could not kill ZooKeeper server pid $KILL_PID"
            return 1
        fi
    fi
    insert_rows_retry 1 1201 1300 90 || return 1
    expect_eq 1 "SELECT count() FROM events" "$EXP_COUNT" || return 1
    start_server 2
    wait_ready 2 || return 1
    wait_for 90 "restarted r2 to catch up" has_expected_rows 2 || return 1
    # and r2 can write again: its rows reach r1
    insert_rows_retry 2 1301 1310 60 || return 1
    wait_for 60 "r2's new rows on r1" has_expected_rows 1
}

# 5. Both replicas healthy by their own account and by what is in ZooKeeper.
replica_healthy() {
    expect_eq "$1" "SELECT is_readonly, is_session_expired, future_parts, parts_to_check, queue_size, total_replicas, active_replicas
        FROM system.replicas WHERE table = 'events'" "0	0	0	0	0	2	2"
}
same_data() {
    local q="SELECT count(), sum(k), sum(w), sum(cityHash64(d, k, v, w)) FROM events" a b pa pb
    a=$(sql 1 "$q") && b=$(sql 2 "$q") && pa=$(active_parts 1) && pb=$(active_parts 2) || return 1
    [ "$a" = "$b" ] || { why "data differs: r1 $a, r2 $b"; return 1; }
    [ "$pa" = "$pb" ] || { why "active parts differ: r1 $pa; r2 $pb"; return 1; }
}
step_health() {
    sql 1 "SYSTEM SYNC REPLICA events" && sql 2 "SYSTEM SYNC REPLICA events" || return 1
    wait_for 60 "r1 healthy (not read-only, session alive, empty queue, 2 of 2 replicas active)" replica_healthy 1 || return 1
    wait_for 60 "r2 healthy" replica_healthy 2 || return 1
    has_expected_rows 1 && has_expected_rows 2 || return 1
    wait_for 60 "identical data and parts on both replicas" same_data || return 1
    local n
    for n in 1 2; do
        # straight from ZooKeeper: the replica is registered, not lost, has its
        # is_active ephemeral, and advertises its interserver address
        expect_eq 1 "SELECT value FROM system.zookeeper WHERE path = '$ZK_TABLE/replicas/r$n' AND name = 'is_lost'" 0 || return 1
        expect_eq 2 "SELECT count() FROM system.zookeeper WHERE path = '$ZK_TABLE/replicas/r$n' AND name = 'is_active' AND ephemeralOwner != 0" 1 || return 1
        expect_eq 1 "SELECT value LIKE '%host: 127.0.0.1%port: ${INTERSERVER[$n]}%' FROM system.zookeeper WHERE path = '$ZK_TABLE/replicas/r$n' AND name = 'host'" 1 || return 1
    done
    # exactly one leader among the two. Waited for: a replica that had to start a
    # new session (its server was killed) leaves its old leader_election
    # ephemeral behind, and nobody leads until the server expires that session.
    wait_for 60 "exactly one leader replica, and only the two live replicas in the election" one_leader
}
one_leader() {
    local l1 l2
    expect_eq 1 "SELECT count() FROM system.zookeeper WHERE path = '$ZK_TABLE/leader_election'" 2 || return 1
    l1=$(sql 1 "SELECT is_leader FROM system.replicas WHERE table = 'events'") &&
        l2=$(sql 2 "SELECT is_leader FROM system.replicas WHERE table = 'events'") || return 1
    [ $((l1 + l2)) -eq 1 ] || { why "is_leader: r1 $l1, r2 $l2 (want exactly one)"; return 1; }
}

# 6a. DROP TABLE removes a replica's subtree; dropping the last replica removes the
# table's whole subtree (leaves the service as it was, but for /clickhouse/<run-id>/tables/01).
step_drop() {
    sql 2 "DROP TABLE events" || return 1
    wait_for 30 "r2 gone from the table's replicas in ZooKeeper" expect_replicas 1 r1 || return 1
    sql 1 "DROP TABLE events" || return 1
    wait_for 30 "the table's subtree gone from ZooKeeper" expect_eq 1 \
        "SELECT count() FROM system.zookeeper WHERE path = '$ZK_TABLE_ROOT'" 0
}

# 6b. stop both servers (by PID), then the work directory goes
step_stop() {
    stop_all
}

step start step_start
step create step_create
step replicate step_replicate
step alter step_alter
step restart-replica step_restart
step health step_health
step drop step_drop
step stop step_stop
trap - EXIT
if [ -n "${CLICKHOUSE_CHECK_KEEP:-}" ]; then
    echo "work directory kept (CLICKHOUSE_CHECK_KEEP): $WORK"
else
    rm -rf "$WORK"
fi
printf 'CLICKHOUSE CHECK PASSED in %.0f s\n' "$(secs_since "$STARTED")"
