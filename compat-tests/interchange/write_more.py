#!/usr/bin/python3
"""Second batch of writes on a tree built by build_tree.py: meant to run against the server that
took over the dataDir (ferrozk after Java, or Java after Java in java_to_java.sh), before the
dataDir is handed back.

usage: write_more.py <host:port> [--txns N] [--session-timeout MS] [--sessions F] [--seed S]

Writes (under /itest): creates (null / empty / small data, sequential, a container with a child,
a TTL node with a child), setData on build_tree's nodes (null -> data, empty -> null, versions),
deletes (including the only child of a container, leaving it empty: the reaper is off),
a multi, a failing multi, failed single writes, setACL (aversion 2 -> 3), N (default 300) small
txns under /itest/more/bulk, and a NEW session left open with ephemerals (os._exit at the end).

--sessions F (written by build_tree.py --sessions-out): resume session E1 with its id and
password and close it (closeSession deleting its ephemerals, one of them in a container), and
resume E3 and give it one more ephemeral. The server must accept the resume: the session was
created by the previous server and restored from the dataDir, and the password is a function
of the session id (ZooKeeper: java.util.Random seeded with sessionId ^ 0xB3415C00). A resume
that ends in a new session (the server said "expired") is reported and exits 3.
Prints a summary on stdout.
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ixcommon import (expect, ALICE_AUTH, CONTAINER, OPEN, PERSISTENT_WITH_TTL, CreateContainer, CreateTTL,
                      Multi, call, connect, digest_id)
from kazoo.client import KazooClient
from kazoo.exceptions import (BadVersionError, NodeExistsError, NoNodeError, NotEmptyError,
                              RolledBackError)
from kazoo.protocol.serialization import CheckVersion, Create, Delete, SetData
from kazoo.security import ACL, Id



def resume(hp, name, info):
    zk = KazooClient(hosts=hp, timeout=info["timeout"] / 1000.0,
                     client_id=(info["id"], bytes.fromhex(info["passwd"])),
                     connection_retry=None, command_retry=None)
    zk.start(timeout=20)
    if zk.client_id[0] != info["id"]:
        print("write_more: resuming %s 0x%x failed: the server gave a new session 0x%x "
              "(it considered the old one expired or the password wrong)"
              % (name, info["id"], zk.client_id[0]), file=sys.stderr)
        sys.stdout.flush()
        os._exit(3)
    return zk


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hostport")
    ap.add_argument("--txns", type=int, default=300)
    ap.add_argument("--session-timeout", type=int, default=40000)
    ap.add_argument("--sessions", help="build_tree.py --sessions-out file: resume E1 (close) and E3")
    ap.add_argument("--seed", type=int, default=777)
    args = ap.parse_args()
    t0 = time.time()
    hp = args.hostport
    rnd = random.Random(args.seed)
    alice = digest_id(ALICE_AUTH[1])
    w = connect(hp, args.session_timeout, [ALICE_AUTH])

    resumed = []
    if args.sessions:
        with open(args.sessions) as f:
            sess = json.load(f)
        e1 = resume(hp, "E1", sess["E1"])
        e1.get("/itest/eph/e1-a")          # the ephemeral is still there, owned by E1
        e1.stop()                          # closeSession: deletes E1's 5 ephemerals
        e1.close()
        e3 = resume(hp, "E3", sess["E3"])
        e3.create("/itest/eph/e3-more", b"created after the resume", ephemeral=True)
        resumed = ["E1 0x%x (closed)" % sess["E1"]["id"], "E3 0x%x (kept open)" % sess["E3"]["id"]]

    w.create("/itest/more", None)
    w.create("/itest/more/null", None)
    w.create("/itest/more/empty", b"")
    w.create("/itest/more/small", b"written by the second server")
    w.create("/itest/more/s-", b"seq", sequence=True)
    w.create("/itest/more/s-", None, sequence=True)
    call(w, CreateContainer("/itest/more/cont", b"container", OPEN, CONTAINER))
    w.create("/itest/more/cont/child", b"c")
    call(w, CreateTTL("/itest/more/ttl", b"ttl", OPEN, PERSISTENT_WITH_TTL, 99999999))
    w.create("/itest/more/ttl/child", None)
    w.create("/itest/more/acl", b"acl", acl=[ACL(31, Id("digest", alice)), ACL(1, Id("world", "anyone"))])

    w.set("/itest/ver", b"v7")
    w.set("/itest/ver", b"v8", version=7)
    w.set("/itest/data/null", b"not null any more")
    w.set("/itest/data/empty", None)
    w.set("/itest/data/one", b"")
    w.set("/itest/data/kb", bytes(rnd.getrandbits(8) for _ in range(4000)))
    w.set_acls("/itest/acl/setacl", [ACL(31, Id("world", "anyone"))], version=2)
    w.set_acls("/itest/more/acl", [ACL(31, Id("ip", "127.0.0.1"))])

    w.delete("/itest/del/c0/g2")
    w.delete("/itest/del/c2")
    w.delete("/itest/seq/plain")
    w.delete("/itest/containers/c1/keep")      # c1 is now an empty container (not reaped: reaper off)
    w.delete("/itest/ttl/t1/child")            # t1 is now an empty TTL node (1 h TTL, reaper off)

    res = call(w, Multi([
        Create("/itest/more/m1", b"m1", OPEN, 0),
        SetData("/itest/more/m1", None, -1),
        CheckVersion("/itest/more/m1", 1),
        Create("/itest/more/s-", b"seq in multi", OPEN, 2),
        Delete("/itest/del/c4", -1),
        CreateContainer("/itest/more/cont2", None, OPEN, CONTAINER),
        Create("/itest/more/cont2/x", b"x", OPEN, 0),
    ]))
    assert not any(isinstance(r, Exception) for r in res), res
    res = call(w, Multi([Delete("/itest/more/m1", -1), Delete("/itest/more", -1)]))   # NotEmpty
    assert isinstance(res[0], RolledBackError) and isinstance(res[1], NotEmptyError), res
    expect(NodeExistsError, w.create, "/itest/more")
    expect(NoNodeError, w.set, "/itest/more/none", b"x")
    expect(BadVersionError, w.delete, "/itest/ver", version=1)

    # new session left open with ephemerals
    s2 = connect(hp, args.session_timeout)
    s2.create("/itest/eph/w2", b"ephemeral of a session created by the second server", ephemeral=True)
    s2.create("/itest/more/w2-seq-", None, ephemeral=True, sequence=True)

    # bulk
    w.create("/itest/more/bulk")
    live = []
    pending = []
    n = 0
    while n < args.txns:
        x = rnd.random()
        if x < 0.3 or len(live) < 20:
            p = "/itest/more/bulk/n%04d" % n
            pending.append(w.create_async(p, b"%d" % n))
            live.append(p)
        elif x < 0.85:
            pending.append(w.set_async(rnd.choice(live), b"x" * rnd.randrange(0, 40)))
        else:
            pending.append(w.delete_async(live.pop(rnd.randrange(len(live)))))
        n += 1
        if len(pending) >= 64:
            for ar in pending:
                ar.get(timeout=60)
            pending = []
    for ar in pending:
        ar.get(timeout=60)

    w.set("/itest/more", b"done")
    zxid = w.last_zxid
    w.stop()
    w.close()
    print("write_more: %d bulk txns, last zxid of the writer 0x%x (+1 closeSession), %.1fs; "
          "left open: W2=0x%x(%dms)%s" % (n, zxid, time.time() - t0, s2._session_id,
                                          s2._session_timeout,
                                          "; resumed: " + ", ".join(resumed) if resumed else ""))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
