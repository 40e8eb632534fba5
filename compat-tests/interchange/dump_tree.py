#!/usr/bin/python3
"""Dump a server's whole tree (including /zookeeper and its children) as JSON, sorted by path.

usage: dump_tree.py <host:port> [--no-4lw] > tree.json

Per node: path, data (hex string; JSON null when the server says the data is null, i.e. a -1
buffer length, which kazoo reports as None — so null and empty ARE distinguished), the full
Stat (czxid, mzxid, ctime, mtime, version, cversion, aversion, ephemeralOwner, dataLength,
numChildren, pzxid) and the ACL list in server order ([perms, scheme, id]).

The dumper authenticates as super (digest super:superpw, see zk-on-datadir.sh), alice and bob,
so every node is readable whatever its ACL. A node it cannot read is written with an "error"
field and the exit status is 3.

"facts" holds what does not depend on the dumper's session:
  * zxid_first / zxid_last: the zxid in the reply headers of the dumper's first and last
    read. A read reply carries the server's last processed zxid, which is the dumper's own
    createSession txn. zxid_first != zxid_last means somebody wrote during the dump (exit 4).
    The dumper's session is closed at the end (closeSession: one more zxid). So for two dumps
    A, B of the same server state with nothing else in between (e.g. restart in between),
    B.zxid_first == A.zxid_first + 2 (compare_trees.py --consecutive checks that).
  * ephemeral_owners: {sessionId(hex): [paths]} derived from the nodes.
  * node_count.
"info" (never compared): the dumper's session id and timeout, the server's `srvr` answer if it
serves four-letter words, elapsed time.
"""
import argparse
import json
import os
import socket
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ixcommon import ALICE_AUTH, BOB_AUTH, SUPER_AUTH, connect
from kazoo.exceptions import KazooException

STAT_FIELDS = ("czxid", "mzxid", "ctime", "mtime", "version", "cversion", "aversion",
               "ephemeralOwner", "dataLength", "numChildren", "pzxid")


def four_letter(hostport, word, timeout=3.0):
    host, port = hostport.rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=timeout) as sk:
            sk.sendall(word.encode())
            out = b""
            while True:
                b = sk.recv(65536)
                if not b:
                    break
                out += b
        return out.decode(errors="replace")
    except OSError:
        return None


def stat_dict(st):
    return {f: getattr(st, f) for f in STAT_FIELDS}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("hostport")
    ap.add_argument("--no-4lw", action="store_true", help="do not ask `srvr`")
    args = ap.parse_args()
    t0 = time.time()
    srvr = None if args.no_4lw else four_letter(args.hostport, "srvr")

    zk = connect(args.hostport, 10000, [SUPER_AUTH, ALICE_AUTH, BOB_AUTH])
    zk.exists("/")
    zxid_first = zk.last_zxid
    nodes = {}
    errors = 0
    level = ["/"]
    while level:
        reqs = [(p, zk.get_async(p), zk.get_acls_async(p), zk.get_children_async(p)) for p in level]
        nxt = []
        for p, rg, ra, rc in reqs:
            try:
                data, st = rg.get(timeout=60)
                acl, st2 = ra.get(timeout=60)
                kids = rc.get(timeout=60)
            except KazooException as e:
                errors += 1
                nodes[p] = {"path": p, "error": type(e).__name__}
                print("dump_tree: %s: %s" % (p, type(e).__name__), file=sys.stderr)
                continue
            if stat_dict(st) != stat_dict(st2):
                print("dump_tree: %s changed during the dump" % p, file=sys.stderr)
                errors += 1
            nodes[p] = {
                "path": p,
                "data": None if data is None else data.hex(),
                "stat": stat_dict(st),
                "acl": [[a.perms, a.id.scheme, a.id.id] for a in acl],
            }
            nxt.extend((p.rstrip("/") + "/" + k) for k in kids)
        level = nxt
    zk.exists("/")
    zxid_last = zk.last_zxid
    info = {"session": "0x%x" % zk._session_id, "session_timeout": zk._session_timeout}
    zk.stop()
    zk.close()

    owners = {}
    for n in nodes.values():
        eo = n.get("stat", {}).get("ephemeralOwner", 0)
        # containers (0x8000000000000000) and TTL nodes (0xFF.. | ttl) use the field too
        if eo and eo > 0:
            owners.setdefault("0x%x" % eo, []).append(n["path"])
    for v in owners.values():
        v.sort()
    info["elapsed_s"] = round(time.time() - t0, 3)
    if srvr is not None:
        info["srvr"] = srvr.strip().splitlines()
    facts = {"zxid_first": zxid_first, "zxid_last": zxid_last,
             "node_count": len(nodes), "ephemeral_owners": owners}

    out = sys.stdout
    out.write('{"format": "ferrozk-interchange-dump/1",\n "facts": %s,\n "info": %s,\n "nodes": [\n'
              % (json.dumps(facts, sort_keys=True), json.dumps(info, sort_keys=True)))
    out.write(",\n".join(json.dumps(nodes[p], sort_keys=True) for p in sorted(nodes)))
    out.write("\n]}\n")
    out.flush()
    print("dump_tree: %d nodes, zxid 0x%x, %.1fs" % (len(nodes), zxid_first, time.time() - t0),
          file=sys.stderr)
    if errors:
        sys.exit(3)
    if zxid_first != zxid_last:
        print("dump_tree: the tree changed during the dump (zxid 0x%x -> 0x%x)"
              % (zxid_first, zxid_last), file=sys.stderr)
        sys.exit(4)


if __name__ == "__main__":
    main()
