#!/usr/bin/python3
"""Compatibility checks using the stock kazoo client (Debian python3-kazoo 2.8).

usage: /usr/bin/python3 kazoo_suite.py <host:port>

Prints one line per check ("PASS: ..." / "FAIL: ... -- detail"), then a final
line "N passed, M failed". Exits 0 only if every check passed.

Every wait is bounded; the whole suite is additionally bounded by a watchdog
(SUITE_TIMEOUT seconds, default 150) that reports and exits non-zero.

Not covered here because kazoo 2.8 cannot express them: container and TTL
nodes, persistent (addWatch) watches, SetWatches on reconnect (kazoo drops its
one-shot watches on disconnect instead of re-registering them). The Java
suites cover those.

Two groups use an in-process TCP proxy between a kazoo client and the server
so that a connection can be cut (drop) or silenced (freeze) on demand.
"""

import logging
import os
import random
import socket
import sys
import threading
import time
import traceback

from kazoo.client import KazooClient, KazooState
from kazoo.exceptions import (
    BadVersionError,
    InvalidACLError,
    LockTimeout,
    NoAuthError,
    NoChildrenForEphemeralsError,
    NodeExistsError,
    NoNodeError,
    NotEmptyError,
    RolledBackError,
    RuntimeInconsistency,
)
from kazoo.protocol.states import EventType
from kazoo.recipe.cache import TreeCache, TreeEvent
from kazoo.security import CREATOR_ALL_ACL, make_acl, make_digest_acl

if len(sys.argv) < 2:
    print("usage: kazoo_suite.py <host:port>", file=sys.stderr)
    sys.exit(2)

CONNECT = sys.argv[1]
# The proxy tests go through the first server of the connect string.
TARGET_HOST, TARGET_PORT = CONNECT.split(",")[0].rsplit(":", 1)
TARGET_PORT = int(TARGET_PORT)
SUITE_TIMEOUT = float(os.environ.get("SUITE_TIMEOUT", "150"))
# FERROZK_KAZOO_TLS=<ca.pem>,<client.crt>,<client.key>: every client connects over TLS with
# that client certificate (the server's secure port); `<ca.pem>,,` for TLS without one.
TLS = os.environ.get("FERROZK_KAZOO_TLS")
WAIT = 10.0  # default bound for any single wait

logging.basicConfig(
    level=logging.DEBUG if os.environ.get("VERBOSE") else logging.CRITICAL,
    stream=sys.stderr,
)

_lock = threading.Lock()
PASSED = 0
FAILED = 0
GROUP = ""


def check(name, ok, detail=""):
    global PASSED, FAILED
    with _lock:
        if ok:
            PASSED += 1
            print("PASS: %s: %s" % (GROUP, name), flush=True)
        else:
            FAILED += 1
            print("FAIL: %s: %s%s" % (GROUP, name, (" -- " + str(detail)) if detail else ""), flush=True)
    return ok


def summary_and_exit(code=None):
    with _lock:
        print("%d passed, %d failed" % (PASSED, FAILED), flush=True)
        if code is None:
            code = 0 if FAILED == 0 and PASSED > 0 else 1
    sys.stdout.flush()
    sys.stderr.flush()
    # os._exit: do not wait for stuck recipe threads or kazoo's threads
    os._exit(code)


def _watchdog():
    global GROUP
    with _lock:
        pass
    GROUP = "suite"
    check("finished within %ds" % SUITE_TIMEOUT, False, "watchdog fired")
    summary_and_exit(1)


_wd = threading.Timer(SUITE_TIMEOUT, _watchdog)
_wd.daemon = True
_wd.start()


