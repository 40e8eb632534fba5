"""Local sessions and read-only mode, seen by kazoo, on an ensemble given by its members'
client addresses. Each subcommand prints one line per observation, so that the test can
compare what ferrozk and Apache ZooKeeper print for the same steps.

  local_ro_checks.py local <host> <host> <host>        local sessions (three members up)
  local_ro_checks.py ro <host>                          a read-only member (quorum lost)
  local_ro_checks.py heal <hosts> <ready-file>          a read-only client through the heal
  local_ro_checks.py noupgrade <host> <path>            local sessions that cannot upgrade
  local_ro_checks.py stray <host> <other-host> <path>   ... through a member that forwards
                                                        their ephemeral creates anyway

`local` expects localSessionsEnabled=true and localSessionsUpgradingEnabled=true.
"""

import socket
import struct
import subprocess
import sys
import time

from fourletter import four
from kazoo.client import KazooClient
from kazoo.protocol.states import KeeperState


def zxid(host):
    for line in four(host, "srvr").splitlines():
        if line.startswith("Zxid:"):
            return int(line.split()[1], 16)
    return None


def frame(body):
    return struct.pack(">i", len(body)) + body


def handshake(host, session_id=0, passwd=b"\0" * 16, timeout_ms=4000, read_only=False):
    """A raw handshake: (socket, session id, password, negotiated timeout)."""
    h, p = host.rsplit(":", 1)
    s = socket.create_connection((h, int(p)), timeout=10)
    body = struct.pack(">iqiqi", 0, 0, timeout_ms, session_id, len(passwd)) + passwd
    body += b"\1" if read_only else b"\0"
    s.sendall(frame(body))
    n = struct.unpack(">i", recv_exact(s, 4))[0]
    r = recv_exact(s, n)
    _, to, sid, plen = struct.unpack(">iiqi", r[:20])
    return s, sid, r[20:20 + plen], to


def recv_exact(s, n):
    out = b""
    while len(out) < n:
        b = s.recv(n - len(out))
        if not b:
            raise ConnectionError("closed")
        out += b
    return out


def attempt(label, f):
    try:
        r = f()
        print(f"{label}: ok{'' if r is None else ' ' + str(r)}")
    except Exception as e:  # the exception's kind is the observation
        print(f"{label}: {type(e).__name__}")


def local(hosts):
    for i, host in enumerate(hosts):
        k = KazooClient(host, timeout=10)
        k.start(timeout=15)
        before = zxid(host)
        attempt(f"member {i + 1}: read on a new session", lambda: k.get_children("/") is not None)
        print(f"member {i + 1}: a new session and a read wrote no txn: {zxid(host) == before}")
        attempt(f"member {i + 1}: persistent create", lambda: k.create(f"/local-{i}", b"x"))
        attempt(f"member {i + 1}: ephemeral create (upgrades)", lambda: k.create(f"/local-{i}/eph", b"e", ephemeral=True))
        attempt(f"member {i + 1}: the ephemeral is there", lambda: k.exists(f"/local-{i}/eph") is not None)
        k.stop()
        k.close()
        k2 = KazooClient(host, timeout=10)
        k2.start(timeout=15)
        attempt(f"member {i + 1}: the upgraded session's ephemeral went with it", lambda: k2.exists(f"/local-{i}/eph") is None)
        k2.stop()
        k2.close()
    # Many short sessions that only read: no txn anywhere.
    before = [zxid(h) for h in hosts]
    for n in range(1000):
        s, sid, pw, _ = handshake(hosts[n % 3], timeout_ms=10000)
        s.close()
    time.sleep(1)
    print(f"1000 sessions on three members wrote no txn: {[zxid(h) for h in hosts] == before}")
    # A local session cannot move to another member; it stays valid on its own.
    s, sid, pw, _ = handshake(hosts[0], timeout_ms=10000)
    s.close()
    s2, sid2, _, _ = handshake(hosts[1], session_id=sid, passwd=pw, timeout_ms=10000)
    s2.close()
    print(f"a local session reconnecting to another member is expired: {sid2 == 0}")
    s3, sid3, _, _ = handshake(hosts[0], session_id=sid, passwd=pw, timeout_ms=10000)
    s3.close()
    print(f"it reconnects to its own member: {sid3 == sid}")
    # Local expiry: a session whose client is gone expires on its member.
    s, sid, pw, to = handshake(hosts[2], timeout_ms=4000)
    s.close()
    time.sleep(to / 1000 + 4)
    s4, sid4, _, _ = handshake(hosts[2], session_id=sid, passwd=pw, timeout_ms=4000)
    s4.close()
    print(f"an abandoned local session expires on its member: {sid4 == 0}")
    # The node the read-only checks read.
    k = KazooClient(hosts[0], timeout=10)
    k.start(timeout=15)
    k.create("/ro-test", b"hello")
    k.stop()
    k.close()


