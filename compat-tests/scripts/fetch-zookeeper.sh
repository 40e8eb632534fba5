#!/usr/bin/env bash
# Fetch Apache ZooKeeper <version> (org.apache.zookeeper:zookeeper from Maven Central) and the
# jars a server needs at run time, with mvn, into a cache outside git:
#
#   ${FERROZK_ZK_CACHE:-/var/cache/ferrozk-zk}/<version>/lib/*.jar
#   ${FERROZK_ZK_CACHE:-/var/cache/ferrozk-zk}/<version>/conf/logback.xml
#
# and print the server's Java classpath (conf dir first, so that logback finds logback.xml,
# then every jar) on stdout; everything else goes to stderr.
#
#   fetch-zookeeper.sh <version>
#   java -cp "$(fetch-zookeeper.sh 3.9.5)" org.apache.zookeeper.server.quorum.QuorumPeerMain zoo.cfg
#
# Idempotent: a version already in the cache is not fetched again (delete its directory to
# refetch). Concurrent calls are serialised with flock.
#
# What is fetched: zookeeper and its compile/runtime dependencies as its POM declares them
# (zookeeper-jute, netty, slf4j-api, commons-io, audience-annotations, ...), plus what the
# release's binary tarball puts in lib/ for a server although the POM marks it provided or
# optional: logback-classic (the default slf4j binding of 3.8+; optional in 3.9's POM),
# metrics-core (dropwizard, used by the server's percentile counters), snappy-java (snapshot
# compression), commons-cli, jackson-databind and jetty (the admin server). Their versions
# come from the release's own parent POM, imported as a BOM.
#
# Logging: conf/logback.xml sends everything at INFO (or -Dzookeeper.log.level=...) to
# stdout, in ZooKeeper's own pattern, as a server started with its stdout on a log file
# expects. (Without it logback would log at DEBUG.)
set -euo pipefail

if [ $# -ne 1 ] || [ -z "$1" ]; then
    echo "usage: $0 <zookeeper-version>   (e.g. 3.9.5)" >&2
    exit 2
fi
version=$1
case "$version" in
    *[!0-9A-Za-z.-]*) echo "fetch-zookeeper: bad version '$version'" >&2; exit 2;;
esac

root=${FERROZK_ZK_CACHE:-/var/cache/ferrozk-zk}
dest=$root/$version

classpath() {
    local cp="$dest/conf" j
    # zookeeper's own jars first, then the rest in name order.
    for j in "$dest/lib/zookeeper-$version.jar" "$dest/lib/zookeeper-jute-$version.jar"; do
        cp="$cp:$j"
    done
    for j in "$dest"/lib/*.jar; do
        case "$j" in
            "$dest/lib/zookeeper-$version.jar" | "$dest/lib/zookeeper-jute-$version.jar") ;;
            *) cp="$cp:$j" ;;
        esac
    done
    printf '%s\n' "$cp"
}

complete() {
    [ -f "$dest/.complete" ] && [ -f "$dest/lib/zookeeper-$version.jar" ] \
        && [ -f "$dest/conf/logback.xml" ]
}

if complete; then
    classpath
    exit 0
fi

if ! mkdir -p "$root" 2>/dev/null || [ ! -w "$root" ]; then
    echo "fetch-zookeeper: cannot write $root (set FERROZK_ZK_CACHE to a writable directory)" >&2
    exit 1
fi
command -v mvn >/dev/null 2>&1 || {
    echo "fetch-zookeeper: mvn not found (apt-get install maven)" >&2
    exit 1
}

exec 9>"$root/.lock-$version"
flock 9
if complete; then # fetched by another caller while we waited
    classpath
    exit 0
fi

work=$(mktemp -d "$root/.fetch-$version.XXXXXX")
trap 'rm -rf "$work"' EXIT

cat >"$work/pom.xml" <<POM
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0"
         xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"
         xsi:schemaLocation="http://maven.apache.org/POM/4.0.0 http://maven.apache.org/xsd/maven-4.0.0.xsd">
  <modelVersion>4.0.0</modelVersion>
  <groupId>ferrozk.compat</groupId>
  <artifactId>fetch-zookeeper</artifactId>
  <version>0</version>
  <packaging>pom</packaging>
  <dependencyManagement>
    <dependencies>
      <dependency>
        <groupId>org.apache.zookeeper</groupId>
        <artifactId>parent</artifactId>
        <version>$version</version>
        <type>pom</type>
        <scope>import</scope>
      </dependency>
    </dependencies>
  </dependencyManagement>
  <dependencies>
    <dependency>
      <groupId>org.apache.zookeeper</groupId>
      <artifactId>zookeeper</artifactId>
      <version>$version</version>
    </dependency>
    <dependency><groupId>ch.qos.logback</groupId><artifactId>logback-classic</artifactId></dependency>
    <dependency><groupId>io.dropwizard.metrics</groupId><artifactId>metrics-core</artifactId></dependency>
    <dependency><groupId>org.xerial.snappy</groupId><artifactId>snappy-java</artifactId></dependency>
    <dependency><groupId>commons-cli</groupId><artifactId>commons-cli</artifactId></dependency>
    <dependency><groupId>com.fasterxml.jackson.core</groupId><artifactId>jackson-databind</artifactId></dependency>
    <dependency><groupId>org.eclipse.jetty</groupId><artifactId>jetty-server</artifactId></dependency>
    <dependency><groupId>org.eclipse.jetty</groupId><artifactId>jetty-servlet</artifactId></dependency>
  </dependencies>
  <build>
    <plugins>
      <plugin>
        <groupId>org.apache.maven.plugins</groupId>
        <artifactId>maven-dependency-plugin</artifactId>
        <version>3.6.1</version>
      </plugin>
    </plugins>
  </build>
</project>
POM

echo "fetch-zookeeper: fetching org.apache.zookeeper:zookeeper:$version with mvn into $dest" >&2
if ! (cd "$work" && mvn -B -q -f pom.xml dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$work/out/lib") >"$work/mvn.log" 2>&1; then
    cat "$work/mvn.log" >&2
    echo "fetch-zookeeper: mvn could not resolve org.apache.zookeeper:zookeeper:$version" >&2
    exit 1
fi
[ -f "$work/out/lib/zookeeper-$version.jar" ] || {
    cat "$work/mvn.log" >&2
    echo "fetch-zookeeper: zookeeper-$version.jar missing after mvn" >&2
    exit 1
}

mkdir -p "$work/out/conf"
cat >"$work/out/conf/logback.xml" <<'XML'
<!-- Written by compat-tests/scripts/fetch-zookeeper.sh: the server logs to stdout (the
     tests send it to the member's server.log), at INFO unless -Dzookeeper.log.level=... -->
<configuration>
  <appender name="CONSOLE" class="ch.qos.logback.core.ConsoleAppender">
    <encoder>
      <pattern>%d{ISO8601} [myid:%X{myid}] - %-5p [%t:%C{1}@%L] - %m%n</pattern>
    </encoder>
  </appender>
  <root level="${zookeeper.log.level:-INFO}">
    <appender-ref ref="CONSOLE"/>
  </root>
</configuration>
XML
printf '%s\n' "$version" >"$work/out/.complete"

rm -rf "$dest"
mv "$work/out" "$dest"
echo "fetch-zookeeper: $(ls "$dest/lib" | wc -l) jars in $dest/lib" >&2
classpath
