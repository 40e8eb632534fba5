"""Whether a TLS ZooKeeper server lets each client certificate in: for each <name>, a TLS
connection with <certs>/<name>.chain.pem and <name>.key sends a ConnectRequest and prints
`<name> accepted` when a ConnectResponse comes back, `<name> refused` when the handshake fails
or the connection closes first.

usage: revocation_probe.py <port> <certs dir> <name>...
"""
import os
import socket
import ssl
import struct
import sys

port, certs, names = int(sys.argv[1]), sys.argv[2], sys.argv[3:]


def connect_request():
    body = struct.pack(">iqiqi", 0, 0, 10000, 0, 16) + b"\0" * 16 + b"\0"
    return struct.pack(">i", len(body)) + body


def read_exactly(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise ConnectionError("closed")
        out += b
    return out


for name in names:
    ctx = ssl.create_default_context(cafile=os.path.join(certs, "ca.pem"))
    ctx.check_hostname = False
    ctx.load_cert_chain(os.path.join(certs, name + ".chain.pem"),
                        os.path.join(certs, name + ".key"))
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=30) as raw:
            with ctx.wrap_socket(raw) as s:
                s.sendall(connect_request())
                (n,) = struct.unpack(">i", read_exactly(s, 4))
                read_exactly(s, n)
        print(name, "accepted", flush=True)
    except (OSError, ssl.SSLError, ConnectionError) as e:
        print(name, "refused", flush=True)
        print("  (%s)" % e, file=sys.stderr, flush=True)