def wait_until(pred, timeout=WAIT, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        try:
            if pred():
                return True
        except Exception:
            pass
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def raises(exc_type, fn, *args, **kwargs):
    """Return (True, None) if fn raises exc_type, else (False, what happened)."""
    try:
        r = fn(*args, **kwargs)
    except exc_type:
        return True, None
    except Exception as e:  # wrong exception
        return False, "raised %s: %s" % (type(e).__name__, e)
    return False, "returned %r" % (r,)


def new_client(hosts=CONNECT, **kw):
    if TLS:
        ca, cert, key = TLS.split(",")
        kw.setdefault("use_ssl", True)
        kw.setdefault("verify_certs", True)
        kw.setdefault("ca", ca)
        if cert:
            kw.setdefault("certfile", cert)
            kw.setdefault("keyfile", key)
    kw.setdefault("timeout", 10.0)
    kw.setdefault(
        "connection_retry",
        dict(max_tries=-1, delay=0.1, backoff=1.5, max_delay=1.0),
    )
    c = KazooClient(hosts=hosts, **kw)
    c.start(timeout=15)
    return c


def start_thread(fn, *args):
    t = threading.Thread(target=fn, args=args, daemon=True)
    t.start()
    return t


class Proxy(object):
    """TCP proxy 127.0.0.1:<port> -> server, with drop / refuse / freeze."""

    def __init__(self, host, port):
        self.target = (host, port)
        self.lsock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.lsock.settimeout(0.2)
        self.port = self.lsock.getsockname()[1]
        self.hosts = "127.0.0.1:%d" % self.port
        self.pairs = []
        self.mu = threading.Lock()
        self.refuse = False
        self.frozen = threading.Event()
        self.closed = False
        start_thread(self._accept_loop)

    def _accept_loop(self):
        while not self.closed:
            try:
                c, _ = self.lsock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            if self.refuse:
                c.close()
                continue
            try:
                u = socket.create_connection(self.target, timeout=5)
            except OSError:
                c.close()
                continue
            pair = [c, u, True]
            with self.mu:
                self.pairs.append(pair)
            start_thread(self._pump, pair, c, u)
            start_thread(self._pump, pair, u, c)

    def _pump(self, pair, src, dst):
        src.settimeout(0.1)
        while pair[2]:
            if self.frozen.is_set():
                time.sleep(0.05)
                continue
            try:
                data = src.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not data:
                break
            try:
                dst.sendall(data)
            except OSError:
                break
        self._close_pair(pair)

    def _close_pair(self, pair):
        pair[2] = False
        for s in pair[:2]:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            try:
                s.close()
            except OSError:
                pass

    def drop_all(self):
        with self.mu:
            pairs, self.pairs = self.pairs, []
        for p in pairs:
            self._close_pair(p)

    def close(self):
        self.closed = True
        self.drop_all()
        try:
            self.lsock.close()
        except OSError:
            pass


def stop_bounded(client, timeout=10):
    """client.stop() + close(), bounded in time."""
    def run():
        try:
            client.stop()
            client.close()
        except Exception:
            pass
    t = start_thread(run)
    t.join(timeout)
    return not t.is_alive()


# ---------------------------------------------------------------------------
TESTS = []


def test(name):
    def deco(fn):
        TESTS.append((name, fn))
        return fn
    return deco


BASE = "/ferrozk-kazoo-%d-%d" % (os.getpid(), random.randint(0, 1 << 30))
zk = None    # main client
zk2 = None   # second client (other session)


@test("session")
def t_session():
    sid, pw = zk.client_id
    check("main client CONNECTED", zk.state == KazooState.CONNECTED, zk.state)
    check("session id non-zero", sid != 0, sid)
    check("session password is 16 bytes", isinstance(pw, bytes) and len(pw) == 16, pw)
    check("two clients get distinct session ids", zk2.client_id[0] != sid,
          (sid, zk2.client_id[0]))
    check("root exists", zk.exists("/") is not None)
    zc = zk.get_children("/zookeeper")
    check("/zookeeper has children 'quota' and 'config'",
          "quota" in zc and "config" in zc, zc)
    check("sync returns the path", zk.sync(BASE) == BASE)


@test("crud")
def t_crud():
    p = BASE + "/crud"
    r = zk.create(p, b"hello")
    check("create returns path", r == p, r)
    data, st = zk.get(p)
    check("get returns data", data == b"hello", data)
    ok, d = raises(NodeExistsError, zk.create, p, b"x")
    check("create existing -> NodeExistsError", ok, d)
    ok, d = raises(NoNodeError, zk.create, p + "/a/b", b"x")
    check("create with missing parent -> NoNodeError", ok, d)
    r = zk.create(p + "/mk/a/b", b"deep", makepath=True)
    check("create makepath creates parents", r == p + "/mk/a/b" and zk.exists(p + "/mk/a") is not None, r)

    st1 = zk.set(p, b"world", version=0)
    check("set_data with matching version -> version 1", st1.version == 1, st1)
    check("set_data bumps mzxid", st1.mzxid > st.mzxid, (st.mzxid, st1.mzxid))
    ok, d = raises(BadVersionError, zk.set, p, b"bad", version=0)
    check("set_data with stale version -> BadVersionError", ok, d)
    check("failed set_data left data unchanged", zk.get(p)[0] == b"world")
    st2 = zk.set(p, b"any", version=-1)
    check("set_data version -1 always succeeds", st2.version == 2, st2)
    ok, d = raises(NoNodeError, zk.set, p + "/nope", b"x")
    check("set_data missing -> NoNodeError", ok, d)
    ok, d = raises(NoNodeError, zk.get, p + "/nope")
    check("get missing -> NoNodeError", ok, d)

    check("exists returns stat", zk.exists(p) is not None and zk.exists(p).version == 2)
    check("exists missing returns None", zk.exists(p + "/nope") is None)

    zk.create(p + "/empty")
    d, st = zk.get(p + "/empty")
    check("default data is empty", d == b"" and st.dataLength == 0, (d, st))
    big = bytes(random.getrandbits(8) for _ in range(512 * 1024))
    zk.set(p + "/empty", big)
    d, st = zk.get(p + "/empty")
    check("512 KiB value round-trips", d == big and st.dataLength == len(big), st.dataLength)
    zk.create(p + "/uni-\u00e9\u4e2d", "\u00fcnic\u00f6de".encode("utf-8"))
    check("unicode node name round-trips",
          "uni-\u00e9\u4e2d" in zk.get_children(p), zk.get_children(p))

    ok, d = raises(BadVersionError, zk.delete, p + "/empty", version=5)
    check("delete with wrong version -> BadVersionError", ok, d)
    zk.delete(p + "/empty", version=1)
    check("delete with matching version", zk.exists(p + "/empty") is None)
    ok, d = raises(NotEmptyError, zk.delete, p)
    check("delete non-empty -> NotEmptyError", ok, d)
    ok, d = raises(NoNodeError, zk.delete, p + "/nope")
    check("delete missing -> NoNodeError", ok, d)


@test("children")
def t_children():
    p = BASE + "/kids"
    zk.create(p)
    check("no children initially", zk.get_children(p) == [])
    for n in ("c", "a", "b"):
        zk.create(p + "/" + n, n.encode())
    kids = zk.get_children(p)
    check("get_children lists all", sorted(kids) == ["a", "b", "c"], kids)
    kids, st = zk.get_children(p, include_data=True)
    check("get_children include_data returns stat",
          sorted(kids) == ["a", "b", "c"] and st.numChildren == 3 and st.cversion == 3,
          (kids, st))
    ok, d = raises(NoNodeError, zk.get_children, p + "/nope")
    check("get_children missing -> NoNodeError", ok, d)


@test("stat")
def t_stat():
    p = BASE + "/stat"
    t0 = time.time()
    zk.create(p, b"abc")
    st = zk.exists(p)
    check("fresh: czxid == mzxid == pzxid", st.czxid == st.mzxid == st.pzxid, st)
    check("fresh: version/cversion/aversion 0",
          st.version == 0 and st.cversion == 0 and st.aversion == 0, st)
    check("fresh: numChildren 0, dataLength 3, ephemeralOwner 0",
          st.numChildren == 0 and st.dataLength == 3 and st.ephemeralOwner == 0, st)
    check("fresh: ctime == mtime, close to wall clock",
          st.ctime == st.mtime and abs(st.ctime / 1000.0 - t0) < 300, (st.ctime, t0))
    zk.create(p + "/c1")
    c1 = zk.exists(p + "/c1")
    st2 = zk.exists(p)
    check("child create: parent cversion 1, numChildren 1",
          st2.cversion == 1 and st2.numChildren == 1, st2)
    check("child create: parent pzxid == child czxid", st2.pzxid == c1.czxid, (st2.pzxid, c1.czxid))
    check("child create: parent mzxid/version unchanged",
          st2.mzxid == st.mzxid and st2.version == 0, st2)
    check("zxids increase", c1.czxid > st.czxid, (st.czxid, c1.czxid))
    time.sleep(0.01)
    st3 = zk.set(p, b"abcdef")
    check("set: version 1, dataLength 6, mzxid > pzxid, mtime >= ctime",
          st3.version == 1 and st3.dataLength == 6 and st3.mzxid > st3.pzxid
          and st3.mtime >= st3.ctime and st3.cversion == 1, st3)
    zk.delete(p + "/c1")
    st4 = zk.exists(p)
    check("child delete: cversion 2, numChildren 0, pzxid advanced",
          st4.cversion == 2 and st4.numChildren == 0 and st4.pzxid > st3.mzxid, st4)
    check("child delete: mzxid/version unchanged", st4.mzxid == st3.mzxid and st4.version == 1, st4)


@test("ephemeral")
def t_ephemeral():
    p = BASE + "/eph"
    zk.create(p)
    r = zk.create(p + "/e", b"x", ephemeral=True)
    st = zk.exists(r)
    check("ephemeralOwner == client_id[0]", st.ephemeralOwner == zk.client_id[0],
          (st.ephemeralOwner, zk.client_id[0]))
    ok, d = raises(NoChildrenForEphemeralsError, zk.create, p + "/e/child")
    check("child of ephemeral -> NoChildrenForEphemeralsError", ok, d)

    zt = new_client()
    zt.create(p + "/other", ephemeral=True)
    # zk and zt may be served by different members of an ensemble: sync before reading the
    # other session's change, as ZooKeeper promises it only then.
    zk.sync(p)
    st = zk.exists(p + "/other")
    check("other session's ephemeral has its owner",
          st is not None and st.ephemeralOwner == zt.client_id[0] != zk.client_id[0], st)
    zt.stop()
    zt.close()
    zk.sync(p)
    check("ephemeral gone as soon as the owning client stop()s",
          zk.exists(p + "/other") is None)


@test("sequential")
def t_sequential():
    p = BASE + "/seq"
    zk.create(p)
    # ZooKeeper's sequence suffix is the number of children *created* under
    # the parent so far, while the cversion it reports counts creates AND
    # deletes (stored count of creates * 2 - numChildren).
    zk.create(p + "/a")
    r1 = zk.create(p + "/q-", b"", sequence=True)
    check("sequential name = prefix + 10-digit counter (1 child created before)", r1 == p + "/q-0000000001", r1)
    r2 = zk.create(p + "/q-", b"", sequence=True)
    check("next sequential number", r2 == p + "/q-0000000002", r2)
    zk.delete(r2)
    st = zk.exists(p)
    check("reported parent cversion counts creates and deletes (3 creates + 1 delete = 4)",
          st.cversion == 4 and st.numChildren == 2, st)
    r3 = zk.create(p + "/q-", b"", sequence=True)
    check("sequence counter counts creates only (3rd create -> 3 although cversion is 4)",
          r3 == p + "/q-0000000003", r3)
    zk.delete(p + "/a")
    zk.delete(r3)
    st = zk.exists(p)
    check("cversion after 4 creates + 3 deletes = 7", st.cversion == 7 and st.numChildren == 1, st)
    r4 = zk.create(p + "/", b"", sequence=True)
    check("sequential with empty name -> just digits", r4 == p + "/0000000004", r4)
    t = zk.transaction()
    t.delete(r4)
    t.create(p + "/m-", b"", sequence=True)
    res = t.commit()
    check("sequential create inside multi", res == [True, p + "/m-0000000005"], res)
    r5 = zk.create(p + "/eq-", b"", sequence=True, ephemeral=True)
    st = zk.exists(r5)
    check("ephemeral sequential", r5 == p + "/eq-0000000006" and st.ephemeralOwner == zk.client_id[0], r5)
    check("cversion after 7 creates + 4 deletes = 11", zk.exists(p).cversion == 11, zk.exists(p))
    names = [zk.create(p + "/x-", sequence=True) for _ in range(5)]
    nums = [int(n[-10:]) for n in names]
    check("sequence strictly increasing", nums == sorted(nums) and len(set(nums)) == 5, names)


@test("transaction")
def t_transaction():
    p = BASE + "/txn"
    zk.create(p, b"v0")
    t = zk.transaction()
    t.create(p + "/a", b"A")
    t.set_data(p, b"v1", version=0)
    t.check(p, 1)
    t.create(p + "/s-", b"", sequence=True)
    t.delete(p + "/a")
    res = t.commit()
    check("successful multi: per-op results",
          len(res) == 5 and res[0] == p + "/a" and getattr(res[1], "version", None) == 1
          and res[2] is True and res[3] == p + "/s-0000000001" and res[4] is True, res)
    check("successful multi applied", zk.get(p)[0] == b"v1" and zk.exists(p + "/a") is None
          and zk.exists(p + "/s-0000000001") is not None)

    t = zk.transaction()
    t.create(p + "/b", b"B")
    t.set_data(p, b"v2")
    t.check(p, 99)
    t.create(p + "/c", b"C")
    res = t.commit()
    types = [type(r).__name__ for r in res]
    check("failing multi: ok ops before -> RolledBackError(0), failing op -> BadVersionError, after -> RuntimeInconsistency",
          len(res) == 4 and isinstance(res[0], RolledBackError) and isinstance(res[1], RolledBackError)
          and isinstance(res[2], BadVersionError) and isinstance(res[3], RuntimeInconsistency), types)
    check("failing multi rolled back: no /b, no /c, data unchanged",
          zk.exists(p + "/b") is None and zk.exists(p + "/c") is None and zk.get(p)[0] == b"v1")
    check("failing multi rolled back: version unchanged", zk.exists(p).version == 1)

    t = zk.transaction()
    t.create(p, b"dup")
    t.delete(p + "/s-0000000001")
    res = t.commit()
    types = [type(r).__name__ for r in res]
    check("multi failing on first op: NodeExistsError then RuntimeInconsistency",
          len(res) == 2 and isinstance(res[0], NodeExistsError) and isinstance(res[1], RuntimeInconsistency), types)
    check("its delete was not applied", zk.exists(p + "/s-0000000001") is not None)

    t = zk.transaction()
    t.delete(p + "/nope")
    res = t.commit()
    check("single-op multi failing -> [NoNodeError]", len(res) == 1 and isinstance(res[0], NoNodeError),
          [type(r).__name__ for r in res])


@test("watches")
def t_watches():
    p = BASE + "/w"
    zk.create(p, b"0")
    evs = []
    fired = threading.Event()

    def w(ev):
        evs.append(ev)
        fired.set()

    zk.get(p, watch=w)
    zk2.set(p, b"1")
    check("data watch fires on set (other client)", fired.wait(WAIT))
    check("data watch event: CHANGED with path",
          len(evs) == 1 and evs[0].type == EventType.CHANGED and evs[0].path == p, evs)
    fired.clear()
    zk2.set(p, b"2")
    time.sleep(0.5)
    check("data watch is one-shot", len(evs) == 1, evs)

    # child watch
    cevs = []
    cfired = threading.Event()
    zk.get_children(p, watch=lambda ev: (cevs.append(ev), cfired.set()))
    zk2.create(p + "/kid")
    check("child watch fires on child create", cfired.wait(WAIT))
    check("child watch event: CHILD with parent path",
          len(cevs) == 1 and cevs[0].type == EventType.CHILD and cevs[0].path == p, cevs)
    cevs.clear()
    cfired.clear()
    zk2.set(p + "/kid", b"x")
    zk.get_children(p, watch=lambda ev: (cevs.append(ev), cfired.set()))
    zk2.set(p, b"3")
    time.sleep(0.3)
    check("child watch not fired by data changes", not cfired.is_set(), cevs)
    zk2.delete(p + "/kid")
    check("child watch fires on child delete", cfired.wait(WAIT) and cevs[0].type == EventType.CHILD, cevs)

    # exists watch on missing node
    xevs = []
    xfired = threading.Event()
    st = zk.exists(p + "/later", watch=lambda ev: (xevs.append(ev), xfired.set()))
    check("exists on missing node returns None", st is None)
    zk2.create(p + "/later", b"")
    check("exists watch fires NodeCreated", xfired.wait(WAIT) and xevs[0].type == EventType.CREATED
          and xevs[0].path == p + "/later", xevs)

    # delete fires data watch (DELETED) and child watch on the node
    devs = []
    dfired = threading.Event()
    zk.get(p + "/later", watch=lambda ev: (devs.append(ev), dfired.set()))
    kevs = []
    kfired = threading.Event()
    zk.get_children(p + "/later", watch=lambda ev: (kevs.append(ev), kfired.set()))
    zk2.delete(p + "/later")
    check("data watch fires NodeDeleted", dfired.wait(WAIT) and devs[0].type == EventType.DELETED
          and devs[0].path == p + "/later", devs)
    check("child watch on deleted node fires NodeDeleted", kfired.wait(WAIT) and kevs[0].type == EventType.DELETED, kevs)

    # exists watch on existing node fires on set
    eevs = []
    efired = threading.Event()
    zk.exists(p, watch=lambda ev: (eevs.append(ev), efired.set()))
    zk2.set(p, b"4")
    check("exists watch on existing node fires CHANGED", efired.wait(WAIT) and eevs[0].type == EventType.CHANGED, eevs)

    # a client's own change triggers its watch too
    oevs = []
    ofired = threading.Event()
    zk.get(p, watch=lambda ev: (oevs.append(ev), ofired.set()))
    zk.set(p, b"5")
    check("own change fires own watch", ofired.wait(WAIT) and oevs[0].type == EventType.CHANGED, oevs)


@test("watch-recipes")
def t_watch_recipes():
    p = BASE + "/wr"
    zk.create(p, b"v0")
    seen_kids = []
    zk.ChildrenWatch(p, lambda kids: seen_kids.append(sorted(kids)))
    check("ChildrenWatch initial call", wait_until(lambda: seen_kids and seen_kids[-1] == []), seen_kids)
    zk2.create(p + "/x")
    check("ChildrenWatch sees create", wait_until(lambda: seen_kids[-1] == ["x"]), seen_kids)
    zk2.create(p + "/y")
    check("ChildrenWatch sees second create", wait_until(lambda: seen_kids[-1] == ["x", "y"]), seen_kids)
    zk2.delete(p + "/x")
    check("ChildrenWatch sees delete", wait_until(lambda: seen_kids[-1] == ["y"]), seen_kids)

    seen = []
    zk.DataWatch(p + "/y", lambda data, stat: seen.append((data, stat.version if stat else None)))
    check("DataWatch initial call", wait_until(lambda: seen and seen[-1] == (b"", 0)), seen)
    zk2.set(p + "/y", b"v1")
    check("DataWatch sees change", wait_until(lambda: seen[-1] == (b"v1", 1)), seen)
    zk2.set(p + "/y", b"v2")
    check("DataWatch sees second change", wait_until(lambda: seen[-1] == (b"v2", 2)), seen)
    zk2.delete(p + "/y")
    check("DataWatch sees delete (None, None)", wait_until(lambda: seen[-1] == (None, None)), seen)
    zk2.create(p + "/y", b"again")
    check("DataWatch sees re-create", wait_until(lambda: seen[-1] == (b"again", 0)), seen)


@test("treecache")
def t_treecache():
    p = BASE + "/tc"
    zk.create(p)
    zk.create(p + "/pre", b"pre")
    evs = []
    init = threading.Event()

    def listener(ev):
        if ev.event_type == TreeEvent.INITIALIZED:
            init.set()
        elif ev.event_data is not None:
            evs.append((ev.event_type, ev.event_data.path, ev.event_data.data))

    tc = TreeCache(zk, p)
    tc.listen(listener)
    tc.start()
    check("TreeCache initialized", init.wait(WAIT))
    check("TreeCache has pre-existing child", tc.get_data(p + "/pre") is not None
          and tc.get_data(p + "/pre").data == b"pre")
    zk2.create(p + "/a/b", b"bee", makepath=True)
    check("TreeCache NODE_ADDED nested",
          wait_until(lambda: (TreeEvent.NODE_ADDED, p + "/a/b", b"bee") in evs), evs)
    zk2.set(p + "/a/b", b"BEE")
    check("TreeCache NODE_UPDATED nested",
          wait_until(lambda: (TreeEvent.NODE_UPDATED, p + "/a/b", b"BEE") in evs), evs)
    zk2.delete(p + "/a/b")
    check("TreeCache NODE_REMOVED nested",
          wait_until(lambda: any(e[0] == TreeEvent.NODE_REMOVED and e[1] == p + "/a/b" for e in evs)), evs)
    check("TreeCache children view", wait_until(lambda: sorted(tc.get_children(p)) == ["a", "pre"]),
          tc.get_children(p))
    tc.close()


@test("acl")
def t_acl():
    p = BASE + "/acl"
    za = new_client()
    try:
        za.create(p)
        acls, st = za.get_acls(p)
        check("default ACL is world:anyone ALL",
              len(acls) == 1 and acls[0].id.scheme == "world" and acls[0].id.id == "anyone"
              and acls[0].perms == 31, acls)
        ro = [make_acl("world", "anyone", read=True)]
        za.create(p + "/ro", b"r", acl=ro)
        check("read on read-only node OK", za.get(p + "/ro")[0] == b"r")
        ok, d = raises(NoAuthError, za.set, p + "/ro", b"w")
        check("write on read-only node -> NoAuthError", ok, d)
        ok, d = raises(NoAuthError, za.set_acls, p + "/ro", [make_acl("world", "anyone", all=True)])
        check("setACL without ADMIN permission -> NoAuthError", ok, d)
        ok, d = raises(NoAuthError, za.create, p + "/ro/child")
        check("create child without CREATE permission -> NoAuthError", ok, d)
        ok, d = raises(InvalidACLError, za.create, p + "/bad-acl", b"", acl=[make_acl("digest", "no-colon", all=True)])
        check("malformed digest ACL id -> InvalidACLError", ok, d)
    except Exception:
        stop_bounded(za)
        raise
    try:
        za.add_auth("digest", "alice:secret")
        za.create(p + "/alice", b"private", acl=[make_digest_acl("alice", "secret", all=True)])
        check("owner (authenticated) can read digest-protected node",
              za.get(p + "/alice")[0] == b"private")
        # zk2 may be served by another member of an ensemble: sync first, as ZooKeeper
        # promises another session's write only after a sync.
        zk2.sync(p + "/alice")
        ok, d = raises(NoAuthError, zk2.get, p + "/alice")
        check("other session without auth -> NoAuthError", ok, d)
        zb = new_client()
        zb.add_auth("digest", "alice:wrong")
        ok, d = raises(NoAuthError, zb.get, p + "/alice")
        check("wrong password -> NoAuthError", ok, d)
        zb.add_auth("digest", "alice:secret")
        check("after adding correct credentials, read OK", zb.get(p + "/alice")[0] == b"private")
        stop_bounded(zb)
        acls, st = za.get_acls(p + "/alice")
        check("get_acls shows digest ACL", len(acls) == 1 and acls[0].id.scheme == "digest"
              and acls[0].id.id.startswith("alice:"), acls)
        st2 = za.set_acls(p + "/alice", [make_acl("world", "anyone", all=True)], version=st.aversion)
        check("set_acls bumps aversion", st2.aversion == st.aversion + 1, st2)
        ok, d = raises(BadVersionError, za.set_acls, p + "/alice", [make_acl("world", "anyone", all=True)], version=0)
        check("set_acls with stale aversion -> BadVersionError", ok, d)
        check("now readable by anyone", zk2.get(p + "/alice")[0] == b"private")
    finally:
        stop_bounded(za)


@test("acl-provider")
def t_acl_provider():
    # kazoo's default_acl (every create without an explicit ACL) and auth_data (sent on
    # every (re)connect), as applications such as Patroni configure them.
    p = BASE + "/aclp"
    carol = make_digest_acl("carol", "pw", all=True)
    zc = new_client(default_acl=[carol], auth_data=[("digest", "carol:pw")])
    zd = new_client(default_acl=CREATOR_ALL_ACL, auth_data=[("digest", "dave:pw")])
    zx = new_client(auth_data=[("digest", "carol:wrong")])
    try:
        zc.ensure_path(p + "/a/b")
        acls, _ = zc.get_acls(p + "/a/b")
        check("default_acl on every level ensure_path creates",
              [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(31, "digest", carol.id.id)]
              and [a.id.id for a in zc.get_acls(p)[0]] == [carol.id.id], acls)
        zc.create(p + "/a/b/c", b"secret")
        check("auth_data lets the owner read", zc.get(p + "/a/b/c")[0] == b"secret")
        ok, d = raises(NoAuthError, zk2.get, p + "/a/b/c")
        check("a session without the identity -> NoAuthError", ok, d)
        ok, d = raises(NoAuthError, zx.get, p + "/a/b/c")
        check("auth_data with a wrong password -> NoAuthError", ok, d)
        ok, d = raises(NoAuthError, zk2.create, p + "/a/b/c/d")
        check("create under a node without CREATE for the caller -> NoAuthError", ok, d)
        zc.stop()
        zc.start(timeout=10)
        check("auth_data is sent again after a reconnect", zc.get(p + "/a/b/c")[0] == b"secret")
        # CREATOR_ALL_ACL is the auth scheme: the server expands it to the caller's ids
        zd.create(BASE + "/aclp-dave", b"d")
        acls, _ = zd.get_acls(BASE + "/aclp-dave")
        want = make_digest_acl("dave", "pw", all=True).id.id
        check("CREATOR_ALL_ACL becomes the creator's digest id",
              [(a.perms, a.id.scheme, a.id.id) for a in acls] == [(31, "digest", want)], acls)
        ok, d = raises(InvalidACLError, zk2.create, BASE + "/aclp-anon", b"", acl=CREATOR_ALL_ACL)
        check("auth scheme without an authenticated id -> InvalidACLError", ok, d)
        ok, d = raises(NoAuthError, zk2.get_acls, BASE + "/aclp-dave")
        check("getACL by a stranger (neither READ nor ADMIN) -> NoAuthError", ok, d)
    finally:
        for c in (zc, zd, zx):
            stop_bounded(c)
    cleaner = new_client(auth_data=[("digest", "carol:pw"), ("digest", "dave:pw")])
    try:
        cleaner.delete(p, recursive=True)
        cleaner.delete(BASE + "/aclp-dave")
        check("the owners can delete what they own", cleaner.exists(p) is None)
    finally:
        stop_bounded(cleaner)


@test("ensure_path")
def t_ensure_path():
    p = BASE + "/ep"
    zk.ensure_path(p + "/a/b/c")
    check("ensure_path creates all levels", zk.exists(p + "/a/b/c") is not None)
    zk.ensure_path(p + "/a/b/c")
    check("ensure_path is idempotent", zk.exists(p + "/a/b/c") is not None)
    zk.create(p + "/a/x", b"1")
    zk.create(p + "/a/b/y", b"2")
    zk.delete(p + "/a", recursive=True)
    check("recursive delete removes subtree", zk.exists(p + "/a") is None and zk.exists(p) is not None)


@test("lock")
def t_lock():
    p = BASE + "/lock"
    l1 = zk.Lock(p, "one")
    l2 = zk2.Lock(p, "two")
    check("first lock acquired", l1.acquire(timeout=WAIT))
    ok, d = raises(LockTimeout, l2.acquire, timeout=1)
    check("second client times out while held", ok, d)
    check("contenders lists the holder", l1.contenders() == ["one"], l1.contenders())
    got = {}
    t = start_thread(lambda: got.setdefault("r", l2.acquire(timeout=WAIT)))
    time.sleep(0.3)
    check("waiter blocked while held", "r" not in got)
    l1.release()
    t.join(WAIT)
    check("waiter acquires after release", got.get("r") is True, got)
    l2.release()

    # mutual exclusion under contention
    inside = [0]
    violations = [0]
    counts = [0]

    def worker(client, ident):
        lk = client.Lock(p + "-mx", ident)
        for _ in range(10):
            if not lk.acquire(timeout=WAIT):
                return
            inside[0] += 1
            if inside[0] != 1:
                violations[0] += 1
            time.sleep(0.005)
            counts[0] += 1
            inside[0] -= 1
            lk.release()

    ts = [start_thread(worker, zk, "a"), start_thread(worker, zk2, "b")]
    for t in ts:
        t.join(30)
    check("mutual exclusion: 20 critical sections, no overlap",
          counts[0] == 20 and violations[0] == 0, (counts[0], violations[0]))
    check("lock nodes cleaned up", zk.get_children(p + "-mx") == [], zk.get_children(p + "-mx"))


@test("rwlock")
def t_rwlock():
    p = BASE + "/rw"
    r1 = zk.ReadLock(p, "r1")
    r2 = zk2.ReadLock(p, "r2")
    w = zk2.WriteLock(p, "w")
    check("reader 1 acquires", r1.acquire(timeout=WAIT))
    check("reader 2 acquires concurrently", r2.acquire(timeout=WAIT))
    ok, d = raises(LockTimeout, w.acquire, timeout=1)
    check("writer blocked by readers", ok, d)
    r1.release()
    r2.release()
    check("writer acquires after readers release", w.acquire(timeout=WAIT))
    r3 = zk.ReadLock(p, "r3")
    ok, d = raises(LockTimeout, r3.acquire, timeout=1)
    check("reader blocked by writer", ok, d)
    w.release()
    check("reader acquires after writer release", r3.acquire(timeout=WAIT))
    r3.release()


@test("semaphore")
def t_semaphore():
    p = BASE + "/sem"
    s1 = zk.Semaphore(p, "a", max_leases=2)
    s2 = zk2.Semaphore(p, "b", max_leases=2)
    s3 = zk2.Semaphore(p, "c", max_leases=2)
    check("lease 1", s1.acquire(timeout=WAIT))
    check("lease 2", s2.acquire(timeout=WAIT))
    check("lease 3 refused (non-blocking)", s3.acquire(blocking=False) is False)
    check("lease_holders", sorted(s1.lease_holders()) == ["a", "b"], s1.lease_holders())
    s1.release()
    check("lease 3 after a release", s3.acquire(timeout=WAIT))
    s2.release()
    s3.release()


@test("election")
def t_election():
    p = BASE + "/elect"
    e1 = zk.Election(p, "A")
    e2 = zk2.Election(p, "B")
    leaders = []
    became = {"A": threading.Event(), "B": threading.Event()}
    stop = {"A": threading.Event(), "B": threading.Event()}

    def lead(name):
        leaders.append(name)
        became[name].set()
        stop[name].wait(WAIT * 2)

    start_thread(e1.run, lead, "A")
    check("first candidate elected", became["A"].wait(WAIT))
    start_thread(e2.run, lead, "B")
    check("contenders in order", wait_until(lambda: e1.contenders() == ["A", "B"]), e1.contenders())
    check("second candidate not elected while first leads", not became["B"].wait(0.3))
    stop["A"].set()
    check("second candidate elected after first steps down", became["B"].wait(WAIT))
    check("exactly one leader at a time", leaders == ["A", "B"], leaders)
    stop["B"].set()
    check("election nodes cleaned up", wait_until(lambda: zk.get_children(p) == []), zk.get_children(p))


@test("counter")
def t_counter():
    p = BASE + "/counter"
    c = zk.Counter(p)
    c += 5
    c -= 2
    check("counter value", c.value == 3, c.value)

    def bump(client):
        cc = client.Counter(p)
        for _ in range(20):
            cc += 1

    ts = [start_thread(bump, zk), start_thread(bump, zk2)]
    for t in ts:
        t.join(30)
    # zk2's increments may have gone through another member of an ensemble: sync first, as
    # ZooKeeper promises a session only its own writes without one; then read once.
    zk.sync(p)
    v = c.value
    check("concurrent increments (version-checked) all applied", v == 43, v)


@test("queue")
def t_queue():
    p = BASE + "/queue"
    q = zk.Queue(p)
    q.put(b"one")
    q.put(b"two")
    q.put(b"urgent", priority=1)
    check("queue length", len(q) == 3, len(q))
    q2 = zk2.Queue(p)
    got = [q2.get(), q.get(), q2.get(), q.get()]
    check("priority then FIFO order, None when empty", got == [b"urgent", b"one", b"two", None], got)

    lq = zk.LockingQueue(p + "-locking")
    lq.put(b"x")
    lq.put_all([b"y", b"z"])
    check("locking queue length", len(lq) == 3, len(lq))
    check("locking queue get", lq.get(timeout=WAIT) == b"x")
    check("holds lock", lq.holds_lock())
    check("consume", lq.consume())
    lq2 = zk2.LockingQueue(p + "-locking")
    check("second consumer gets next", lq2.get(timeout=WAIT) == b"y")
    check("release returns it", lq2.release())
    check("re-get after release", lq.get(timeout=WAIT) == b"y" and lq.consume())
    check("last item", lq2.get(timeout=WAIT) == b"z" and lq2.consume())
    check("empty queue get times out -> None", lq.get(timeout=0.5) is None)


@test("pipelined-async")
def t_pipelined_async():
    # Many requests in flight on one session, reads and writes mixed, as an application using
    # kazoo's async API sends them. kazoo matches each reply to the oldest pending request by
    # xid and drops the connection on a mismatch, and a read must see exactly the session's
    # writes sent before it.
    p = BASE + "/pipelined"
    zk.create(p, b"v0")
    lost = []

    def listener(state):
        if state != KazooState.CONNECTED:
            lost.append(state)

    zk.add_listener(listener)
    try:
        sent = []
        value = b"v0"
        for i in range(300):
            k = i % 6
            if k == 0:
                value = b"v%d" % (i + 1)
                sent.append(("set", zk.set_async(p, value), None))
            elif k == 1:
                sent.append(("get", zk.get_async(p), value))
            elif k == 2:
                sent.append(("create", zk.create_async(p + "/s-", b"", sequence=True), None))
            elif k == 3:
                sent.append(("exists", zk.exists_async(p + "/missing"), None))
            elif k == 4:
                sent.append(("bad-version", zk.set_async(p, b"never", version=1 << 30), None))
            else:
                sent.append(("get", zk.get_async(p), value))
        bad = []
        for kind, a, want in sent:
            try:
                res = a.get(timeout=WAIT)
            except BadVersionError:
                if kind != "bad-version":
                    bad.append((kind, "BadVersionError"))
                continue
            except Exception as e:
                bad.append((kind, "%s: %s" % (type(e).__name__, e)))
                continue
            if kind == "get" and res[0] != want:
                bad.append((kind, res[0], want))
            elif kind == "exists" and res is not None:
                bad.append((kind, res))
            elif kind == "bad-version":
                bad.append((kind, "succeeded"))
        check("300 pipelined async requests answered, each read showing the writes sent before it",
              not bad, bad[:3])
        check("the connection stayed up (no xid mismatch)", not lost, lost)
        check("50 sequential children", len(zk.get_children(p)) == 50, len(zk.get_children(p)))
    finally:
        zk.remove_listener(listener)


@test("barrier")
def t_barrier():
    p = BASE + "/barrier"
    b = zk.Barrier(p)
    b.create()
    b2 = zk2.Barrier(p)
    check("wait times out while barrier is up", b2.wait(timeout=0.5) is False)
    res = {}
    t = start_thread(lambda: res.setdefault("r", b2.wait(timeout=WAIT)))
    time.sleep(0.2)
    b.remove()
    t.join(WAIT + 1)
    check("waiter released when barrier removed", res.get("r") is True, res)

    d = BASE + "/dbarrier"
    entered = []
    left = []

    def part(client, ident):
        db = client.DoubleBarrier(d, 2, ident)
        db.enter()
        entered.append(ident)
        db.leave()
        left.append(ident)

    t1 = start_thread(part, zk, "p1")
    time.sleep(0.3)
    check("double barrier: one participant waits in enter()", entered == [], entered)
    t2 = start_thread(part, zk2, "p2")
    t1.join(WAIT)
    t2.join(WAIT)
    check("double barrier: both enter and leave", sorted(entered) == ["p1", "p2"] and sorted(left) == ["p1", "p2"],
          (entered, left))


@test("party")
def t_party():
    p = BASE + "/party"
    p1 = zk.Party(p, "m1")
    p2 = zk2.Party(p, "m2")
    p1.join()
    p2.join()
    check("party members", sorted(p1) == ["m1", "m2"] and len(p1) == 2, list(p1))
    p2.leave()
    check("after leave", list(p1) == ["m1"], list(p1))
    s1 = zk.ShallowParty(p + "-shallow", "s1")
    s2 = zk2.ShallowParty(p + "-shallow", "s2")
    s1.join()
    s2.join()
    check("shallow party members", sorted(s1) == ["s1", "s2"], list(s1))
    zs = new_client()
    s3 = zs.ShallowParty(p + "-shallow", "s3")
    s3.join()
    check("shallow party 3 members", len(s1) == 3, list(s1))
    zs.stop()
    zs.close()
    check("member leaves when its session closes", sorted(s1) == ["s1", "s2"], list(s1))


@test("connection-drop")
def t_connection_drop():
    p = BASE + "/drop"
    zk.create(p)
    proxy = Proxy(TARGET_HOST, TARGET_PORT)
    states = []
    zp = new_client(hosts=proxy.hosts)
    try:
        zp.add_listener(lambda s: states.append(s))
        sid = zp.client_id[0]
        zp.create(p + "/eph", b"x", ephemeral=True)
        zp.create(p + "/data", b"0")
        seen = []
        zp.DataWatch(p + "/data", lambda d, s: seen.append(d))
        check("DataWatch initial", wait_until(lambda: seen and seen[-1] == b"0"), seen)

        proxy.refuse = True
        proxy.drop_all()
        check("client notices the drop (SUSPENDED)", wait_until(lambda: KazooState.SUSPENDED in states), states)
        zk.set(p + "/data", b"changed-while-away")
        time.sleep(0.3)
        proxy.refuse = False
        check("client reconnects", wait_until(lambda: zp.connected and states and states[-1] == KazooState.CONNECTED, 15),
              states)
        check("same session after reconnect", zp.client_id[0] == sid, (sid, zp.client_id))
        check("session never LOST", KazooState.LOST not in states, states)
        st = zk.exists(p + "/eph")
        check("ephemeral survived the connection drop", st is not None and st.ephemeralOwner == sid, st)
        check("DataWatch caught up with change made while disconnected",
              wait_until(lambda: seen[-1] == b"changed-while-away"), seen)
        zk.set(p + "/data", b"after")
        check("DataWatch keeps working after reconnect", wait_until(lambda: seen[-1] == b"after"), seen)
        check("reconnected client can write", zp.create(p + "/eph2", ephemeral=True) == p + "/eph2")
    finally:
        stop_bounded(zp)
        proxy.close()
    check("ephemerals removed on stop", zk.exists(p + "/eph") is None and zk.exists(p + "/eph2") is None)


@test("session-reattach")
def t_session_reattach():
    p = BASE + "/reattach"
    zk.create(p)
    proxy = Proxy(TARGET_HOST, TARGET_PORT)
    zr = new_client(hosts=proxy.hosts)
    zs = None
    try:
        cid = zr.client_id
        zr.create(p + "/e1", ephemeral=True)
        proxy.refuse = True
        proxy.drop_all()
        zs = new_client(client_id=cid)
        check("new client attached to the same session id", zs.client_id[0] == cid[0], (cid, zs.client_id))
        st = zk.exists(p + "/e1")
        check("ephemeral kept while session re-attached", st is not None and st.ephemeralOwner == cid[0], st)
        zs.create(p + "/e2", ephemeral=True)
        check("ephemeral created through re-attached session has same owner",
              zk.exists(p + "/e2").ephemeralOwner == cid[0])
        stop_bounded(zs)
        check("closing the re-attached session removes all its ephemerals",
              zk.exists(p + "/e1") is None and zk.exists(p + "/e2") is None)
    finally:
        if zs is not None:
            stop_bounded(zs)
        stop_bounded(zr)
        proxy.close()


@test("session-expiry")
def t_session_expiry():
    p = BASE + "/expiry"
    zk.create(p)
    proxy = Proxy(TARGET_HOST, TARGET_PORT)
    states = []
    ze = new_client(hosts=proxy.hosts, timeout=4.0)
    try:
        ze.add_listener(lambda s: states.append(s))
        sid = ze.client_id[0]
        ze.create(p + "/e", ephemeral=True)
        # zk may be on another member of an ensemble: sync, so that it sees the ephemeral
        # before it waits for it to go (without, it may never have seen it).
        zk.sync(p)
        check("the other session sees the ephemeral", zk.exists(p + "/e") is not None)
        t0 = time.monotonic()
        proxy.frozen.set()            # server hears nothing from this session
        gone = wait_until(lambda: zk.exists(p + "/e") is None, 30, 0.1)
        elapsed = time.monotonic() - t0
        check("ephemeral removed after session timeout", gone, "elapsed %.1fs" % elapsed)
        check("not removed before ~timeout (took %.1fs)" % elapsed, elapsed > 2.0, elapsed)
        proxy.drop_all()
        proxy.frozen.clear()
        check("client is told the session expired (LOST)", wait_until(lambda: KazooState.LOST in states, 20), states)
        check("client establishes a new session",
              wait_until(lambda: ze.connected and ze.client_id[0] not in (0, sid), 20), ze.client_id)
    finally:
        stop_bounded(ze)
        proxy.close()


# ---------------------------------------------------------------------------
def main():
    global zk, zk2, GROUP
    GROUP = "setup"
    try:
        zk = new_client()
        zk2 = new_client()
    except Exception as e:
        check("connect to %s" % CONNECT, False, "%s: %s" % (type(e).__name__, e))
        summary_and_exit(1)
    check("connect to %s" % CONNECT, True)
    try:
        zk.create(BASE)
    except Exception as e:
        check("create suite root " + BASE, False, e)
        summary_and_exit(1)

    only = os.environ.get("ONLY")
    for name, fn in TESTS:
        if only and name not in only.split(","):
            continue
        GROUP = name
        t0 = time.monotonic()
        try:
            fn()
        except Exception as e:
            check("no unexpected exception", False, "%s: %s" % (type(e).__name__, e))
            traceback.print_exc(file=sys.stderr)
        print("  (%s took %.1fs)" % (name, time.monotonic() - t0), file=sys.stderr, flush=True)

    GROUP = "cleanup"
    try:
        zk.delete(BASE, recursive=True)
        check("suite root removed", zk.exists(BASE) is None)
    except Exception as e:
        check("suite root removed", False, e)
    stop_bounded(zk)
    stop_bounded(zk2)
    summary_and_exit()


main()
