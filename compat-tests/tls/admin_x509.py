"""The AdminServer's `Authorization: x509` as a client sees it: sets the root ACL to ALL for the
x509 id CN=elsewhere (the other-ip certificate) through kazoo over TLS, then asks for a
snapshot over HTTPS with each client certificate, and prints one line per attempt: the HTTP
status and the error text, or the class of the failure.

usage: admin_x509.py <certs dir> <secure client port> <admin port>
"""
import json
import os
import ssl
import sys
import urllib.error
import urllib.request

from kazoo.client import KazooClient
from kazoo.security import make_acl

certs, secure, admin = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])


def c(name):
    return os.path.join(certs, name)


zk = KazooClient(hosts="127.0.0.1:%d" % secure, use_ssl=True, verify_certs=True,
                 ca=c("ca.pem"), certfile=c("super.crt"), keyfile=c("super.key"), timeout=10)
zk.start(timeout=20)
zk.set_acls("/", [make_acl("x509", "CN=elsewhere", all=True)])
zk.stop()


def attempt(what, cert, header, scheme="https"):
    ctx = ssl.create_default_context(cafile=c("ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(c(cert + ".crt"), c(cert + ".key"))
    req = urllib.request.Request(
        "%s://127.0.0.1:%d/commands/snapshot?streaming=false" % (scheme, admin))
    if header:
        req.add_header("Authorization", header)
    try:
        r = urllib.request.urlopen(req, context=ctx if scheme == "https" else None, timeout=15)
        print(what, r.status, flush=True)
    except urllib.error.HTTPError as e:
        body = e.read().decode(errors="replace")
        try:
            err = json.loads(body).get("error")
        except ValueError:
            err = body.strip()[:80]
        print(what, e.code, err, flush=True)
    except Exception as e:  # a refused handshake
        print(what, "ERROR", type(e).__name__, flush=True)


attempt("named in the root ACL", "other-ip", "x509")
attempt("the x509 super user", "super", "x509")
attempt("trusted, not in the ACL", "client", "x509")
attempt("no Authorization header", "other-ip", None)
attempt("x509 over plain HTTP", None, "x509", scheme="http")
attempt("untrusted certificate", "stranger", "x509")
