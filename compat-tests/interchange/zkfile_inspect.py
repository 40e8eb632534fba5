#!/usr/bin/python3
"""Independent byte-level reader of ZooKeeper 3.x data files (txn log `log.<hex>`, snapshot
`snapshot.<hex>`, uncompressed), written from the observed format for the interchange test. It
verifies every checksum and says exactly where and how a file deviates, which the Java tools do
not always do (SnapshotFormatter ignores checksums; TxnLogToolkit prints "CRC ERROR" but exits 0).

usage: zkfile_inspect.py [-v] [--json] FILE...
  -v      one line per txn-log record / per snapshot node
  --json  (snapshot only) print the tree in dump_tree.py's node format, with the PERSISTED stat
          ("raw": cversion counts child creations, ephemeralOwner as stored) and the sessions
exit 0: every file parsed and every checksum matched; 1 otherwise.

Formats (big-endian jute: int 4, long 8, bool 1, buffer/string = int length (-1 = null) + bytes,
vector = int count (-1 = null) + items):

txn log: FileHeader{int magic 'ZKLG', int version 2, long dbid}, then records
  long checksum (Adler32 of the txn bytes, in a long), int length, txn bytes, byte 'B' (0x42)
  txn bytes = TxnHeader{long clientId, int cxid, long zxid, long time, int type} + body
              [+ TxnDigest{int version, long treeDigest} when the server computed one]
  The log ends at the first record whose length is 0 (the file is preallocated with zeros) or
  at end of file; a partial last record is what a crash leaves.
snapshot: FileHeader{int magic 'ZKSN', int version 2, long dbid}, int nSessions, nSessions *
  {long id, int timeout}, int nAcls, nAcls * {long index, vector<ACL{int perms, string scheme,
  string id}>}, nodes {string path, buffer data, long aclIndex, StatPersisted{long czxid,
  mzxid, ctime, mtime, int version, cversion, aversion, long ephemeralOwner, pzxid}} until the
  path "/", then a seal {long Adler32 of every byte so far, string "/"}, then (3.6+, digest
  enabled) ZxidDigest{long zxid, int digestVersion, long digest} and another seal.
"""
import json
import struct
import sys
import zlib

OPS = {0: "notification", 1: "create", 2: "delete", 3: "exists", 4: "getData", 5: "setData",
       7: "setACL", 13: "check", 14: "multi", 15: "create2", 16: "reconfig", 19: "createContainer",
       20: "deleteContainer", 21: "createTTL", -1: "error", -10: "createSession",
       -11: "closeSession"}


class Buf:
    def __init__(self, b, off=0):
        self.b, self.o = b, off

    def need(self, n):
        if self.o + n > len(self.b):
            raise EOFError("need %d bytes at offset %d, file has %d" % (n, self.o, len(self.b)))

    def int(self):
        self.need(4)
        v = struct.unpack_from(">i", self.b, self.o)[0]
        self.o += 4
        return v

    def long(self):
        self.need(8)
        v = struct.unpack_from(">q", self.b, self.o)[0]
        self.o += 8
        return v

    def bool(self):
        self.need(1)
        v = self.b[self.o]
        self.o += 1
        return v != 0

    def buffer(self):
        n = self.int()
        if n < 0:
            return None
        if n > 0x7fffffff or self.o + n > len(self.b):
            raise EOFError("buffer of %d bytes at offset %d overruns" % (n, self.o - 4))
        v = bytes(self.b[self.o:self.o + n])
        self.o += n
        return v

    def string(self):
        v = self.buffer()
        return None if v is None else v.decode("utf-8", "replace")

    def vector(self, item):
        n = self.int()
        if n < 0:
            return None
        return [item() for _ in range(n)]

    def acl(self):
        return [self.int(), self.string(), self.string()]

    def left(self):
        return len(self.b) - self.o


def txn_body(t, r):
    """Parse a txn body of type t; return a short description."""
    if t == -10:
        return "timeout=%d" % r.int()
    if t == -11:
        if r.left() == 0:
            return "(no body)"
        paths = r.vector(r.string)
        return "paths2Delete=%s" % paths
    if t in (1, 15):
        p, d, acl, eph, pcv = r.string(), r.buffer(), r.vector(r.acl), r.bool(), r.int()
        return "%s data=%s acl=%s ephemeral=%s parentCVersion=%d" % (p, dlen(d), acl, eph, pcv)
    if t == 19:
        p, d, acl, pcv = r.string(), r.buffer(), r.vector(r.acl), r.int()
        return "%s data=%s acl=%s parentCVersion=%d" % (p, dlen(d), acl, pcv)
    if t == 21:
        p, d, acl, pcv, ttl = r.string(), r.buffer(), r.vector(r.acl), r.int(), r.long()
        return "%s data=%s acl=%s parentCVersion=%d ttl=%d" % (p, dlen(d), acl, pcv, ttl)
    if t in (2, 20):
        return r.string()
    if t in (5, 16):
        p, d, v = r.string(), r.buffer(), r.int()
        return "%s data=%s version=%d" % (p, dlen(d), v)
    if t == 7:
        p, acl, v = r.string(), r.vector(r.acl), r.int()
        return "%s acl=%s version=%d" % (p, acl, v)
    if t == 13:
        p, v = r.string(), r.int()
        return "%s version=%d" % (p, v)
    if t == -1:
        return "err=%d" % r.int()
    if t == 14:
        parts = []
        for _ in range(r.int()):
            st, data = r.int(), r.buffer()
            sub = Buf(data)
            desc = txn_body(st, sub)
            if sub.left():
                desc += " (+%d unparsed)" % sub.left()
            parts.append("%s %s" % (OPS.get(st, st), desc))
        return "[" + "; ".join(parts) + "]"
    raise ValueError("unknown txn type %d" % t)


