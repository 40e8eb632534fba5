"""Observers that sync from followers (observerMasterPort), seen by kazoo and the
four-letter words. Prints one line per observation so that the test can compare the lines
for every observer (ZooKeeper's and ferrozk's, on ZooKeeper's and on ferrozk's voters).

  observer_master_checks.py run <observers> <leader> <followers>

<observers>: the observers, comma-separated, each as sid=host:port=admin (client address,
AdminServer port or 0 for none).
<leader>: the leader's client address.
<followers>: the followers, comma-separated, each as sid=host:port=pid=admin.

Steps: each observer syncs from a follower (not the leader); every observer is counted by
the followers' synced_observers; through each observer: writes, an ephemeral, a sequential
node, a multi, errors, a watch fired by a write through the leader, sync and read, and a
session idle for longer than its timeout that stays alive (its pings reach the leader
through the follower); then the follower the first observer syncs from is killed, and every
observer serves again with its sessions and ephemerals kept.
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.request

from fourletter import four
from kazoo.client import KazooClient
from kazoo.exceptions import BadVersionError, NodeExistsError


def mntr(host):
    out = {}
    for line in four(host, "mntr", quiet=True).splitlines():
        k, _, v = line.partition("\t")
        out[k] = v
    return out


def mode(host):
    for line in four(host, "srvr", quiet=True).splitlines():
        if line.startswith("Mode:"):
            return line.split()[1]
    return None


def wait(what, f, within=90):
    deadline = time.time() + within
    while time.time() < deadline:
        v = f()
        if v:
            return v
        time.sleep(0.2)
    raise SystemExit(f"timed out waiting for {what}")


def client(host, timeout=10.0):
    zk = KazooClient(hosts=host, timeout=timeout)
    zk.start(timeout=60)
    return zk


def master_of(host):
    v = mntr(host).get("zk_observer_master_id")
    return int(v) if v not in (None, "", "-1") else None


def admin(port, command):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/commands/{command}", timeout=10) as r:
        return json.load(r)


def run(observers, leader, followers):
    last_sid = observers[-1].split("=")[0]
    obs_admin = [int(o.split("=")[2]) for o in observers]
    observers = [o.split("=")[1] for o in observers]
    fol = {}
    fol_admin = []
    for f in followers:
        sid, addr, pid, port = f.split("=")
        fol[int(sid)] = (addr, int(pid))
        if int(port):
            fol_admin.append((int(sid), int(port), addr))
    out = []
    # Each observer serves, syncing from a follower.
    for i, o in enumerate(observers):
        wait(f"observer {i} serving", lambda: mode(o) == "observer")
        m = wait(f"observer {i} naming its master", lambda: master_of(o))
        out.append(f"observer {i}: syncs from a follower: {m in fol}")
    total = wait(
        "every observer counted by the followers",
        lambda: (lambda n: n if n == len(observers) else None)(
            sum(int(mntr(a).get("zk_synced_observers", "0")) for a, _ in fol.values())
        ),
    )
    out.append(f"followers count every observer: {total == len(observers)}")
    # The AdminServer: an observer's `leader` names the follower it syncs from; the followers'
    # `observers` count them all; `zabstate` and `voting_view` (with reconfigEnabled, as here,
    # the active configuration is the versioned one, which names no client address: zabstate's
    # client_address is null).
    def zab(port, sid):
        z = admin(port, "zabstate")
        hosts = z["quorum_address"]["all_host_strings"] == [f"127.0.0.{10 + sid}"]
        return (f"is_leader {z['is_leader']}, voting {z['voting']}, zabstate {z['zabstate']}, "
                f"myid right {z['myid'] == sid}, quorum host right {hosts}, "
                f"election host right {z['election_address']['one'].startswith(f'127.0.0.{10 + sid}:')}, "
                f"client address {z['client_address']}")

    obs_sids = [int(o.split("=")[0]) for o in sys.argv[2].split(",")]
    for i, o in enumerate(observers):
        if obs_admin[i]:
            a, m = admin(obs_admin[i], "leader"), master_of(o)
            out.append(f"observer {i}: admin leader: is_leader {a['is_leader']}, names its master "
                       f"{a['leader_id'] == m}, at its host {a['leader_ip'] == f'127.0.0.{10 + m}'}")
            out.append(f"observer {i}: admin zabstate: {zab(obs_admin[i], obs_sids[i])}")
    for sid, port, addr in sorted(fol_admin):
        out.append(f"admin zabstate of a follower: {zab(port, sid)}")
        view = admin(port, "voting_view")["current_config"]
        # With reconfigEnabled (as here) the active configuration is the versioned one, which
        # names no client address, not even the member's own.
        out.append("admin voting_view of a follower: voters %s, types %s, hosts right %s, "
                   "no client addresses %s" % (
                       sorted(view), sorted({v["learner_type"] for v in view.values()}),
                       all(v["server_addresses"] == [f"127.0.0.{10 + int(k)}:" + v["server_addresses"][0].rsplit(":", 1)[1]]
                           for k, v in view.items()),
                       all(v["client_address"] == "" for v in view.values())))
    counted = sum(admin(p, "observers")["synced_observers"] for _, p, _ in fol_admin)
    out.append(f"admin observers on the followers count every observer: {counted == len(observers)}")
    lz = client(leader)
    kept = []
    for i, o in enumerate(observers):
        lz.ensure_path(f"/om{i}")
        p = f"/om{i}/n"
        # Long enough to outlast the move to another follower below.
        zk = client(o, timeout=20.0)
        zk.create(p, b"v1")
        st = zk.set(p, b"v2")
        out.append(f"observer {i}: set version {st.version}")
        data, st = zk.get(p)
        out.append(f"observer {i}: read {data!r} version {st.version}")
        eph = zk.create(p + "-eph", b"e", ephemeral=True)
        seq = zk.create(p + "-seq-", b"s", sequence=True)
        out.append(f"observer {i}: sequential suffix {seq[len(p) + 5:]}")
        lz.sync(eph)
        out.append(f"observer {i}: ephemeral seen by the leader: {lz.exists(eph) is not None}")
        try:
            zk.create(p, b"again")
        except NodeExistsError:
            out.append(f"observer {i}: create existing: NodeExistsError")
        try:
            zk.set(p, b"x", version=7)
        except BadVersionError:
            out.append(f"observer {i}: set bad version: BadVersionError")
        t = zk.transaction()
        t.create(p + "-m", b"m")
        t.check(p, 1)
        t.set_data(p, b"v3")
        res = t.commit()
        out.append(f"observer {i}: multi {[type(r).__name__ for r in res]}")
        fired = threading.Event()
        events = []

        def watcher(ev, events=events, fired=fired):
            events.append(ev.type)
            fired.set()

        zk.get(p, watch=watcher)
        lz.set(p, b"from-leader")
        fired.wait(20)
        out.append(f"observer {i}: watch {events}")
        zk.sync(p)
        out.append(f"observer {i}: after sync {zk.get(p)[0]!r}")
        # sync then read: the leader's write is there, every time (the SYNC answer is relayed
        # after the writes committed before it).
        fresh = 0
        for k in range(20):
            lz.set(p, b"w%d" % k)
            zk.sync(p)
            fresh += zk.get(p)[0] == b"w%d" % k
        out.append(f"observer {i}: sync then read saw the leader's write {fresh} of 20 times")
        kept.append((zk, eph, p))
    # Sessions of 4 s idle for 10 s: alive only if their pings reach the leader.
    short = []
    for i, o in enumerate(observers):
        c = client(o, timeout=4.0)
        short.append((c, c.create(f"/om{i}/short", b"s", ephemeral=True)))
    time.sleep(10)
    for i, (c, path) in enumerate(short):
        lz.sync(path)
        out.append(f"observer {i}: idle session's ephemeral alive: {lz.exists(path) is not None}")
        c.stop()
        c.close()
        gone = wait(f"observer {i} closed session's ephemeral gone",
                    lambda: lz.sync(path) is not None and lz.exists(path) is None, 30)
        out.append(f"observer {i}: closed session's ephemeral gone: {gone}")
    # The follower the first observer syncs from dies: every observer serves again.
    victim = master_of(observers[0])
    os.kill(fol[victim][1], signal.SIGKILL)
    for i, o in enumerate(observers):
        def back(o=o):
            m = master_of(o)
            return mode(o) == "observer" and m is not None and m != victim
        wait(f"observer {i} serving again", back, 120)
        m = master_of(o)
        live = m in fol and m != victim
        out.append(f"observer {i}: after the kill syncs from the live follower: {live}")
    for i, (zk, eph, p) in enumerate(kept):
        wait(f"observer {i} client reconnected", lambda zk=zk: zk.connected, 60)
        zk.set(p, b"after")
        lz.sync(p)
        out.append(f"observer {i}: write after the kill seen by the leader: {lz.get(p)[0]!r}")
        out.append(f"observer {i}: ephemeral kept: {lz.exists(eph) is not None}")
        zk.stop()
        zk.close()
    # The last observer is removed: the others learn it (INFORMANDACTIVATE through their
    # follower) and keep serving.
    sid = last_sid
    lz.reconfig(joining=None, leaving=sid, new_members=None)
    for i, o in enumerate(observers[:-1]):
        def learnt(o=o):
            try:
                c = KazooClient(hosts=o, timeout=10.0)
                c.start(timeout=10)
                try:
                    c.sync("/zookeeper/config")
                    return f"server.{sid}=" not in c.get("/zookeeper/config")[0].decode()
                finally:
                    c.stop()
                    c.close()
            except Exception:
                return False
        gone = wait(f"observer {i} learning the removal", learnt, 60)
        out.append(f"observer {i}: the removed observer is gone from its configuration: {gone}")
    lz.stop()
    lz.close()
    print("\n".join(out))


if __name__ == "__main__":
    if len(sys.argv) != 5 or sys.argv[1] != "run":
        raise SystemExit(__doc__)
    run(sys.argv[2].split(","), sys.argv[3], sys.argv[4].split(","))
