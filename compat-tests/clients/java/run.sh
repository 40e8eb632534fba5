#!/usr/bin/env bash
# Build (if needed) and run one Java compatibility suite.
#
# usage: run.sh <Class> <host:port>      e.g. run.sh RawRecipes 127.0.0.1:2181
#
# Classes go to $JAVA_OUT (default /tmp/ferrozk-java-classes, with -curator-<v> appended when
# FERROZK_CURATOR_VERSION picks a Curator release from Maven Central: see classpath.sh).
# Exit status is the suite's: 0 only if every check passed.
set -euo pipefail
if [ $# -lt 2 ]; then
    echo "usage: $0 <Class> <host:port>" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
cls=$1
shift
out=${JAVA_OUT:-/tmp/ferrozk-java-classes${FERROZK_CURATOR_VERSION:+-curator-$FERROZK_CURATOR_VERSION}}
# keep the "N passed, M failed" contract even when the suite cannot be built
if ! . "$here/classpath.sh" || ! "$here/build.sh" "$out" >&2; then
    echo "FAIL: build: compiling the Java suites failed (see stderr)"
    echo "0 passed, 1 failed"
    exit 1
fi
# FERROZK_JAVA_OPTS: more JVM flags (e.g. the client's TLS system properties);
# FERROZK_JAVA_EXTRA_CP: more jars (e.g. Netty, for the TLS socket).
# shellcheck disable=SC2086
exec java -Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 ${FERROZK_JAVA_OPTS:-} \
    -cp "$out:$FERROZK_JAVA_CP${FERROZK_JAVA_EXTRA_CP:+:$FERROZK_JAVA_EXTRA_CP}" "$cls" "$@"
