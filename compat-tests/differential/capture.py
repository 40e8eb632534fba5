#!/usr/bin/env python3
"""capture.py - record ZooKeeper client traffic byte for byte (golden fixtures).

A loopback TCP proxy between a real client and a real server. Every byte is
forwarded unchanged. Each direction of each connection is cut into frames
(4-byte big-endian length prefix + payload; the ConnectRequest/ConnectResponse
are framed the same way), and every frame is appended to a JSON-lines log.

  capture.py proxy --listen 127.0.0.1:22999 --upstream 127.0.0.1:2181 --log cap.jsonl \
                   [--drop-file /tmp/drop] [--duration 60]
      Runs until SIGTERM/SIGINT (or --duration seconds). While it runs, creating the
      --drop-file (or sending SIGUSR1) closes every proxied connection, which makes a
      client reconnect (the Java client then re-attaches its session and sends
      setWatches / setWatches2). The file is deleted after use.

  capture.py show cap.jsonl
      Decodes every frame: connection, direction, index, record type, op code, fields.

  capture.py extract cap.jsonl OUTDIR NAME=CONN:DIR:INDEX [...]
      Writes OUTDIR/NAME.hex (the whole frame INCLUDING its 4-byte length prefix, as
      one line of lowercase hex) for each selected frame and (re)writes
      OUTDIR/index.tsv describing every *.hex file listed in the selection.
      DIR is c2s (client to server) or s2c (server to client).

Pure standard library; the decoder is the one in zkdiff.py (written from the
protocol description).
"""

import json
import os
import signal
import socket
import struct
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import zkdiff as Z  # noqa: E402


# --------------------------------------------------------------------------------------
# proxy
# --------------------------------------------------------------------------------------

class Recorder:
    def __init__(self, path):
        self.f = open(path, 'a', buffering=1)
        self.lock = threading.Lock()

    def frame(self, conn, direction, index, data, partial=False):
        rec = {'conn': conn, 'dir': direction, 'index': index, 't': round(time.time(), 6),
               'len': len(data), 'hex': data.hex()}
        if partial:
            rec['partial'] = True
        with self.lock:
            self.f.write(json.dumps(rec) + '\n')

    def note(self, conn, what):
        with self.lock:
            self.f.write(json.dumps({'conn': conn, 'note': what, 't': round(time.time(), 6)}) + '\n')


class Proxy:
    def __init__(self, listen, upstream, log, drop_file):
        self.listen = listen
        self.upstream = upstream
        self.rec = Recorder(log)
        self.drop_file = drop_file
        self.active = {}
        self.lock = threading.Lock()
        self.nconn = 0
        self.stop = threading.Event()

    def pump(self, cid, direction, src, dst):
        buf = b''
        idx = 0
        try:
            while True:
                chunk = src.recv(65536)
                if not chunk:
                    break
                dst.sendall(chunk)
                buf += chunk
                while len(buf) >= 4:
                    n = struct.unpack('>i', buf[:4])[0]
                    if n < 0 or n > 64 * 1024 * 1024:
                        # not a framed stream (e.g. a four-letter word): record raw
                        self.rec.frame(cid, direction, idx, buf, partial=True)
                        idx += 1
                        buf = b''
                        break
                    if len(buf) < 4 + n:
                        break
                    self.rec.frame(cid, direction, idx, buf[:4 + n])
                    idx += 1
                    buf = buf[4 + n:]
        except OSError:
            pass
        if buf:
            self.rec.frame(cid, direction, idx, buf, partial=True)
        self.rec.note(cid, '%s closed' % direction)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def handle(self, client):
        with self.lock:
            self.nconn += 1
            cid = self.nconn
        try:
            up = socket.create_connection(self.upstream, timeout=10)
            up.settimeout(None)
        except OSError as e:
            self.rec.note(cid, 'upstream connect failed: %r' % e)
            client.close()
            return
        for s in (client, up):
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.rec.note(cid, 'open')
        with self.lock:
            self.active[cid] = (client, up)
        t1 = threading.Thread(target=self.pump, args=(cid, 'c2s', client, up), daemon=True)
        t2 = threading.Thread(target=self.pump, args=(cid, 's2c', up, client), daemon=True)
        t1.start()
        t2.start()
        t1.join()
        t2.join()
        for s in (client, up):
            s.close()
        with self.lock:
            self.active.pop(cid, None)

    def drop_all(self):
        with self.lock:
            items = list(self.active.items())
        for cid, socks in items:
            self.rec.note(cid, 'dropped by proxy')
            for s in socks:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def watch_drop_file(self):
        while not self.stop.is_set():
            if self.drop_file and os.path.exists(self.drop_file):
                self.drop_all()
                try:
                    os.unlink(self.drop_file)
                except OSError:
                    pass
            time.sleep(0.05)

    def serve(self, duration):
        ls = socket.socket()
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        ls.bind(self.listen)
        ls.listen(16)
        ls.settimeout(0.2)
        threading.Thread(target=self.watch_drop_file, daemon=True).start()
        end = time.monotonic() + duration if duration else None
        print('capture proxy %s:%d -> %s:%d' % (self.listen + self.upstream), flush=True)
        while not self.stop.is_set() and (end is None or time.monotonic() < end):
            try:
                c, _ = ls.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            threading.Thread(target=self.handle, args=(c,), daemon=True).start()
        ls.close()
        self.drop_all()
        time.sleep(0.2)


