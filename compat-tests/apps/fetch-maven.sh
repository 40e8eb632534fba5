#!/usr/bin/env bash
# Fetch Java applications from Maven Central, with their runtime dependencies, into a cache
# outside git, and print their classpath (every jar, colon-separated) on stdout; everything
# else goes to stderr.
#
#   fetch-maven.sh <name> <group:artifact:version[:type]>...
#
# (type: jar by default; pom for an artifact that only gathers dependencies.)
#
# The jars land in ${FERROZK_APPS_CACHE:-/var/cache/ferrozk-apps}/<name>/lib. <name> is the
# cache key (say kafka-3.9.2): a name already complete is not fetched again (delete its
# directory to refetch); concurrent calls are serialised with flock. When Maven cannot
# resolve an artifact the script fails and names the coordinates it was given.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 <name> <group:artifact:version>..." >&2
    exit 2
fi
name=$1
shift
case "$name" in
    *[!0-9A-Za-z.-]*) echo "fetch-maven: bad name '$name'" >&2; exit 2;;
esac
root=${FERROZK_APPS_CACHE:-/var/cache/ferrozk-apps}
dest=$root/$name

classpath() {
    local cp="" j
    for j in "$dest"/lib/*.jar; do
        cp="${cp:+$cp:}$j"
    done
    printf '%s\n' "$cp"
}

if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$*" ]; then
    classpath
    exit 0
fi
if ! mkdir -p "$root" 2>/dev/null || [ ! -w "$root" ]; then
    echo "fetch-maven: cannot write $root (set FERROZK_APPS_CACHE to a writable directory)" >&2
    exit 1
fi
command -v mvn >/dev/null 2>&1 || { echo "fetch-maven: mvn not found (apt-get install maven)" >&2; exit 1; }

exec 9>"$root/.lock-$name"
flock 9
if [ -f "$dest/.complete" ] && [ "$(cat "$dest/.complete")" = "$*" ]; then
    classpath
    exit 0
fi
work=$(mktemp -d "$root/.fetch-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT

deps=""
for coords in "$@"; do
    IFS=: read -r g a v t extra <<<"$coords"
    if [ -z "$g" ] || [ -z "$a" ] || [ -z "$v" ] || [ -n "${extra:-}" ]; then
        echo "fetch-maven: bad coordinates '$coords' (want group:artifact:version[:type])" >&2
        exit 2
    fi
    deps="$deps<dependency><groupId>$g</groupId><artifactId>$a</artifactId><version>$v</version><type>${t:-jar}</type></dependency>"
done
cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ferrozk.compat</groupId>
  <artifactId>fetch-$name</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencies>$deps</dependencies>
  <build><plugins><plugin>
    <groupId>org.apache.maven.plugins</groupId>
    <artifactId>maven-dependency-plugin</artifactId>
    <version>3.6.1</version>
  </plugin></plugins></build>
</project>
POM
echo "fetch-maven: fetching $* with mvn into $dest" >&2
if ! (cd "$work" && mvn -B -q -f pom.xml dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$work/out/lib") >"$work/mvn.log" 2>&1; then
    tail -40 "$work/mvn.log" >&2
    echo "fetch-maven: mvn could not resolve $* (for $name)" >&2
    exit 1
fi
printf '%s\n' "$*" >"$work/out/.complete"
rm -rf "$dest"
mv "$work/out" "$dest"
echo "fetch-maven: $(ls "$dest/lib" | wc -l) jars in $dest/lib" >&2
classpath
