#!/usr/bin/env bash
# Runs one Java application check (KafkaCheck.java, DubboCheck.java, ...): fetches the
# application from Maven Central (fetch-maven.sh, cached), compiles the check against it,
# and runs it in a fresh work directory, removed when the check passes and kept (and named)
# when it fails.
#
# usage: run-java-check.sh <Source.java> <cache-name> "<group:artifact:version[:type]>..." \
#            <zk-connect> <ports> [pid of a ZooKeeper server to kill]
#
# The check's main class is the source's name; it is called as
#   <Main> <zk-connect> <workdir> <ports> [pid]
# with the application's classpath in $APP_CP (for the JVMs it starts), and the JVM flags in
# $APP_JAVA_OPTS after the defaults (a larger -Xmx, say). Exit status: the check's.
set -euo pipefail
if [ $# -lt 5 ]; then
    echo "usage: $0 <Source.java> <cache-name> <coords> <zk-connect> <ports> [pid]" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
src=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
main=$(basename "$1" .java)
name=$2
coords=$3
shift 3
export APP_CP
# shellcheck disable=SC2086
APP_CP=$(bash "$here/fetch-maven.sh" "$name" $coords) || {
    echo "FAIL: could not fetch $coords from Maven Central"
    exit 1
}
classes=${TMPDIR:-/tmp}/ferrozk-$name-classes
mkdir -p "$classes"
exec 9>"$classes/.lock"
flock 9
if [ ! -f "$classes/$main.class" ] || [ "$src" -nt "$classes/$main.class" ] \
    || [ "$here/AppCheck.java" -nt "$classes/$main.class" ]; then
    # With AppCheck.java, what every check shares (steps, checks, waits).
    javac -nowarn -encoding UTF-8 -d "$classes" -cp "$APP_CP" "$here/AppCheck.java" "$src"
fi
flock -u 9
work=$(mktemp -d "${TMPDIR:-/tmp}/ferrozk-$name.XXXXXX")
echo "$main: $coords on ZooKeeper at $1; work directory $work"
status=0
java -Xmx256m -XX:+UseSerialGC -Dlog4j.configuration=file:/dev/null \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn ${APP_JAVA_OPTS:-} -cp "$classes:$APP_CP" \
    "$main" "$1" "$work" "$2" ${3:+"$3"} || status=$?
if [ "$status" -eq 0 ]; then
    rm -rf "$work"
else
    echo "$main failed (status $status); logs kept in $work"
fi
exit "$status"
