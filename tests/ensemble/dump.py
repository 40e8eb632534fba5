"""Lists a subtree as one server holds it (after a sync), one line per znode."""
import sys

from kazoo.client import KazooClient

port, root = sys.argv[1], sys.argv[2]
zk = KazooClient(hosts="127.0.0.1:" + port, timeout=10)
zk.start(timeout=30)
zk.sync(root)
for c in sorted(zk.get_children(root)):
    data, st = zk.get(root + "/" + c)
    print(c, data.decode(), st.czxid, st.mzxid, st.version)
zk.stop()
