#!/usr/bin/env bash
# Install what the client compatibility suites and the reference server need,
# from Debian 12 (bookworm) packages:
#   zookeeper               reference server (Java, QuorumPeerMain) + zkCli.sh
#   zookeeper-bin           C client shell /usr/lib/zookeeper/bin/cli_mt
#   libzookeeper-java       /usr/share/java/zookeeper*.jar (3.8 client/server)
#   libcurator-*-java       Curator 5.4 jars
#   libslf4j-java           slf4j-nop / slf4j-simple bindings
#   python3-kazoo           kazoo for /usr/bin/python3
#   python3-cryptography    the OCSP responder of the revocation tests
#   krb5-kdc, krb5-admin-server, krb5-user, libgssapi-krb5-2, python3-kerberos
#                           a throw-away MIT KDC (compat-tests/kerberos/kdc.sh), kinit, the
#                           GSSAPI library ferrozk loads for Kerberos, kazoo's GSSAPI
#   default-jdk-headless    java + javac (OpenJDK 17 on bookworm)
#   coreutils               stdbuf, timeout (normally already present)
#   prometheus              promtool, to check /metrics
#   zktop                   the ZooKeeper top tool, run against ferrozk
#   bsdutils                script(1), a pty for zktop's curses UI
#   maven                   mvn, to fetch newer ZooKeeper releases (below), and the Java
#                           applications of compat-tests/apps (Kafka, Dubbo, HBase, Curator)
#   clickhouse-server, clickhouse-client, patroni, postgresql
#                           the applications of compat-tests/apps that Debian packages
#
# Then the newest ZooKeeper 3.8.x and 3.9.x releases (compat-tests/scripts/
# zookeeper-versions.sh) from Maven Central, with their runtime dependencies, into
# ${FERROZK_ZK_CACHE:-/var/cache/ferrozk-zk}/<version>/lib (outside git) with
# fetch-zookeeper.sh, which skips a version already there.
#
# Idempotent. Skips apt entirely when everything is already present, except
# in CI (CI=true), where it always runs `apt-get update` + `apt-get install`.
# Must run as root (or with sudo available).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)

PACKAGES=(
    zookeeper
    zookeeper-bin
    libzookeeper-java
    libcurator-client-java
    libcurator-framework-java
    libcurator-recipes-java
    libslf4j-java
    python3-kazoo
    python3-cryptography
    krb5-kdc
    krb5-admin-server
    krb5-user
    libgssapi-krb5-2
    python3-kerberos
    default-jdk-headless
    coreutils
    prometheus
    zktop
    bsdutils
    maven
    openssl
    libnetty-java
    clickhouse-server
    clickhouse-client
    patroni
    postgresql
)

J=/usr/share/java
missing() {
    local m=()
    local f
    for f in \
        "$J/zookeeper.jar" "$J/zookeeper-jute.jar" \
        "$J/curator-client.jar" "$J/curator-framework.jar" "$J/curator-recipes.jar" \
        "$J/guava.jar" "$J/slf4j-api.jar" "$J/slf4j-nop.jar" "$J/slf4j-simple.jar" \
        /usr/lib/zookeeper/bin/cli_mt /usr/share/zookeeper/bin/zkCli.sh /usr/bin/python3 \
        /usr/bin/promtool /usr/bin/zktop /usr/bin/script \
        "$J/netty-resolver.jar" "$J/netty-codec.jar" "$J/netty-handler.jar"; do
        [ -e "$f" ] || m+=("$f")
    done
    local cmd
    for cmd in java javac keytool openssl stdbuf timeout mvn flock kinit /usr/sbin/krb5kdc /usr/sbin/kadmin.local \
        clickhouse-server clickhouse-client patroni /usr/lib/postgresql/15/bin/postgres; do
        command -v "$cmd" >/dev/null 2>&1 || m+=("command:$cmd")
    done
    if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import kazoo.client' >/dev/null 2>&1; then
        m+=("python:kazoo")
    fi
    if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'import kerberos' >/dev/null 2>&1; then
        m+=("python:kerberos")
    fi
    if [ -x /usr/bin/python3 ] && ! /usr/bin/python3 -c 'from cryptography.x509 import ocsp' >/dev/null 2>&1; then
        m+=("python:cryptography")
    fi
    printf '%s\n' "${m[@]}"
}

# The ZooKeeper releases from Maven Central, after the Debian packages (mvn, java).
fetch_zookeeper() {
    # shellcheck source=zookeeper-versions.sh
    source "$here/zookeeper-versions.sh"
    local v
    for v in "$ZK38_VERSION" "$ZK39_VERSION"; do
        bash "$here/fetch-zookeeper.sh" "$v" >/dev/null
        echo "install-deps: ZooKeeper $v in ${FERROZK_ZK_CACHE:-/var/cache/ferrozk-zk}/$v"
    done
}

if [ "${CI:-}" != "true" ] && [ -z "$(missing)" ]; then
    echo "install-deps: all dependencies present; skipping apt (set CI=true to force)"
    fetch_zookeeper
    exit 0
fi

SUDO=()
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo)
    else
        echo "install-deps: must run as root (or have sudo)" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${PACKAGES[@]}"

still=$(missing)
if [ -n "$still" ]; then
    echo "install-deps: still missing after install:" >&2
    echo "$still" >&2
    exit 1
fi
fetch_zookeeper
echo "install-deps: ok ($(java -version 2>&1 | head -1); $(/usr/bin/python3 -c 'import kazoo; print("kazoo", kazoo.__version__ if hasattr(kazoo, "__version__") else "present")' 2>/dev/null))"
