#!/usr/bin/python3
"""Build the interchange test tree on a running server (normally Java ZooKeeper 3.8 started by
zk-on-datadir.sh with snapCount=100, so the txns below produce several snapshots and log rolls).

usage: build_tree.py <host:port> [--txns N] [--session-timeout MS] [--seed S] [--sessions-out F]

What it writes, all under /itest (plus data on "/"):
  * every node kind: persistent, ephemeral, persistent-sequential, ephemeral-sequential,
    container (each with a child, so none is reapable; the reaper is off anyway), TTL and
    sequential-TTL (TTLs of 1 h .. 2^40-1 ms; the 1 ms one has a child, so nothing is
    reapable even with the reaper on);
  * data of size null, 0, 1, 256 (all byte values), 3 KB, ~500 KB (created, then replaced);
  * ACLs: world:anyone with several perm sets, digest (alice, bob), auth (expands to alice's
    digest), ip:127.0.0.1, ip CIDRs, ACLs nobody but super can read (ip:10.1.2.0/24,
    digest:nobody), a node whose ACL was set twice (aversion 2);
  * setData chains (version 6), deletes (cversion/pzxid), multis (one with container/TTL
    creates inside, one that fails and is logged as error txns), failed single writes (each
    consumes a zxid: NodeExists, NoNode, NotEmpty, BadVersion, NoChildrenForEphemerals);
  * N (default 2000) more small txns over ~300 nodes in /itest/bulk (setData, delete/recreate,
    sequential creates, multis, setACL) pipelined asynchronously;
  * four sessions that are LEFT OPEN on exit (os._exit, no closeSession) with ephemerals:
    E1, E2, E3 created before the bulk phase (in snapshots), E4 created at the very end
    (its createSession is only in the newest txn log). Their timeouts are MS, MS-2000,
    MS-4000, MS-6000 (default MS=40000, ZooKeeper's max for tickTime=2000).
    They expire ~timeout after the last contact (or after a server restart).
  * the main session (alice) has an ephemeral too and is closed normally (closeSession
    deletes it).
Prints a summary (zxid reached, open session ids) on stdout. --sessions-out F writes the open
sessions' ids, passwords and timeouts as JSON, so that write_more.py can resume two of them
(a client reconnecting with its session id + password after the server changed).
"""
import argparse
import json
import os
import random
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ixcommon import (expect, ALICE_AUTH, BOB_AUTH, CONTAINER, MAX_TTL, OPEN, PERSISTENT_SEQUENTIAL_WITH_TTL,
                      PERSISTENT_WITH_TTL, CreateContainer, CreateTTL, Multi, call, connect,
                      digest_id)
from kazoo.exceptions import (BadVersionError, NoAuthError, NoChildrenForEphemeralsError,
                              NodeExistsError, NoNodeError, NotEmptyError, RolledBackError)
from kazoo.protocol.serialization import CheckVersion, Create, Delete, SetData
from kazoo.security import ACL, Id

R, W, C, D, A = 1, 2, 4, 8, 16
ALL = 31



