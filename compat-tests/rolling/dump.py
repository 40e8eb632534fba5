"""A subtree as one server holds it, after a sync: one line per znode with its data, Stat and
ACL, so that two servers' trees compare as text.

usage: dump.py <port> <root>
"""
import sys

from kazoo.client import KazooClient

port, root = sys.argv[1], sys.argv[2]
zk = KazooClient(hosts="127.0.0.1:" + port, timeout=15)
zk.start(timeout=60)
zk.sync(root)


def walk(path):
    data, st = zk.get(path)
    acl, _ = zk.get_acls(path)
    print(path, repr(data), st.czxid, st.mzxid, st.pzxid, st.version, st.cversion,
          st.aversion, st.ephemeralOwner, st.numChildren,
          sorted((a.perms, a.id.scheme, a.id.id) for a in acl))
    for c in sorted(zk.get_children(path)):
        walk(path.rstrip("/") + "/" + c)


walk(root)
zk.stop()
