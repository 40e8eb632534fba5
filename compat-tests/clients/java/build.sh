#!/usr/bin/env bash
# Compile the Java compatibility suites with plain javac against the Debian
# jars in /usr/share/java (ZooKeeper 3.8 client, Curator 5.4).
#
# usage: build.sh <outdir>
#
# Idempotent: recompiles only when a source or this script is newer than the
# last successful build (stamp file <outdir>/.build-stamp).
set -euo pipefail
if [ $# -ne 1 ]; then
    echo "usage: $0 <outdir>" >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
out=$1
mkdir -p "$out"
# shellcheck source=classpath.sh
. "$here/classpath.sh"

# serialize concurrent builds into the same directory (suites run in parallel)
exec 9>"$out/.build-lock"
flock -w 120 9 || { echo "build.sh: could not lock $out/.build-lock" >&2; exit 1; }

stamp="$out/.build-stamp"
if [ -f "$stamp" ] && [ -z "$(find "$here" -maxdepth 1 \( -name '*.java' -o -name '*.sh' \) -newer "$stamp" -print -quit)" ]; then
    exit 0
fi
rm -f "$stamp"
javac -nowarn -encoding UTF-8 -d "$out" -cp "$FERROZK_JAVA_CP" "$here"/*.java
touch "$stamp"
