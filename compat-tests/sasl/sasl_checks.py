"""What a server answers SASL clients, one fact per line, to compare Apache ZooKeeper with
ferrozk under the same JAAS file and zoo.cfg: kazoo (pure-sasl) DIGEST-MD5 users, a wrong
password, an unknown user, and raw packets (the challenge's shape, a malformed response, a
request from an unauthenticated connection), with the error codes and whether the
connection stays open.

usage: sasl_checks.py <port> [enforced]
  With `enforced`, kazoo's failed logins are left out (kazoo 2.8 cannot read the error an
  enforcing server answers, nor take allowSaslFailedClients' null token, and retries without
  end); the raw checks show those answers.
  The JAAS Server section has user_bob="bobsecret", user_alice="alicesecret" and
  user_carol="carolsecret"; zoo.cfg has superUser=carol and the SASL provider.
"""
import os
import re
import socket
import struct
import sys

from kazoo.client import KazooClient
from kazoo.security import make_acl

port = int(sys.argv[1])
enforced = sys.argv[2:] == ["enforced"]
hosts = "127.0.0.1:%d" % port


def out(*a):
    print(*a, flush=True)


def kazoo(user, password):
    opts = {"mechanism": "DIGEST-MD5", "username": user, "password": password}
    zk = KazooClient(hosts=hosts, sasl_options=opts, timeout=10,
                     connection_retry={"max_tries": 1}, command_retry={"max_tries": 0})
    zk.start(timeout=10)
    return zk


def attempt(what, f):
    try:
        r = f()
        out(what, "OK" if r is None else r)
    except Exception as e:  # the exception class is the fact
        out(what, type(e).__name__)


# --- raw protocol --------------------------------------------------------------------------
def frame(body):
    return struct.pack(">i", len(body)) + body


def read_frame(s):
    head = b""
    while len(head) < 4:
        b = s.recv(4 - len(head))
        if not b:
            return None
        head += b
    (n,) = struct.unpack(">i", head)
    body = b""
    while len(body) < n:
        b = s.recv(n - len(body))
        if not b:
            return None
        body += b
    return body


def raw_session():
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(frame(struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"))
    if read_frame(s) is None:
        return None
    return s


def buffer(b):
    return struct.pack(">i", -1) if b is None else struct.pack(">i", len(b)) + b


def reply(s):
    """The reply's error code and the rest of its body (a token: its length or -1)."""
    r = read_frame(s)
    if r is None:
        return "closed"
    xid, zxid, err = struct.unpack(">iqi", r[:16])
    rest = r[16:]
    tail = ""
    if len(rest) >= 4:
        (n,) = struct.unpack(">i", rest[:4])
        tail = " token=%s" % ("null" if n == -1 else "%d bytes" % n)
    elif rest:
        tail = " body=%d bytes" % len(rest)
    return "err=%d%s" % (err, tail)


def still_open(s):
    s.settimeout(1)  # ZooKeeper queues its close right after the reply
    try:
        b = s.recv(1)
        return "closed" if not b else "open (data)"
    except socket.timeout:
        return "open"
    except OSError:
        return "closed"


def sasl(s, xid, token):
    s.sendall(frame(struct.pack(">ii", xid, 102) + buffer(token)))


# kazoo users and ACLs
attempt("bob connects", lambda: kazoo("bob", "bobsecret").stop())
zk = kazoo("bob", "bobsecret")
attempt("bob creates /sasl-k", lambda: zk.create(
    "/sasl-k", b"v", acl=[make_acl("sasl", "bob", all=True), make_acl("world", "anyone", read=True)])
    and None)
attempt("getACL /sasl-k", lambda: ",".join(
    "%s:%s=%d" % (a.id.scheme, a.id.id, a.perms) for a in zk.get_acls("/sasl-k")[0]))
attempt("bob creates /sasl-k/auth with the auth ACL", lambda: zk.create(
    "/sasl-k/auth", b"", acl=[make_acl("auth", "", all=True)]) and None)
attempt("getACL /sasl-k/auth", lambda: ",".join(
    "%s:%s=%d" % (a.id.scheme, a.id.id, a.perms) for a in zk.get_acls("/sasl-k/auth")[0]))
attempt("bob setData", lambda: zk.set("/sasl-k", b"b") and None)
zk.stop()
zk = kazoo("alice", "alicesecret")
attempt("alice getData", lambda: zk.get("/sasl-k")[0].decode())
attempt("alice setData", lambda: zk.set("/sasl-k", b"a") and None)
zk.stop()
zk = kazoo("carol", "carolsecret")
attempt("carol (superUser) setData", lambda: zk.set("/sasl-k", b"c") and None)
attempt("carol deletes /sasl-k/auth", lambda: zk.delete("/sasl-k/auth"))
zk.stop()
if not enforced:
    attempt("wrong password connects", lambda: kazoo("bob", "nope").stop())
    attempt("unknown user connects", lambda: kazoo("mallory", "x").stop())

# raw packets
s = raw_session()
sasl(s, 1, b"")
r = read_frame(s)
xid, zxid, err = struct.unpack(">iqi", r[:16])
(n,) = struct.unpack(">i", r[16:20])
challenge = r[20:20 + n].decode()
out("challenge err=%d xid=%d zxid=%d shape=%s" % (
    err, xid, zxid, re.sub(r'nonce="[A-Za-z0-9+/]{40}"', 'nonce="<40>"', challenge)))
sasl(s, 2, b"username=\"bob\",garbage")
out("malformed response:", reply(s), "then", still_open(s))

s = raw_session()
s.sendall(frame(struct.pack(">ii", 3, 4) + buffer(b"/") + b"\0"))
out("unauthenticated getData:", reply(s), "then", still_open(s))

s = raw_session()
s.sendall(frame(struct.pack(">ii", -2, 11)))
out("unauthenticated ping:", reply(s), "then", still_open(s))
out("DONE")
os._exit(0)
