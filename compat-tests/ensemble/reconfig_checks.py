"""Dynamic reconfiguration seen by kazoo, on an ensemble given by its members' client
addresses. Each subcommand prints one line per observation, with ports replaced by the names
the test gives them, so that the test can compare what ferrozk and Apache ZooKeeper print.

  reconfig_checks.py config <host> <names>
      /zookeeper/config as the member serves it (servers, and the version's epoch)
  reconfig_checks.py reconfig <host> <names> <super-password> <add> <remove> <members> <from>
      one reconfig call ('-' for an absent argument; <from> is 'current', 'stale' or '-')
  reconfig_checks.py write <hosts> <path>
      creates or updates <path> through each listed member and reads it back everywhere

<names> is port=name,port=name,...
"""

import os
import subprocess
import sys
import time

from kazoo.client import KazooClient
from kazoo.exceptions import KazooException, ConnectionLoss, NodeExistsError


def names(arg):
    out = {}
    for pair in arg.split(","):
        port, name = pair.split("=")
        out[port] = name
    return out


def normalized(text, ports):
    lines = []
    for line in text.splitlines():
        if line.startswith("version="):
            v = int(line.split("=", 1)[1], 16)
            # The version is a zxid, which depends on how many txns went before (timing);
            # that it follows the txn's zxid is checked against the Stat.
            lines.append("version=%s" % ("0" if v == 0 else "set"))
            continue
        for port, name in ports.items():
            line = line.replace(":" + port, ":" + name)
        lines.append(line)
    servers = sorted(l for l in lines if l.startswith("server."))
    return servers + [l for l in lines if not l.startswith("server.")]


def client(hosts, auth=None):
    zk = KazooClient(hosts=hosts, timeout=20, connection_retry={"max_tries": -1, "delay": 0.2, "max_delay": 1})
    zk.start(timeout=30)
    if auth:
        zk.add_auth("digest", "super:" + auth)
    return zk


def retrying(f):
    deadline = time.time() + 60
    while True:
        try:
            return f()
        except ConnectionLoss:
            if time.time() > deadline:
                raise
            time.sleep(0.5)


def main():
    cmd = sys.argv[1]
    if cmd == "config":
        host, ports = sys.argv[2], names(sys.argv[3])
        zk = client(host)
        data, stat = zk.get("/zookeeper/config")
        text = data.decode()
        version = [l for l in text.splitlines() if l.startswith("version=")]
        v = int(version[0].split("=", 1)[1], 16) if version else -1
        for l in normalized(text, ports):
            print("config: " + l)
        print("config: mzxid is the version: %s" % (stat.mzxid == v))
        print("config: version %d" % stat.version)
        zk.stop()
    elif cmd == "reconfig":
        host, ports, password = sys.argv[2], names(sys.argv[3]), sys.argv[4]
        add, remove, members, frm = [None if a == "-" else a for a in sys.argv[5:9]]
        zk = client(host, None if password == "-" else password)
        current = int(
            [l for l in zk.get("/zookeeper/config")[0].decode().splitlines() if l.startswith("version=")][0].split("=")[1],
            16,
        )
        from_config = {None: -1, "current": current, "stale": current - 1}[frm]
        try:
            data, stat = retrying(lambda: zk.reconfig(joining=add, leaving=remove, new_members=members, from_config=from_config))
            text = data.decode()
            v = int([l for l in text.splitlines() if l.startswith("version=")][0].split("=")[1], 16)
            print("reconfig: ok")
            for l in normalized(text, ports):
                print("reconfig: " + l)
            print("reconfig: stat mzxid is the version: %s" % (stat.mzxid == v))
            print("reconfig: stat version %d, aversion %d" % (stat.version, stat.aversion))
            print("reconfig: version above the last: %s" % (v > current))
        except KazooException as e:
            print("reconfig: %s" % type(e).__name__)
        zk.stop()
    elif cmd == "write":
        hosts, path = sys.argv[2].split(","), sys.argv[3]
        for i, h in enumerate(hosts):
            zk = client(h)
            value = ("%s-%d" % (path, i)).encode()
            try:
                retrying(lambda: zk.create(path, value))
            except NodeExistsError:
                retrying(lambda: zk.set(path, value))
            zk.stop()
        last = ("%s-%d" % (path, len(hosts) - 1)).encode()
        for h in hosts:
            zk = client(h)
            retrying(lambda: zk.sync(path))
            data, _ = retrying(lambda: zk.get(path))
            print("write: %s reads the last write: %s" % ("a member", data == last))
            zk.stop()
    elif cmd == "load":
        # Sequential creates through the ensemble until <stop-file> appears; the paths
        # acknowledged go to <out-file>.
        hosts, stop, out = sys.argv[2], sys.argv[3], sys.argv[4]
        zk = client(hosts)
        zk.ensure_path("/load")
        acked = []
        while not os.path.exists(stop):
            try:
                acked.append(zk.create("/load/n-", b"x", sequence=True))
            except KazooException:
                time.sleep(0.05)
        zk.stop()
        with open(out, "w") as f:
            f.write("\n".join(acked))
    elif cmd == "verify":
        # Every acknowledged create of <acked-file> is on every member of <hosts>.
        hosts, acked = sys.argv[2].split(","), open(sys.argv[3]).read().split()
        print("load: writes acknowledged while the configuration changed: %s" % (len(acked) > 100))
        for h in hosts:
            zk = client(h)
            retrying(lambda: zk.sync("/load"))
            have = set("/load/" + c for c in retrying(lambda: zk.get_children("/load")))
            print("load: a member has every acknowledged write: %s" % all(p in have for p in acked))
            zk.stop()
    elif cmd == "zkcli":
        # zkCli (Debian's 3.8.0) with commands on its standard input; its answers, without
        # its log lines and prompts, ports named.
        host, ports = sys.argv[2], names(sys.argv[3])
        script = "\n".join(sys.argv[4:]) + "\nquit\n"
        r = subprocess.run(["/usr/share/zookeeper/bin/zkCli.sh", "-server", host],
                           input=script, capture_output=True, text=True, timeout=120)
        # A Java server lists the members of an incrementally changed configuration in its
        # HashMap's order, which depends on the JDK: the lines of each listing are sorted.
        servers = []
        for line in (r.stdout + r.stderr).splitlines():
            line = line.strip()
            if not line or line[:4].isdigit() or line.startswith("[zk:") or line.startswith("WATCHER") \
                    or line.startswith("WatchedEvent") or line.startswith("Connecting to") \
                    or line.startswith("Welcome to") or line.startswith("JLine") \
                    or line.startswith("log4j") or line.startswith("SLF4J"):
                continue
            for port, name in ports.items():
                line = line.replace(":" + port, ":" + name)
            if line.startswith("server."):
                servers.append(line)
                continue
            for l in sorted(servers):
                print("zkcli: " + l)
            servers = []
            if line.startswith("version="):
                line = "version=" + ("0" if int(line.split("=")[1], 16) == 0 else "set")
            print("zkcli: " + line)
    else:
        raise SystemExit("unknown subcommand " + cmd)


if __name__ == "__main__":
    main()
