#!/usr/bin/python3
"""Compare two dumps written by dump_tree.py, exactly.

usage: compare_trees.py a.json b.json [--consecutive] [--max N] [--ignore-path PREFIX ...]

Every node is compared field by field: data (null vs empty distinguished), every Stat field,
the ACL list (order included); the set of paths must be equal. Either file may also be the
output of `toolkit.sh dump <dataDir>` (Java's offline load of a dataDir), whose nodes also carry
"kind", "ttl" and "raw" (persisted cversion and ephemeralOwner): those are compared when both
files have them and otherwise skipped (the output says so). facts.ephemeral_owners and
facts.node_count follow from the nodes and are therefore covered.

--consecutive: B was taken right after A with nothing but A's own closeSession in between (e.g.
  A, stop, start on the same dataDir, B): then B's dumper session must have been created by the
  zxid A.zxid_first + 2 (A's createSession = zxid_first, A's closeSession = +1, B's
  createSession = +2), which proves the server restarted at exactly the zxid where the previous
  one stopped (a server that loses or invents txns differs here even if the tree is equal).
--ignore-path PREFIX: leave out paths equal to PREFIX or below it (for experiments).

Prints the first --max (default 20) differences and exits 1, or prints
"N nodes identical" and exits 0. Exit 2: bad input.
"""
import argparse
import json
import sys


# Fields only ZkFileCheck's offline dump has (node kind, raw persisted cversion/ephemeralOwner):
# compared when both sides have them, skipped (and said so) when one side is a client dump.
OPTIONAL = {"kind", "ttl", "raw"}


def load(fn):
    try:
        with open(fn) as f:
            d = json.load(f)
    except (OSError, ValueError) as e:
        print("compare_trees: cannot read %s: %s" % (fn, e), file=sys.stderr)
        sys.exit(2)
    return d


def fmt(v):
    s = json.dumps(v)
    return s if len(s) <= 80 else s[:60] + "...(%d chars)" % len(s)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("a")
    ap.add_argument("b")
    ap.add_argument("--consecutive", action="store_true")
    ap.add_argument("--max", type=int, default=20)
    ap.add_argument("--ignore-path", action="append", default=[])
    args = ap.parse_args()
    a, b = load(args.a), load(args.b)

    def keep(p):
        return not any(p == x or p.startswith(x.rstrip("/") + "/") for x in args.ignore_path)

    na = {n["path"]: n for n in a["nodes"] if keep(n["path"])}
    nb = {n["path"]: n for n in b["nodes"] if keep(n["path"])}
    diffs = []
    skipped = set()
    for p in sorted(set(na) | set(nb)):
        if p not in nb:
            diffs.append("%s: only in A" % p)
            continue
        if p not in na:
            diffs.append("%s: only in B" % p)
            continue
        x, y = na[p], nb[p]
        for k in sorted(set(x) ^ set(y)):
            if k in OPTIONAL:
                skipped.add(k)
            else:
                diffs.append("%s: field %s only in %s" % (p, k, "A" if k in x else "B"))
        for k in sorted(set(x) & set(y)):
            if k == "stat" and isinstance(x.get(k), dict) and isinstance(y.get(k), dict):
                for f in sorted(set(x[k]) | set(y[k])):
                    if x[k].get(f) != y[k].get(f):
                        vx, vy = x[k].get(f), y[k].get(f)
                        hx = " (0x%x vs 0x%x)" % (vx, vy) if isinstance(vx, int) and isinstance(vy, int) else ""
                        diffs.append("%s: stat.%s A=%s B=%s%s" % (p, f, vx, vy, hx))
            elif x.get(k) != y.get(k):
                diffs.append("%s: %s A=%s B=%s" % (p, k, fmt(x.get(k)), fmt(y.get(k))))
    if args.consecutive:
        fa, fb = a["facts"], b["facts"]
        if fb["zxid_first"] != fa["zxid_first"] + 2:
            diffs.append("zxid: the second dump's session was created at 0x%x, expected 0x%x "
                         "(first dump's createSession 0x%x + its closeSession + 1): the server did not "
                         "resume at the zxid where the first dump left it"
                         % (fb["zxid_first"], fa["zxid_first"] + 2, fa["zxid_first"]))
    if diffs:
        for d in diffs[:args.max]:
            print(d)
        if len(diffs) > args.max:
            print("... %d more differences" % (len(diffs) - args.max))
        print("%d differences (%d nodes in A, %d in B)" % (len(diffs), len(na), len(nb)))
        sys.exit(1)
    print("%d nodes identical%s%s" % (len(na), " (zxid consecutive)" if args.consecutive else "",
                                      " (not compared, only on one side: %s)" % ", ".join(sorted(skipped))
                                      if skipped else ""))


if __name__ == "__main__":
    main()