# --------------------------------------------------------------------------------------
# decoding a capture
# --------------------------------------------------------------------------------------

def load(path):
    frames, notes = [], []
    with open(path) as f:
        for line in f:
            r = json.loads(line)
            (notes if 'note' in r else frames).append(r)
    return frames, notes


def describe_frames(frames):
    """Return [(frame, description dict)] with requests matched to replies by xid."""
    # Pass 1: request op codes by (conn, xid). The two directions are logged by two
    # threads, so a reply may appear in the log before its request.
    pending = {}       # (conn, xid) -> op
    seen = set()
    for fr in frames:
        key = (fr['conn'], fr['dir'])
        if fr['dir'] != 'c2s' or fr.get('partial'):
            continue
        if key not in seen:
            seen.add(key)
            continue
        data = bytes.fromhex(fr['hex'])
        if len(data) >= 12:
            xid, op = struct.unpack('>ii', data[4:12])
            pending[(fr['conn'], xid)] = op
    first = {}         # (conn, dir) -> already saw the connect frame
    out = []
    for fr in frames:
        data = bytes.fromhex(fr['hex'])
        key = (fr['conn'], fr['dir'])
        d = {'len_prefix': None}
        if fr.get('partial') or len(data) < 4:
            out.append((fr, {'record': 'partial/unframed', 'raw': data.hex()}))
            continue
        payload = data[4:]
        d['len_prefix'] = struct.unpack('>i', data[:4])[0]
        r = Z.R(payload)
        try:
            if key not in first:
                first[key] = True
                if fr['dir'] == 'c2s':
                    d['record'] = 'ConnectRequest (%d bytes)' % len(payload)
                    d['fields'] = {'protocolVersion': r.int(), 'lastZxidSeen': r.long(),
                                   'timeOut': r.int(), 'sessionId': hex(r.long()),
                                   'passwd': r.buffer().hex()}
                    if r.left():
                        d['fields']['readOnly'] = r.bool()
                else:
                    d['record'] = 'ConnectResponse (%d bytes)' % len(payload)
                    d['fields'] = {'protocolVersion': r.int(), 'timeOut': r.int(),
                                   'sessionId': hex(r.long()), 'passwd': r.buffer().hex()}
                    if r.left():
                        d['fields']['readOnly'] = r.bool()
            elif fr['dir'] == 'c2s':
                xid, op = r.int(), r.int()
                d['record'] = 'RequestHeader + %s' % req_record_name(op)
                d['xid'], d['op'] = xid, op
                d['fields'] = decode_request(op, r)
            else:
                xid, zxid, err = r.int(), r.long(), r.int()
                d['xid'], d['zxid'], d['err'] = xid, zxid, err
                if xid == -1:
                    d['record'] = 'ReplyHeader + WatcherEvent'
                    d['op'] = 0
                    d['fields'] = {'type': r.int(), 'state': r.int(), 'path': r.ustring()}
                else:
                    op = pending.get((fr['conn'], xid), 11 if xid == -2 else None)
                    d['op'] = op
                    if err != 0 and op not in (14,):
                        d['record'] = 'ReplyHeader only (err %s)' % Z.ERR.get(err, err)
                    else:
                        d['record'] = 'ReplyHeader + %s' % resp_record_name(op)
                    d['fields'] = Z.dec_response(op, r) if op is not None and r.left() else {}
            if r.left():
                d['trailing'] = r.rest().hex()
        except Z.DecodeError as e:
            d['decode_error'] = str(e)
        out.append((fr, d))
    return out


