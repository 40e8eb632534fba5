"""A write load as an application keeps it up during a rolling migration: SESSIONS kazoo
sessions on the whole connect string, each with one ephemeral node, each creating sequential
znodes and setting its own node's data in a loop, failing over between servers as they go
and come. Runs until the file STOP exists (or MAX seconds pass). Prints one line per
acknowledged write ("ACK <path>"), then per session "SESSION <k> <ok|EXPIRED|...>" (ok: the
same session throughout, and its ephemeral still there), "GAP <seconds> <at>": the longest time
between two acknowledged writes across all sessions and when it ended (seconds since the
start), and "HOLDING": the sessions stay open, ephemerals in place, until the file
"<stop file>.close" exists, so that the caller can compare the servers' trees first.

usage: load.py <hosts> <sessions> <prefix> <stop file> <max seconds>
"""
import os
import sys
import threading
import time

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import KazooException
from kazoo.handlers.threading import KazooTimeoutError

hosts, sessions, prefix, stop_file, max_s = (
    sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], float(sys.argv[5]))
lock = threading.Lock()
t0 = time.monotonic()
last_ack = [time.monotonic()]
max_gap = [0.0, 0.0]
results = {}


def ack(path):
    now = time.monotonic()
    with lock:
        if now - last_ack[0] > max_gap[0]:
            max_gap[0], max_gap[1] = now - last_ack[0], now - t0
        last_ack[0] = now
        print("ACK", path, "%.2f" % (now - t0), flush=True)


def worker(k, started):
    expired = []

    def listener(state):
        if state == KazooState.LOST:
            expired.append(time.monotonic())

    zk = KazooClient(hosts=hosts, timeout=15,
                     connection_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1},
                     command_retry={"max_tries": -1, "delay": 0.1, "max_delay": 1})
    zk.add_listener(listener)
    zk.start(timeout=60)
    sid = zk.client_id[0]
    zk.ensure_path(prefix)
    eph = "%s/eph-%d" % (prefix, k)
    zk.create(eph, b"%d" % k, ephemeral=True)
    mine = "%s/set-%d" % (prefix, k)
    zk.ensure_path(mine)
    started.release()
    end = time.monotonic() + max_s
    i = 0
    while time.monotonic() < end and not os.path.exists(stop_file):
        i += 1
        try:
            p = zk.create("%s/w-%d-" % (prefix, k), b"v%d" % i, sequence=True)
            ack(p)
            zk.set(mine, b"%d" % i)
            ack(mine)
        except (KazooException, KazooTimeoutError):
            time.sleep(0.05)
    ok = not expired and zk.client_id is not None and zk.client_id[0] == sid
    try:
        ok = ok and zk.exists(eph) is not None
    except Exception as e:
        results[k] = "ERROR %s" % type(e).__name__
        return
    results[k] = "ok" if ok else "EXPIRED"
    clients[k] = zk


clients = {}
started = threading.Semaphore(0)
threads = [threading.Thread(target=worker, args=(k, started), daemon=True) for k in range(sessions)]
for t in threads:
    t.start()
for _ in threads:
    started.acquire()
print("STARTED", flush=True)
for t in threads:
    t.join()
for k in range(sessions):
    print("SESSION", k, results.get(k, "NO RESULT"), flush=True)
print("GAP %.2f %.1f" % (max_gap[0], max_gap[1]), flush=True)
print("HOLDING", flush=True)
while not os.path.exists(stop_file + ".close"):
    time.sleep(0.1)
for zk in clients.values():
    zk.stop()
