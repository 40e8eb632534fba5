# The Apache ZooKeeper releases from Maven Central that the compatibility tests run, besides
# Debian's 3.8.0 (/usr/share/java). The one place these versions are chosen: source this file
# (install-deps.sh fetches both with fetch-zookeeper.sh; compat-tests/src reads it through
# `bash -c 'source ...'`). An environment variable of the same name overrides the default.
#
# Newest releases whose POMs resolve on Maven Central: org.apache.zookeeper:zookeeper 3.8.7
# and 3.9.6 are published, but their parent POMs (org.apache.zookeeper:parent) are not
# served, so Maven cannot resolve their dependencies.
: "${ZK38_VERSION:=3.8.6}"
: "${ZK39_VERSION:=3.9.5}"
export ZK38_VERSION ZK39_VERSION
