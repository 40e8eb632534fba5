#!/usr/bin/env bash
# Reproduce the golden-byte capture: fresh ZooKeeper 3.8 <- capture.py proxy <- real Java
# client (GoldenClient.java) and the C client (cli_mt) and zkdiff's Python client (for
# the 44-byte ConnectRequest). Output: <workdir>/java.jsonl, c.jsonl, py.jsonl
#   run_capture.sh <workdir>
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd); d=$(dirname "$here")
work=${1:?workdir}; rm -rf "$work"; mkdir -p "$work/classes"
read -r zp pp < <(/usr/bin/python3 -c 'import socket
ss=[socket.socket() for _ in range(2)]
[s.bind(("127.0.0.1",0)) for s in ss]
print(*[s.getsockname()[1] for s in ss])')
J=/usr/share/java
javac -d "$work/classes" -cp "$J/zookeeper.jar:$J/zookeeper-jute.jar" "$here/GoldenClient.java"
zk=$("$d/start_zk.sh" "$zp" "$work/zk")
proxy_pid=
cleanup() { [ -n "$proxy_pid" ] && kill "$proxy_pid" 2>/dev/null; "$d/stop_zk.sh" "$zk"; }
trap cleanup EXIT
cap() {  # cap <log> : start the proxy logging to <log>
  /usr/bin/python3 "$d/capture.py" proxy --listen 127.0.0.1:$pp --upstream 127.0.0.1:$zp \
      --log "$1" --drop-file "$work/drop" > "$work/proxy.out" 2>&1 &
  proxy_pid=$!; sleep 0.5
}
uncap() { kill "$proxy_pid"; wait "$proxy_pid" 2>/dev/null || true; proxy_pid=; }

cap "$work/java.jsonl"
timeout 120 java -cp "$work/classes:$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/slf4j-api.jar:$J/slf4j-nop.jar" \
    GoldenClient 127.0.0.1:$pp "$work/drop" > "$work/java.out" 2>&1
uncap

# C client (cli_mt): which ConnectRequest form does it send?
cap "$work/c.jsonl"
(sleep 1.5; echo 'ls /'; sleep 1; echo 'quit'; sleep 1) | timeout 20 /usr/lib/zookeeper/bin/cli_mt 127.0.0.1:$pp > "$work/c.out" 2>&1 || true
sleep 1; uncap

# Python (zkdiff's client): 44-byte ConnectRequest -> 36-byte ConnectResponse
cap "$work/py.jsonl"
/usr/bin/python3 - "$pp" <<'PY'
import sys, time
sys.path.insert(0, '/work/main/compat-tests/differential')
import zkdiff as Z
class A: io_timeout = 3.0
srv = Z.Server('x', ('127.0.0.1', int(sys.argv[1])), A())
s = Z.Session('p'); out = []
Z.connect(srv, s, out, False, 30000)
xid = s.next_xid()
Z.send_req(s, xid, 3, Z.enc_request(3, {'path': '/golden', 'watch': False}))
Z.read_until(srv, s, out, 0, time.monotonic() + 3, want_xid=xid)
xid = s.next_xid()
Z.send_req(s, xid, -11)
Z.read_until(srv, s, out, 0, time.monotonic() + 3, want_xid=xid)
PY
sleep 0.5; uncap
echo "captures in $work"
