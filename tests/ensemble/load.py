"""A kazoo client writing distinct znodes for a while through an ensemble, failing over
between its servers as they come and go. Prints one line per acknowledged create, so that
the test can check every acknowledged write survives."""
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

hosts, seconds, prefix = sys.argv[1], float(sys.argv[2]), sys.argv[3]
zk = KazooClient(hosts=hosts, timeout=10, connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1})
zk.start(timeout=30)
zk.ensure_path(prefix)
end = time.time() + seconds
i = acks = errs = 0
while time.time() < end:
    path = "%s/w%06d" % (prefix, i)
    i += 1
    try:
        zk.create(path, b"v%d" % i)
        acks += 1
        print("ACK", path, flush=True)
    except (KazooException, KazooTimeoutError) as e:
        errs += 1
        print("ERR", path, type(e).__name__, flush=True)
        time.sleep(0.05)
print("DONE", acks, errs, flush=True)
zk.stop()
