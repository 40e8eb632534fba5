"""What a server answers kazoo's Kerberos (GSSAPI) clients, one fact per line, to compare
Apache ZooKeeper with ferrozk under the same JAAS file and KDC: zkcli creates a node only it
may write, bob may read it but not write it, an unauthenticated client likewise.

usage: kerberos_checks.py <port> <ccache of zkcli> <ccache of bob> <sasl id of zkcli>
  (KRB5_CONFIG names the test KDC's krb5.conf; the server's principal is zookeeper/localhost)
"""
import os
import sys

from kazoo.client import KazooClient
from kazoo.security import make_acl

port, zkcli_cc, bob_cc, zkcli_id = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]


def out(*a):
    print(*a, flush=True)


def client(ccache):
    if ccache:
        os.environ["KRB5CCNAME"] = ccache
        zk = KazooClient(hosts="localhost:" + port, sasl_options={"mechanism": "GSSAPI"},
                         timeout=10)
    else:
        zk = KazooClient(hosts="localhost:" + port, timeout=10)
    zk.start(timeout=15)
    return zk


def attempt(what, f):
    try:
        r = f()
        out(what, "OK" if r is None else r)
    except Exception as e:
        out(what, type(e).__name__)


zk = client(zkcli_cc)
attempt("zkcli creates /krb", lambda: zk.create(
    "/krb", b"v", acl=[make_acl("sasl", zkcli_id, all=True),
                       make_acl("world", "anyone", read=True)]) and None)
attempt("getACL /krb", lambda: ",".join(
    "%s:%s=%d" % (a.id.scheme, a.id.id, a.perms) for a in zk.get_acls("/krb")[0]))
attempt("zkcli creates /krb/auth with the auth ACL", lambda: zk.create(
    "/krb/auth", b"", acl=[make_acl("auth", "", all=True)]) and None)
attempt("getACL /krb/auth", lambda: ",".join(
    "%s:%s=%d" % (a.id.scheme, a.id.id, a.perms) for a in zk.get_acls("/krb/auth")[0]))
attempt("zkcli setData", lambda: zk.set("/krb", b"z") and None)
zk.stop()
zk = client(bob_cc)
attempt("bob getData", lambda: zk.get("/krb")[0].decode())
attempt("bob setData", lambda: zk.set("/krb", b"b") and None)
zk.stop()
zk = client(None)
attempt("anonymous setData", lambda: zk.set("/krb", b"a") and None)
zk.stop()
out("DONE")
os._exit(0)