def dlen(d):
    return "null" if d is None else "%dB" % len(d)


def inspect_log(fn, data, verbose):
    ok = True
    r = Buf(data)
    magic, version, dbid = r.int(), r.int(), r.long()
    print("%s: txn log, %d bytes, magic %r version %d dbid %d" %
          (fn, len(data), struct.pack(">i", magic), version, dbid))
    if magic != 0x5a4b4c47:
        print("  BAD MAGIC")
        return False
    n = 0
    types = {}
    digests = 0
    first = last = None
    end = None
    while True:
        start = r.o
        if r.left() < 12:
            end = "end of file after %d bytes" % start
            break
        crc, ln = r.long(), r.int()
        if ln == 0:
            end = "length 0 at offset %d (preallocated zeros)" % start
            break
        if ln < 0 or r.left() < ln + 1:
            end = "partial/garbage record at offset %d (length %d, %d bytes left)" % (start, ln, r.left())
            ok = False if ln < 0 else ok
            break
        txn = bytes(r.b[r.o:r.o + ln])
        r.o += ln
        eor = r.b[r.o]
        r.o += 1
        calc = zlib.adler32(txn)
        t = Buf(txn)
        sid, cxid, zxid, tm, ty = t.long(), t.int(), t.long(), t.long(), t.int()
        try:
            desc = txn_body(ty, t)
        except (EOFError, ValueError) as e:
            desc = "UNPARSABLE BODY: %s" % e
            ok = False
        dig = ""
        if t.left() == 12:
            dv, dd = t.int(), t.long()
            dig = " digest(v%d)=%d" % (dv, dd)
            digests += 1
        elif t.left():
            dig = " %d UNEXPECTED TRAILING BYTES" % t.left()
            ok = False
        bad = []
        if calc != crc:
            bad.append("CRC MISMATCH stored 0x%x computed 0x%x" % (crc, calc))
        if eor != 0x42:
            bad.append("end-of-record byte 0x%02x, expected 0x42 'B'" % eor)
        if last is not None and zxid != last + 1:
            bad.append("zxid gap: previous 0x%x" % last)
        if bad:
            ok = False
        n += 1
        types[OPS.get(ty, ty)] = types.get(OPS.get(ty, ty), 0) + 1
        first = zxid if first is None else first
        last = zxid
        if verbose or bad:
            print("  @%d len=%d crc=0x%08x session=0x%x cxid=0x%x zxid=0x%x time=%d %s %s%s%s" %
                  (start, ln, crc, sid, cxid, zxid, tm, OPS.get(ty, ty), desc[:300], dig,
                   "  <-- " + "; ".join(bad) if bad else ""))
    nonzero = (len(data) - start) - data.count(b"\x00", start)
    print("  %d records, zxid %s..%s, %d with a TxnDigest; types %s" %
          (n, "0x%x" % first if first is not None else "-", "0x%x" % last if last is not None else "-",
           digests, dict(sorted(types.items(), key=lambda kv: str(kv[0])))))
    print("  end: %s; %d bytes after it, %s" % (end, len(data) - start, "all zero" if nonzero == 0
                                                 else "%d NON-ZERO bytes" % nonzero))
    if nonzero:
        ok = False if end and end.startswith("length 0") else ok
    return ok