def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hostport")
    ap.add_argument("--txns", type=int, default=2000)
    ap.add_argument("--session-timeout", type=int, default=40000)
    ap.add_argument("--seed", type=int, default=20240601)
    ap.add_argument("--sessions-out", help="write the open sessions (id, password, timeout) here")
    args = ap.parse_args()
    t0 = time.time()
    rnd = random.Random(args.seed)
    hp = args.hostport
    alice = digest_id(ALICE_AUTH[1])
    bob = digest_id(BOB_AUTH[1])

    s = connect(hp, args.session_timeout, [ALICE_AUTH])
    s.set("/", b"root-data")
    s.create("/itest", b"interchange")

    # ---- data sizes
    s.create("/itest/data", None)                       # null data
    s.create("/itest/data/null", None)
    s.create("/itest/data/empty", b"")
    s.create("/itest/data/one", b"1")
    s.create("/itest/data/binary", bytes(range(256)))
    s.create("/itest/data/kb", bytes(rnd.getrandbits(8) for _ in range(3000)))
    s.create("/itest/data/utf8", "h\u00e9llo \u2713 \U0001F600".encode())
    big1 = bytes(rnd.getrandbits(8) for _ in range(500 * 1024))
    s.create("/itest/data/big", big1)
    s.set("/itest/data/big", big1[::-1][:500 * 1024 - 7])
    s.create("/itest/data/to-null", b"had data")
    s.set("/itest/data/to-null", None)                  # setData to null
    s.create("/itest/data/to-empty", None)
    s.set("/itest/data/to-empty", b"")

    # ---- ACLs
    s.create("/itest/acl")
    s.create("/itest/acl/world-r", b"r", acl=[ACL(R, Id("world", "anyone"))])
    s.create("/itest/acl/world-rw", b"rw", acl=[ACL(R | W, Id("world", "anyone"))])
    s.create("/itest/acl/world-cdr", b"cdr", acl=[ACL(C | D | R, Id("world", "anyone"))])
    s.create("/itest/acl/world-ra", b"ra", acl=[ACL(R | A, Id("world", "anyone"))])
    s.create("/itest/acl/digest-alice", b"alice only", acl=[ACL(ALL, Id("digest", alice))])
    s.create("/itest/acl/auth", b"auth scheme", acl=[ACL(ALL, Id("auth", ""))])
    s.create("/itest/acl/digest-bob-world-r", b"bob + world r",
             acl=[ACL(ALL, Id("digest", bob)), ACL(R, Id("world", "anyone"))])
    s.create("/itest/acl/ip-local", b"127.0.0.1", acl=[ACL(ALL, Id("ip", "127.0.0.1"))])
    s.create("/itest/acl/ip-local/child", b"created through the ip ACL")
    s.create("/itest/acl/cidr", b"cidr",
             acl=[ACL(R | W | C, Id("ip", "127.0.0.0/8")), ACL(R, Id("world", "anyone"))])
    s.create("/itest/acl/ip-other", b"super only", acl=[ACL(ALL, Id("ip", "10.1.2.0/24"))])
    s.create("/itest/acl/nobody", None, acl=[ACL(ALL, Id("digest", "nobody:AAAAAAAAAAAAAAAAAAAAAAAAAAA="))])
    s.create("/itest/acl/mixed", b"mixed", acl=[
        ACL(R, Id("world", "anyone")), ACL(W | A, Id("digest", alice)),
        ACL(C | D, Id("ip", "127.0.0.1")), ACL(ALL, Id("digest", bob))])
    s.create("/itest/acl/setacl", b"acl set twice")
    s.set_acls("/itest/acl/setacl", [ACL(R | A, Id("world", "anyone"))])
    s.set_acls("/itest/acl/setacl", [ACL(ALL, Id("digest", alice)), ACL(R | C, Id("world", "anyone"))],
               version=1)

    # ---- versions
    s.create("/itest/ver", b"v0")
    for i in range(1, 6):
        s.set("/itest/ver", b"v%d" % i)
    s.set("/itest/ver", b"v6", version=5)

    # ---- sequential
    s.create("/itest/seq")
    seqs = [s.create("/itest/seq/p-", b"%d" % i, sequence=True) for i in range(5)]
    s.delete(seqs[1])
    s.create("/itest/seq/plain")
    s.create("/itest/seq/p-", None, sequence=True)

    # ---- deletes: cversion / pzxid
    s.create("/itest/del")
    for i in range(10):
        s.create("/itest/del/c%d" % i, b"%d" % i)
    for i in (1, 3, 5, 7):
        s.delete("/itest/del/c%d" % i)
    s.create("/itest/del/c0/g1")
    s.create("/itest/del/c0/g2")
    s.delete("/itest/del/c0/g1")
    s.create("/itest/del/gone/a/b", makepath=True)
    s.delete("/itest/del/gone", recursive=True)

    # ---- containers (each has a persistent or ephemeral child)
    s.create("/itest/containers")
    call(s, CreateContainer("/itest/containers/c1", b"container 1", OPEN, CONTAINER))
    s.create("/itest/containers/c1/keep", b"k")
    call(s, CreateContainer("/itest/containers/c2", None, OPEN, CONTAINER))
    call(s, CreateContainer("/itest/containers/c2/inner", b"", OPEN, CONTAINER))
    s.create("/itest/containers/c2/inner/leaf", b"leaf")
    call(s, CreateContainer("/itest/containers/c3", b"holds an ephemeral", OPEN, CONTAINER))
    call(s, CreateContainer("/itest/containers/c4", b"had a child once", OPEN, CONTAINER))
    s.create("/itest/containers/c4/x")
    s.create("/itest/containers/c4/y")
    s.delete("/itest/containers/c4/x")

    # ---- TTL nodes (huge TTLs; one with a child)
    s.create("/itest/ttl")
    call(s, CreateTTL("/itest/ttl/t1", b"ttl 1h, has a child", OPEN, PERSISTENT_WITH_TTL, 3600000))
    s.create("/itest/ttl/t1/child", b"c")
    call(s, CreateTTL("/itest/ttl/t2", b"max ttl", OPEN, PERSISTENT_WITH_TTL, MAX_TTL))
    call(s, CreateTTL("/itest/ttl/s-", b"seq ttl", OPEN, PERSISTENT_SEQUENTIAL_WITH_TTL, 86400000))
    call(s, CreateTTL("/itest/ttl/t3", None, [ACL(R | C, Id("world", "anyone"))], PERSISTENT_WITH_TTL, 1))
    s.create("/itest/ttl/t3/child", None)               # 1 ms TTL, but not empty

    # ---- multis
    s.create("/itest/multi")
    res = call(s, Multi([
        Create("/itest/multi/m1", b"m1", OPEN, 0),
        Create("/itest/multi/s-", None, OPEN, 2),
        SetData("/itest/multi/m1", b"m1 v1", -1),
        CheckVersion("/itest/multi/m1", 1),
        CreateContainer("/itest/multi/cont", b"container in multi", OPEN, CONTAINER),
        Create("/itest/multi/cont/child", b"", OPEN, 0),
        CreateTTL("/itest/multi/ttl", b"ttl in multi", OPEN, PERSISTENT_WITH_TTL, 7200000),
        Create("/itest/multi/tmp", b"tmp", OPEN, 0),
        Delete("/itest/multi/tmp", -1),
    ]))
    assert not any(isinstance(r, Exception) for r in res), res
    res = call(s, Multi([                                # fails: logged as a multi of errors
        Create("/itest/multi/never", b"x", OPEN, 0),
        CheckVersion("/itest/multi/m1", 99),
        SetData("/itest/multi/m1", b"never", -1),
    ]))
    assert isinstance(res[0], RolledBackError) and isinstance(res[1], BadVersionError), res
    call(s, Multi([Delete("/itest/multi/m1", -1), Create("/itest/multi/m1", b"again", OPEN, 0)]))

    # ---- failed single writes (each is an error txn with its own zxid in ZooKeeper)
    expect(NodeExistsError, s.create, "/itest")
    expect(NoNodeError, s.delete, "/itest/no-such-node")
    expect(NotEmptyError, s.delete, "/itest/del")
    expect(BadVersionError, s.set, "/itest/ver", b"x", version=0)
    expect(NoNodeError, s.create, "/itest/no/parent")

    # ---- sessions left open (E1..E3 now, E4 at the end)
    st = args.session_timeout
    e1 = connect(hp, st)
    e2 = connect(hp, max(4000, st - 2000), [BOB_AUTH])
    e3 = connect(hp, max(4000, st - 4000))
    s.create("/itest/eph")
    e1.create("/itest/eph/e1-a", b"e1", ephemeral=True)
    e1.create("/itest/eph/e1-b", None, ephemeral=True)
    e1.create("/itest/eph/seq-", b"e1 seq", ephemeral=True, sequence=True)
    e1.create("/itest/containers/c3/eph", b"ephemeral in a container", ephemeral=True)
    e2.create("/itest/eph/e2-bob", b"bob's", ephemeral=True, acl=[ACL(ALL, Id("digest", bob))])
    e2.create("/itest/eph/seq-", b"e2 seq", ephemeral=True, sequence=True)
    expect(NoChildrenForEphemeralsError, e2.create, "/itest/eph/e2-bob/child")
    call(e3, Multi([Create("/itest/e3-top", b"e3 in multi", OPEN, 1),
                    Create("/itest/eph/seq-", b"e3 seq", OPEN, 3)]))
    s.create("/itest/eph/main-session", b"deleted by closeSession", ephemeral=True)

    # ---- bulk: N small txns over ~300 nodes, pipelined
    nbulk = args.txns
    done = 0
    pending = []

    def submit(ar):
        nonlocal done
        pending.append(ar)
        done += 1
        if len(pending) >= 64:
            flush()

    def flush():
        for ar in pending:
            try:
                ar.get(timeout=60)
            except (BadVersionError, NodeExistsError, NoNodeError, NotEmptyError, NoAuthError):
                pass  # deliberate failures (error txns)
        del pending[:]

    s.create("/itest/bulk")
    groups = 10
    for g in range(groups):
        submit(s.create_async("/itest/bulk/g%d" % g, b"group %d" % g))
    flush()
    live = []
    for i in range(300):
        if done >= nbulk:
            break
        p = "/itest/bulk/g%d/n%03d" % (i % groups, i)
        submit(s.create_async(p, bytes(rnd.getrandbits(8) for _ in range(rnd.randrange(0, 48)))))
        live.append(p)
    flush()
    dead = []
    while done < nbulk:
        x = rnd.random()
        if x < 0.62 and live:
            p = rnd.choice(live)
            submit(s.set_async(p, b"%d:%s" % (done, p.encode())))
        elif x < 0.70 and len(live) > 50:
            p = live.pop(rnd.randrange(len(live)))
            submit(s.delete_async(p))
            dead.append(p)
        elif x < 0.78 and dead:
            p = dead.pop(rnd.randrange(len(dead)))
            submit(s.create_async(p, None if rnd.random() < 0.2 else b"re-created"))
            live.append(p)
        elif x < 0.86:
            submit(s.create_async("/itest/bulk/g%d/s-" % rnd.randrange(groups), b"", sequence=True))
        elif x < 0.92 and live:
            p = rnd.choice(live)
            submit(s.set_acls_async(p, rnd.choice([OPEN, [ACL(R | W, Id("world", "anyone"))],
                                                   [ACL(ALL, Id("digest", alice)),
                                                    ACL(R, Id("world", "anyone"))]])))
        elif x < 0.97 and len(live) > 2:
            a, b = rnd.sample(live, 2)
            ar = s.handler.async_result()
            s._call(Multi([SetData(a, b"multi %d" % done, -1), SetData(b, None, -1),
                           CheckVersion("/itest", 0)]), ar)
            submit(ar)
        else:  # deliberate failure: error txn
            submit(s.set_async("/itest/ver", b"bad", version=12345))
    flush()

    # ---- late: E4 (createSession only in the newest log), more ephemerals, last writes
    e4 = connect(hp, max(4000, st - 6000))
    e4.create("/itest/eph/e4-late", b"session created after the last snapshot?", ephemeral=True)
    e1.create("/itest/eph/e1-late", b"late", ephemeral=True)
    s.set("/itest/data/kb", b"last write of the main session")
    zxid = s.last_zxid
    sessions = {"E1": e1, "E2": e2, "E3": e3, "E4": e4}
    info = ", ".join("%s=0x%x(%dms)" % (k, v._session_id, v._session_timeout)
                     for k, v in sessions.items())
    if args.sessions_out:
        with open(args.sessions_out, "w") as f:
            json.dump({k: {"id": v._session_id, "passwd": v._session_passwd.hex(),
                           "timeout": v._session_timeout} for k, v in sessions.items()}, f, indent=1)
    s.stop()   # closeSession: removes /itest/eph/main-session
    s.close()
    print("build_tree: %d bulk txns, last zxid of main session 0x%x (+1 closeSession), "
          "%.1fs; sessions left open: %s" % (done, zxid, time.time() - t0, info))
    sys.stdout.flush()
    os._exit(0)  # leave E1..E4 open: no closeSession, their ephemerals stay


if __name__ == "__main__":
    main()
