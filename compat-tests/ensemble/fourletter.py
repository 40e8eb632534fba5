"""A four-letter word sent to a server's client port, for the ensemble check scripts."""

import socket


def four(host, word, quiet=False):
    """The server's answer to `word` at host:port. With `quiet`, a server that cannot be
    reached answers "" (for polling loops); otherwise the error is raised."""
    h, p = host.rsplit(":", 1)
    try:
        with socket.create_connection((h, int(p)), timeout=5) as s:
            s.sendall(word.encode())
            out = b""
            while True:
                b = s.recv(4096)
                if not b:
                    return out.decode()
                out += b
    except OSError:
        if quiet:
            return ""
        raise
