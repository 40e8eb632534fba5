"""TLS failures and port unification against a running server, with Python's ssl module and
kazoo: each check prints `PASS <what>` or `FAIL <what>: <why>`, then a summary line
`N passed, M failed`.

usage: tls_checks.py <certs dir> <unified plain port> <secure port> <plain-only port>
         <server keystore file to rewrite (PEM)>
  The server on <unified plain port> has client.portUnification=true and <secure port> as
  secureClientPort, with ssl.clientAuth=need, ssl.clientHostnameVerification=true and
  nio.sessionlessCnxnTimeout=1500; its key store
  is the PEM file given, which this script rewrites (reload checks). <plain-only port> is a
  server without TLS.
"""
import os
import shutil
import socket
import ssl
import struct
import sys
import time

from kazoo.client import KazooClient

certs, unified, secure, plain_only, keystore = sys.argv[1:6]
unified, secure, plain_only = int(unified), int(secure), int(plain_only)
passed = failed = 0


def check(what, ok, why=""):
    global passed, failed
    if ok:
        passed += 1
        print("PASS", what, flush=True)
    else:
        failed += 1
        print("FAIL %s: %s" % (what, why), flush=True)


def c(name):
    return os.path.join(certs, name)


def tls_kazoo(port, cert="client"):
    zk = KazooClient(hosts="127.0.0.1:%d" % port, use_ssl=True, verify_certs=True,
                     ca=c("ca.pem"), certfile=c(cert + ".crt"), keyfile=c(cert + ".key"),
                     timeout=10)
    zk.start(timeout=15)
    return zk


def context(cert="client"):
    ctx = ssl.create_default_context(cafile=c("ca.pem"))
    ctx.check_hostname = False
    if cert:
        ctx.load_cert_chain(c(cert + ".crt"), c(cert + ".key"))
    return ctx


def handshake(port, cert="client"):
    """The server certificate's CN after a handshake, or the error."""
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    try:
        t = context(cert).wrap_socket(s)
        # TLS 1.3 reports a refused client certificate only on the first read.
        t.sendall(b"ruok")
        data = t.recv(16)
        cn = dict(x[0] for x in t.getpeercert()["subject"])["commonName"]
        t.close()
        return "ok", cn, data
    except (ssl.SSLError, OSError) as e:
        return "error", type(e).__name__, str(e)


def closed_within(sock, seconds):
    """True if the server closes the connection within `seconds` (after whatever it sends,
    such as a TLS alert)."""
    deadline = time.time() + seconds
    while True:
        sock.settimeout(max(0.01, deadline - time.time()))
        try:
            if sock.recv(64) == b"":
                return True
        except ConnectionResetError:
            return True
        except socket.timeout:
            return False


# A session that must survive every failure below.
keeper = tls_kazoo(secure)
keeper.ensure_path("/tls-checks")

# Port unification: plaintext and TLS sessions, and a four-letter word, on one port.
plain = KazooClient(hosts="127.0.0.1:%d" % unified, timeout=10)
plain.start(timeout=15)
check("plaintext session on the unified port", plain.exists("/tls-checks") is not None)
both = tls_kazoo(unified)
both.set("/tls-checks", b"from-tls")
check("TLS session on the unified port", plain.get("/tls-checks")[0] == b"from-tls")
s = socket.create_connection(("127.0.0.1", unified), timeout=5)
s.sendall(b"ruok")
check("ruok in plaintext on the unified port", s.recv(16) == b"imok")
s.close()
r = handshake(secure)
check("ruok over TLS on the secure port", r[0] == "ok" and r[2] == b"imok", r)
plain.stop()
both.stop()

# A plaintext client on the TLS port: the connection fails, nothing else does.
s = socket.create_connection(("127.0.0.1", secure), timeout=5)
s.sendall(struct.pack(">i", 44) + b"\0" * 44)
check("plaintext ConnectRequest on the TLS port is closed", closed_within(s, 5))
s.close()
# A TLS client on a plaintext-only port.
r = handshake(plain_only)
check("TLS client on a plaintext port fails", r[0] == "error", r)
# Certificates the server must refuse (clientAuth=need).
for cert, what in [(None, "no client certificate"), ("stranger", "an untrusted certificate"),
                   ("expired", "an expired certificate")]:
    r = handshake(secure, cert)
    check("%s is refused" % what, r[0] == "error", r)
# ssl.clientHostnameVerification=true: a certificate that names another address than the
# client's is refused (after the handshake, as ZooKeeper's trust manager refuses it).
r = handshake(secure, "other-ip")
check("a certificate naming another address is refused", not (r[0] == "ok" and r[2] == b"imok"), r)
# A stalled handshake is closed (nio.sessionlessCnxnTimeout=1500).
s = socket.create_connection(("127.0.0.1", secure), timeout=5)
t0 = time.time()
check("a connection that never shakes hands is closed", closed_within(s, 8), "still open")
check("... after about the handshake timeout", time.time() - t0 < 6, time.time() - t0)
s.close()
check("the other session kept working", keeper.get("/tls-checks")[0] == b"from-tls")

# Reload: a new certificate reaches new connections; a broken file leaves the last good one.
r = handshake(secure)
check("the server certificate before the change", r[:2] == ("ok", "localhost"), r)
shutil.copyfile(c("server2.pem"), keystore + ".tmp")
os.replace(keystore + ".tmp", keystore)
deadline = time.time() + 15
while time.time() < deadline and handshake(secure)[:2] != ("ok", "reloaded"):
    time.sleep(0.5)
check("a changed key store reaches new connections", handshake(secure)[:2] == ("ok", "reloaded"))
with open(keystore + ".tmp", "w") as f:
    f.write("-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n")
os.replace(keystore + ".tmp", keystore)
time.sleep(5)
r = handshake(secure)
check("a broken key store leaves the last good certificate serving", r[:2] == ("ok", "reloaded"), r)
check("and the session is still served", keeper.get("/tls-checks")[0] == b"from-tls")
keeper.stop()
print("%d passed, %d failed" % (passed, failed))
sys.exit(1 if failed else 0)