def inspect_snapshot(fn, data, verbose, as_json):
    r = Buf(data)
    magic, version, dbid = r.int(), r.int(), r.long()
    if not as_json:
        print("%s: snapshot, %d bytes, magic %r version %d dbid %d" %
              (fn, len(data), struct.pack(">i", magic), version, dbid))
    if magic != 0x5a4b534e:
        print("  BAD MAGIC")
        return False
    sessions = {}
    for _ in range(r.int()):
        sid = r.long()
        sessions[sid] = r.int()
    acls = {}
    for _ in range(r.int()):
        idx = r.long()
        acls[idx] = r.vector(r.acl)
    nodes = []
    while True:
        p = r.string()
        if p == "/":
            break
        d = r.buffer()
        aclidx = r.long()
        st = [r.long(), r.long(), r.long(), r.long(), r.int(), r.int(), r.int(), r.long(), r.long()]
        nodes.append((p, d, aclidx, st))
    ok = True
    seals = []

    def seal(what):
        nonlocal ok
        calc = zlib.adler32(bytes(r.b[:r.o]))
        val, slash = r.long(), r.string()
        good = val == calc and slash == "/"
        ok = ok and good
        seals.append("%s seal 0x%x %s" % (what, val, "OK" if good else
                                           "MISMATCH (computed 0x%x, marker %r)" % (calc, slash)))
    seal("tree")
    digest = None
    if r.left() >= 20 + 12:
        digest = (r.long(), r.int(), r.long())
        seal("digest")
    trailing = r.left()
    if trailing:
        ok = False
    if as_json:
        emit_json(nodes, acls, sessions)
        return ok
    eph = {}
    for p, d, a, st in nodes:
        if 0 < st[7]:
            eph.setdefault(st[7], []).append(p)
    print("  sessions %d: %s" % (len(sessions), ", ".join(
        "0x%x/%dms/%d eph" % (s, t, len(eph.get(s, []))) for s, t in sorted(sessions.items()))))
    print("  acl cache %d entries: %s" % (len(acls), ", ".join(
        "%d=%s" % (k, v) for k, v in sorted(acls.items()))[:400]))
    maxz = max([max(st[0], st[1], st[8]) for _, _, _, st in nodes] or [0])
    print("  nodes %d (paths as stored: root is %r), highest zxid in a stat 0x%x" %
          (len(nodes), nodes[0][0] if nodes else None, maxz))
    print("  %s; digest section %s; %d trailing bytes" % (
        "; ".join(seals),
        "zxid 0x%x version %d digest %d" % digest if digest else "absent", trailing))
    if verbose:
        for p, d, a, st in nodes:
            print("    %s data=%s acl=%d czxid=0x%x mzxid=0x%x ctime=%d mtime=%d version=%d "
                  "cversion=%d aversion=%d ephemeralOwner=0x%x pzxid=0x%x" %
                  ((p or "(root \"\")"), dlen(d), a) + tuple(st[:7]) + (st[7] & (2**64 - 1), st[8]))
    return ok


def emit_json(nodes, acls, sessions):
    kids = {}
    for p, _, _, _ in nodes:
        if p:
            parent = p.rsplit("/", 1)[0]
            kids[parent] = kids.get(parent, 0) + 1
    out = []
    for p, d, a, st in nodes:
        eo = st[7]
        kind = ("persistent" if eo == 0 else "container" if eo == -0x8000000000000000
                else "ttl" if (eo >> 56) & 0xff == 0xff else "ephemeral")
        n = {"path": p or "/", "data": None if d is None else d.hex(),
             "acl": [] if a == -1 else acls.get(a, "MISSING ACL %d" % a),
             "raw": {"cversion": st[5], "ephemeralOwner": eo},
             "kind": kind,
             "stat": {"czxid": st[0], "mzxid": st[1], "ctime": st[2], "mtime": st[3],
                      "version": st[4], "aversion": st[6], "pzxid": st[8],
                      "dataLength": 0 if d is None else len(d), "numChildren": kids.get(p, 0),
                      # the client sees cversion = 2 * persisted - numChildren and 0 as the
                      # owner of containers and TTL nodes
                      "cversion": 2 * st[5] - kids.get(p, 0),
                      "ephemeralOwner": eo if kind == "ephemeral" else 0}}
        if a == -1:
            n["acl"] = [[31, "world", "anyone"]]
        if kind == "ttl":
            n["ttl"] = eo & 0x00ffffffffffffff
        out.append(n)
    out.sort(key=lambda n: n["path"])
    sys.stdout.write('{"format": "ferrozk-interchange-dump/1", "source": "zkfile_inspect (snapshot)",\n'
                     ' "facts": {"sessions": %s},\n "nodes": [\n' %
                     json.dumps({"0x%x" % k: v for k, v in sorted(sessions.items())}))
    sys.stdout.write(",\n".join(json.dumps(n, sort_keys=True) for n in out))
    sys.stdout.write("\n]}\n")


def main():
    args = sys.argv[1:]
    verbose = "-v" in args
    as_json = "--json" in args
    files = [a for a in args if not a.startswith("-")]
    if not files:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    ok = True
    for fn in files:
        with open(fn, "rb") as f:
            data = f.read()
        try:
            if data[:4] == b"ZKLG":
                good = inspect_log(fn, data, verbose)
            elif data[:4] == b"ZKSN":
                good = inspect_snapshot(fn, data, verbose, as_json)
            else:
                print("%s: unknown magic %r (compressed snapshot? not supported)" % (fn, data[:4]))
                good = False
        except (EOFError, ValueError) as e:
            print("%s: PARSE ERROR: %s" % (fn, e))
            good = False
        if not good:
            print("%s: PROBLEMS FOUND" % fn)
        ok = ok and good
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