REQ_NAMES = {1: 'CreateRequest', 2: 'DeleteRequest', 3: 'ExistsRequest', 4: 'GetDataRequest',
             5: 'SetDataRequest', 6: 'GetACLRequest', 7: 'SetACLRequest',
             8: 'GetChildrenRequest', 9: 'SyncRequest', 11: '(no body: ping)',
             12: 'GetChildren2Request', 13: 'CheckVersionRequest', 14: 'MultiOperationRecord',
             15: 'CreateRequest', 17: 'CheckWatchesRequest', 18: 'RemoveWatchesRequest',
             19: 'CreateRequest', 21: 'CreateTTLRequest', 22: 'MultiOperationRecord',
             100: 'AuthPacket', 101: 'SetWatches', 103: 'GetEphemeralsRequest',
             104: 'GetAllChildrenNumberRequest', 105: 'SetWatches2', 106: 'AddWatchRequest',
             107: '(no body: whoAmI)', -11: '(no body: closeSession)'}
RESP_NAMES = {1: 'CreateResponse', 2: '(no body)', 3: 'ExistsResponse', 4: 'GetDataResponse',
              5: 'SetDataResponse', 6: 'GetACLResponse', 7: 'SetACLResponse',
              8: 'GetChildrenResponse', 9: 'SyncResponse', 11: '(no body: ping)',
              12: 'GetChildren2Response', 13: 'SetDataResponse', 14: 'MultiResponse',
              15: 'Create2Response', 17: '(no body)', 18: '(no body)', 19: 'Create2Response',
              21: 'Create2Response', 22: 'MultiResponse', 100: '(no body)',
              101: '(no body)', 103: 'GetEphemeralsResponse',
              104: 'GetAllChildrenNumberResponse', 105: '(no body)',
              106: 'ErrorResponse', 107: 'WhoAmIResponse', -11: '(no body)'}


def req_record_name(op):
    return REQ_NAMES.get(op, 'unknown op %s' % op)


def resp_record_name(op):
    return RESP_NAMES.get(op, 'unknown op %s' % op)


