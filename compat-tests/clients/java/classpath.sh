# Sourced by build.sh / run.sh: the classpath the Java suites compile and run with.
#
# By default Debian's ZooKeeper 3.8 client, Curator 5.4 and a no-op SLF4J binding (quiet
# logging); the jars' manifests pull in their own dependencies (netty, jackson, ...).
#
# With FERROZK_CURATOR_VERSION=<v> (say 5.9.0): Curator <v> from Maven Central with the
# ZooKeeper client it depends on (3.9.x for Curator 5.7 and later), fetched on first use by
# compat-tests/apps/fetch-maven.sh.
J=/usr/share/java
if [ -n "${FERROZK_CURATOR_VERSION:-}" ]; then
    _here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
    FERROZK_JAVA_CP=$(bash "$_here/../../apps/fetch-maven.sh" "curator-$FERROZK_CURATOR_VERSION" \
        "org.apache.curator:curator-recipes:$FERROZK_CURATOR_VERSION" org.slf4j:slf4j-nop:1.7.36) || {
        echo "could not fetch org.apache.curator:curator-recipes:$FERROZK_CURATOR_VERSION from Maven Central" >&2
        return 1 2>/dev/null || exit 1
    }
else
    FERROZK_JAVA_CP="$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/curator-client.jar:$J/curator-framework.jar:$J/curator-recipes.jar:$J/guava.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar"
    for jar in zookeeper zookeeper-jute curator-client curator-framework curator-recipes guava slf4j-api slf4j-nop; do
        if [ ! -f "$J/$jar.jar" ]; then
            echo "missing $J/$jar.jar (run compat-tests/scripts/install-deps.sh)" >&2
            return 1 2>/dev/null || exit 1
        fi
    done
fi
export FERROZK_JAVA_CP
