"""A session on a follower outlives the leader: the client is connected to a follower,
holds an ephemeral node, the leader is killed (its pid is given), and after the ensemble
elects a new leader the same session still holds the node, without expiring."""
import os
import signal
import sys
import time

from kazoo.client import KazooClient, KazooState

hosts, leader_pid = sys.argv[1], int(sys.argv[2])
states = []
zk = KazooClient(hosts=hosts, timeout=10)
zk.add_listener(lambda s: states.append(s))
zk.start(timeout=30)
sid = zk.client_id[0]
zk.create("/held", b"mine", ephemeral=True)
os.kill(leader_pid, signal.SIGKILL)
deadline = time.time() + 30
while time.time() < deadline:
    try:
        zk.sync("/")
        if zk.exists("/held") and zk.connected:
            break
    except Exception:
        pass
    time.sleep(0.2)
print("session", "same" if zk.client_id[0] == sid else "changed")
print("held", zk.exists("/held") is not None)
print("lost", KazooState.LOST in states)
zk.create("/after", b"x")
print("write ok")
zk.stop()
