# Sourced by build.sh / run.sh: classpath of Debian's ZooKeeper 3.8 client,
# Curator 5.4 and a no-op SLF4J binding (quiet logging). The jars' manifests
# pull in their own dependencies (netty, jackson, ...).
J=/usr/share/java
FERROZK_JAVA_CP="$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/curator-client.jar:$J/curator-framework.jar:$J/curator-recipes.jar:$J/guava.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar"
for jar in zookeeper zookeeper-jute curator-client curator-framework curator-recipes guava slf4j-api slf4j-nop; do
    if [ ! -f "$J/$jar.jar" ]; then
        echo "missing $J/$jar.jar (run compat-tests/scripts/install-deps.sh)" >&2
        return 1 2>/dev/null || exit 1
    fi
done
export FERROZK_JAVA_CP
