#!/usr/bin/env bash
# Patroni (Debian's patroni 3.0.2, ZooKeeper DCS through kazoo) with PostgreSQL 15 on a ZooKeeper
# service: bootstrap of a two-member cluster, replication, failover after a crash of the leader,
# rejoin of the old leader as a replica (patroni_check.py does the work and says what each step checks).
#
# usage: run.sh <zk-connect> <port,port,port,port> [pid of a ZooKeeper server to kill]
#
#   ports, in order: PostgreSQL of member n1, PostgreSQL of n2, REST API of n1, REST API of n2
#   (all bound to 127.0.0.1 only).
#   pid: killed with SIGKILL at the moment the Patroni leader is crashed (for a 3-member ensemble:
#   Patroni must fail over while ZooKeeper itself loses a member).
#
# Must run as root: PostgreSQL refuses to run as root, so Patroni and PostgreSQL run as the
# `postgres` user in a fresh work directory owned by it. The work directory is removed when the
# check passes and kept (its path printed) when it fails. Exit status: the check's.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
    echo "usage: $0 <zk-connect> <port,port,port,port> [pid]" >&2
    exit 2
fi
if ! [[ $2 =~ ^[0-9]+,[0-9]+,[0-9]+,[0-9]+$ ]]; then
    echo "expected four comma-separated ports, got '$2'" >&2
    exit 2
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "must run as root (Patroni and PostgreSQL are started as the postgres user)" >&2
    exit 2
fi
for tool in /usr/bin/patroni /usr/bin/patronictl /usr/lib/postgresql/15/bin/postgres /usr/bin/psql; do
    if [ ! -x "$tool" ]; then
        echo "FAIL setup: $tool is missing (needs Debian's patroni and postgresql-15 packages)"
        exit 1
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/ferrozk-patroni.XXXXXX")
chmod 755 "$work"
chown postgres:postgres "$work"
echo "Patroni $(/usr/bin/patroni --version 2>/dev/null | awk '{print $2}') + PostgreSQL 15 on ZooKeeper at $1; work directory $work"

status=0
/usr/bin/python3 "$here/patroni_check.py" "$1" "$2" "$work" ${3:+"$3"} || status=$?
if [ "$status" -eq 0 ]; then
    rm -rf "$work"
else
    echo "Patroni check failed (status $status); logs kept in $work"
fi
exit "$status"
