#!/usr/bin/env bash
# Run every client compatibility suite against one server.
#
# usage: run-client-suites.sh [host:port] [suite ...]
#
# Without host:port (or with "reference"), a reference Apache ZooKeeper 3.8 is
# started on a free port in a temporary workdir and stopped afterwards.
# Suites: kazoo cli_mt zkcli raw curator (default: all).
# Exit status 0 only if every selected suite passed. Per-suite output goes to
# $LOG_DIR (default: a temp dir) as <suite>.out / <suite>.err.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
clients=$(cd "$here/../clients" && pwd)

target=${1:-reference}
[ $# -gt 0 ] && shift
suites=("$@")
[ ${#suites[@]} -eq 0 ] && suites=(kazoo cli_mt zkcli raw curator)

LOG_DIR=${LOG_DIR:-$(mktemp -d /tmp/ferrozk-client-suites.XXXXXX)}
mkdir -p "$LOG_DIR"

workdir=""
if [ "$target" = reference ]; then
    port=$(/usr/bin/python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1])')
    workdir=$(mktemp -d /tmp/ferrozk-refzk.XXXXXX)
    "$here/start-reference-zk.sh" "$port" "$workdir" >/dev/null || { echo "could not start reference ZooKeeper" >&2; exit 1; }
    target=127.0.0.1:$port
    trap '"$here/stop-reference-zk.sh" "$workdir"; rm -rf "$workdir"' EXIT
    echo "reference ZooKeeper on $target (workdir $workdir)"
fi

# compile the Java suites up front so their timings exclude javac
"$clients/java/build.sh" "${JAVA_OUT:-/tmp/ferrozk-java-classes}" || { echo "java build failed" >&2; exit 1; }

overall=0
for s in "${suites[@]}"; do
    case $s in
        kazoo) cmd=(/usr/bin/python3 "$clients/kazoo_suite.py" "$target") ;;
        cli_mt) cmd=("$clients/cli_mt_suite.sh" "$target") ;;
        zkcli) cmd=("$clients/zkcli_suite.sh" "$target") ;;
        raw) cmd=("$clients/java/run.sh" RawRecipes "$target") ;;
        curator) cmd=("$clients/java/run.sh" CuratorSuite "$target") ;;
        *) echo "unknown suite $s" >&2; overall=1; continue ;;
    esac
    start=$(date +%s%N)
    timeout 300 "${cmd[@]}" >"$LOG_DIR/$s.out" 2>"$LOG_DIR/$s.err"
    rc=$?
    ms=$(( ($(date +%s%N) - start) / 1000000 ))
    printf '%-8s rc=%-3s %4d.%01ds  %s\n' "$s" "$rc" $((ms / 1000)) $((ms % 1000 / 100)) "$(tail -1 "$LOG_DIR/$s.out")"
    grep '^FAIL' "$LOG_DIR/$s.out" | sed 's/^/    /'
    [ "$rc" -eq 0 ] || overall=1
done
echo "logs in $LOG_DIR"
exit $overall