def decode_request(op, r):
    f = {}
    if op in (1, 15, 19, 21):
        f['path'] = r.ustring()
        data = r.buffer()
        f['data'] = None if data is None else data.hex()
        f['acl'] = r.acls()
        f['flags'] = r.int()
        if op == 21:
            f['ttl'] = r.long()
    elif op in (2, 13):
        f['path'], f['version'] = r.ustring(), r.int()
    elif op in (3, 4, 8, 12):
        f['path'], f['watch'] = r.ustring(), r.bool()
    elif op == 5:
        f['path'] = r.ustring()
        data = r.buffer()
        f['data'] = None if data is None else data.hex()
        f['version'] = r.int()
    elif op in (6, 9, 104):
        f['path'] = r.ustring()
    elif op == 103:
        f['prefixPath'] = r.ustring()
    elif op == 7:
        f['path'], f['acl'], f['version'] = r.ustring(), r.acls(), r.int()
    elif op in (17, 18):
        f['path'], f['type'] = r.ustring(), r.int()
    elif op == 106:
        f['path'], f['mode'] = r.ustring(), r.int()
    elif op in (101, 105):
        f['relativeZxid'] = r.long()
        f['dataWatches'], f['existWatches'], f['childWatches'] = r.strings(), r.strings(), r.strings()
        if op == 105:
            f['persistentWatches'], f['persistentRecursiveWatches'] = r.strings(), r.strings()
    elif op == 100:
        f['type'], f['scheme'] = r.int(), r.ustring()
        a = r.buffer()
        f['auth'] = None if a is None else a.decode('utf-8', 'replace')
    elif op in (14, 22):
        ops = []
        while True:
            t, done, err = r.int(), r.bool(), r.int()
            if done:
                ops.append({'end': True, 'type': t, 'err': err})
                break
            sub = {'type': t, 'err': err}
            sub.update(decode_request(t, r))
            ops.append(sub)
        f['ops'] = ops
    return f


def jdump(o):
    return json.dumps(o, default=lambda x: x.hex() if isinstance(x, bytes) else str(x))


def cmd_show(path):
    frames, notes = load(path)
    for fr, d in describe_frames(frames):
        print('conn %d %s #%d len %d: %s %s' % (fr['conn'], fr['dir'], fr['index'], fr['len'],
                                                d.get('record'), jdump({k: v for k, v in d.items()
                                                                        if k != 'record'})))


def cmd_extract(path, outdir, specs):
    frames, _ = load(path)
    desc = {(fr['conn'], fr['dir'], fr['index']): (fr, d) for fr, d in describe_frames(frames)}
    os.makedirs(outdir, exist_ok=True)
    rows = []
    for spec in specs:
        name, _, sel = spec.partition('=')
        conn, direction, index = sel.split(':')
        fr, d = desc[(int(conn), direction, int(index))]
        with open(os.path.join(outdir, name + '.hex'), 'w') as f:
            f.write(fr['hex'] + '\n')
        fields = {k: v for k, v in d.items() if k not in ('record',)}
        rows.append('\t'.join([name + '.hex', direction, d.get('record', ''),
                               str(d.get('op', '')), str(fr['len']), jdump(fields)]))
    with open(os.path.join(outdir, 'index.tsv'), 'w') as f:
        f.write('file\tdirection\trecord\top\tframe_bytes_incl_prefix\tdecoded\n')
        for row in rows:
            f.write(row + '\n')
    print('wrote %d fixtures to %s' % (len(rows), outdir))


def parse_addr(s):
    h, _, p = s.rpartition(':')
    return (h or '127.0.0.1', int(p))


def main(argv):
    if len(argv) < 2 or argv[1] in ('-h', '--help'):
        print(__doc__)
        return 0
    cmd = argv[1]
    if cmd == 'proxy':
        import argparse
        ap = argparse.ArgumentParser(prog='capture.py proxy')
        ap.add_argument('--listen', required=True)
        ap.add_argument('--upstream', required=True)
        ap.add_argument('--log', required=True)
        ap.add_argument('--drop-file')
        ap.add_argument('--duration', type=float, default=0)
        a = ap.parse_args(argv[2:])
        px = Proxy(parse_addr(a.listen), parse_addr(a.upstream), a.log, a.drop_file)
        signal.signal(signal.SIGTERM, lambda *_: px.stop.set())
        signal.signal(signal.SIGINT, lambda *_: px.stop.set())
        signal.signal(signal.SIGUSR1, lambda *_: px.drop_all())
        px.serve(a.duration)
        return 0
    if cmd == 'show':
        cmd_show(argv[2])
        return 0
    if cmd == 'extract':
        cmd_extract(argv[2], argv[3], argv[4:])
        return 0
    print('unknown command %r' % cmd)
    return 2


if __name__ == '__main__':
    sys.exit(main(sys.argv))
