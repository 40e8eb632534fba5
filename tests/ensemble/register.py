"""A register workload for the linearizability check: several clients, each with its own
session through the ensemble, read (sync + get), write (set) and compare-and-set (set with an
expected version) a few znodes, and record every operation with its invocation and completion
times (monotonic ns) and outcome, one JSON object per line. An operation whose outcome is
unknown (connection lost, timed out) is recorded with "ok": null."""
import json
import random
import sys
import threading
import time

from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, ConnectionLoss, KazooException, OperationTimeoutError, SessionExpiredError
from kazoo.handlers.threading import KazooTimeoutError

hosts, seconds, clients, keys = sys.argv[1], float(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
out_lock = threading.Lock()
setup = KazooClient(hosts=hosts, timeout=10)
setup.start(timeout=30)
for k in range(keys):
    setup.ensure_path("/reg")
    if not setup.exists("/reg/k%d" % k):
        setup.create("/reg/k%d" % k, b"0")
setup.stop()
UNKNOWN = (ConnectionLoss, OperationTimeoutError, SessionExpiredError, KazooTimeoutError)


def emit(rec):
    with out_lock:
        print(json.dumps(rec), flush=True)


def worker(cid):
    rng = random.Random(cid)
    zk = KazooClient(hosts=hosts, timeout=10, connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1})
    zk.start(timeout=30)
    end = time.time() + seconds
    n = 0
    while time.time() < end:
        n += 1
        key = rng.randrange(keys)
        path = "/reg/k%d" % key
        kind = rng.choice(["read", "read", "write", "cas"])
        value = cid * 1000000 + n
        rec = {"client": cid, "key": key, "op": kind}
        expected = 0
        if kind == "cas":
            # A version seen recently, so that compare-and-set sometimes succeeds.
            try:
                expected = zk.get(path)[1].version + rng.choice([0, 0, 1])
            except Exception:
                time.sleep(0.05)
                continue
        rec["call"] = time.monotonic_ns()
        try:
            if kind == "read":
                zk.sync(path)
                data, st = zk.get(path)
                rec.update(ok=True, value=int(data), version=st.version)
            elif kind == "write":
                st = zk.set(path, str(value).encode())
                rec.update(ok=True, value=value, version=st.version)
            else:
                rec.update(value=value, expected=expected)
                try:
                    st = zk.set(path, str(value).encode(), version=expected)
                    rec.update(ok=True, version=st.version)
                except BadVersionError:
                    rec.update(ok=False)
        except UNKNOWN as e:
            rec.update(ok=None, error=type(e).__name__)
            time.sleep(0.05)
        except KazooException as e:
            rec.update(ok=None, error=type(e).__name__)
        rec["ret"] = time.monotonic_ns()
        if not (kind == "read" and rec.get("ok") is None):
            emit(rec)
    zk.stop()


threads = [threading.Thread(target=worker, args=(c,)) for c in range(clients)]
for t in threads:
    t.start()
for t in threads:
    t.join()