def ro(host):
    print("isro:", four(host, "isro").strip())
    state = [l for l in four(host, "mntr").splitlines() if l.startswith("zk_server_state")]
    print("mntr:", state)
    print("srvr says read-only:", "READ-ONLY mode; serving only read-only clients" in four(host, "srvr"))
    k = KazooClient(host, read_only=True, timeout=10)
    k.start(timeout=20)
    print("read-only client state:", k.client_state)
    attempt("get", lambda: k.get("/ro-test")[0])
    attempt("children", lambda: sorted(k.get_children("/")))
    attempt("exists with a watch", lambda: k.exists("/ro-missing", watch=lambda e: None))
    attempt("create", lambda: k.create("/ro-new", b"x"))
    attempt("set", lambda: k.set("/ro-test", b"x"))
    attempt("delete", lambda: k.delete("/ro-test"))
    attempt("sync", lambda: k.sync("/ro-test"))
    def multi():
        t = k.transaction()
        t.check("/ro-test", 0)
        return t.commit()

    attempt("transaction", multi)
    k.stop()
    k.close()
    # The Java client through zkCli's -r (canBeReadOnly).
    zkcli = subprocess.run(
        ["/usr/share/zookeeper/bin/zkCli.sh", "-r", "-server", host, "get", "/ro-test"],
        capture_output=True, text=True, timeout=60)
    print("zkCli -r get:", "hello" in zkcli.stdout.splitlines())
    zkcli = subprocess.run(
        ["/usr/share/zookeeper/bin/zkCli.sh", "-r", "-server", host, "create", "/ro-zkcli"],
        capture_output=True, text=True, timeout=60)
    said = [l for l in (zkcli.stdout + zkcli.stderr).splitlines() if "read-only" in l.lower() or "readonly" in l.lower()]
    print("zkCli -r create:", said[-1:] if said else zkcli.stdout.splitlines()[-1:])
    # A client that did not say it can live with a read-only server is refused.
    try:
        s, sid, pw, to = handshake(host, read_only=False)
        s.close()
        print("a read-write client's handshake: answered")
    except Exception as e:
        print("a read-write client's handshake:", type(e).__name__)


def ustr(s):
    b = s.encode()
    return struct.pack(">i", len(b)) + b


def create_body(path, flags):
    """CreateRequest: path, data, one world:anyone ACL with every permission, flags."""
    acl = struct.pack(">ii", 1, 31) + ustr("world") + ustr("anyone")
    return ustr(path) + struct.pack(">i", 1) + b"x" + acl + struct.pack(">i", flags)


def call(s, xid, op, body):
    """One request on a raw connection: the reply's error code."""
    s.sendall(frame(struct.pack(">ii", xid, op) + body))
    while True:
        n = struct.unpack(">i", recv_exact(s, 4))[0]
        r = recv_exact(s, n)
        rxid, _, err = struct.unpack(">iqi", r[:16])
        if rxid == xid:
            return err


def noupgrade(host, path):
    """localSessionsEnabled=true, localSessionsUpgradingEnabled=false, on a raw connection
    (kazoo does not know error -120 and drops its connection on it)."""
    s, sid, pw, to = handshake(host, timeout_ms=10000)
    s.settimeout(15)
    print("persistent create:", call(s, 1, 1, create_body(path, 0)))
    print("ephemeral create:", call(s, 2, 1, create_body(path + "/eph", 1)))
    print("ephemeral sequential create2:", call(s, 3, 15, create_body(path + "/seq-", 3)))
    multi = (struct.pack(">ibi", 1, 0, -1) + create_body(path + "/m1", 0)
             + struct.pack(">ibi", 1, 0, -1) + create_body(path + "/m2", 1)
             + struct.pack(">ibi", -1, 1, -1))
    print("a multi with an ephemeral create:", call(s, 4, 14, multi))
    print("exists (the session goes on):", call(s, 5, 3, ustr(path) + b"\0"))
    print("children:", call(s, 6, 8, ustr(path) + b"\0"))
    s.close()


def stray(host, other, path):
    """An ephemeral create from a local session that may not be upgraded, on a member that
    forwards it to the leader anyway (ZooKeeper 3.9's follower does): whatever the client
    hears, no ephemeral may exist afterwards, as nothing would ever delete it."""
    s, sid, pw, to = handshake(host, timeout_ms=10000)
    s.settimeout(15)
    print("persistent create:", call(s, 1, 1, create_body(path, 0)))
    try:
        call(s, 2, 1, create_body(path + "/eph", 1))
    except Exception:
        pass  # the answer, if any, is ZooKeeper's business here
    s.close()
    time.sleep(1)
    k = KazooClient(other, timeout=10)
    k.start(timeout=15)
    k.sync(path)
    print("ephemerals left behind:", k.get_children(path))
    k.stop()
    k.close()


def heal(hosts, ready_file):
    states = []
    k = KazooClient(hosts, read_only=True, timeout=10)
    k.add_listener(lambda s: states.append(str(s)))
    k.start(timeout=20)
    print("before the heal:", k.client_state)
    attempt("get", lambda: k.get("/ro-test")[0])
    with open(ready_file, "w") as f:
        f.write("ready\n")
    end = time.time() + 90
    wrote = False
    while time.time() < end and not wrote:
        if k.client_state == KeeperState.CONNECTED:
            try:
                k.set("/ro-test", b"after the heal")
                wrote = True
            except Exception:
                pass
        time.sleep(0.5)
    print("after the heal:", k.client_state, "wrote:", wrote)
    attempt("get", lambda: k.get("/ro-test")[0])
    k.stop()
    k.close()


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "local":
        local(sys.argv[2:5])
    elif cmd == "ro":
        ro(sys.argv[2])
    elif cmd == "noupgrade":
        noupgrade(sys.argv[2], sys.argv[3])
    elif cmd == "stray":
        stray(sys.argv[2], sys.argv[3], sys.argv[4])
    elif cmd == "heal":
        heal(sys.argv[2], sys.argv[3])
    else:
        sys.exit(f"unknown subcommand {cmd}")
