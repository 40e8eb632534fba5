#!/usr/bin/env python3
"""zkdiff.py - differential tester for ZooKeeper-compatible servers.

Runs ONE seeded random sequence of client operations against two servers
(a reference Apache ZooKeeper and a candidate, e.g. ferrozk) over the raw
ZooKeeper client protocol and compares every byte-level reply after decoding.

Pure Python standard library. The jute encoder/decoder below is written from
the protocol description (compat reference, section 1), not from ZooKeeper code.

Both servers must be FRESH (empty data dir): zxids are compared exactly.
Both must have the same tickTime (2000 by default: negotiated session
timeouts are compared exactly) and extendedTypesEnabled=true, and must NOT run
container/TTL garbage collection during the run (the reference is started with
-Dznode.container.checkIntervalMs=2147483647, see start_zk.sh).

Usage:
  zkdiff.py --reference 127.0.0.1:21901 --candidate 127.0.0.1:21902 --seed 1 --steps 300
  zkdiff.py ... --expiry 1           # also run 1 session-expiry scenario (slow: ~5-10 s)
  zkdiff.py ... --self-test          # tamper with a candidate reply: MUST report a difference
  zkdiff.py ... --trace              # print every step's reference transcript

  zkdiff.py ... --profile full       # also the corners where 3.8 and 3.9 differ
  zkdiff.py ... --profile common     # portable, and also none of the requests that 3.8.0
                                     # and newer releases (3.8.6, 3.9.5) answer differently
  zkdiff.py ... --toplevel-check     # also check (op 13) outside multi

Exit status: 0 = no difference ("N passed, 0 failed" as last line),
             1 = difference found (step, operation and both decoded transcripts printed),
             2 = usage / connection problem, or a server stopped accepting connections.

A 300-step run takes about 4-12 s against two local servers (most of it is the bounded
--close-wait after requests that may make the server close the connection).
Generation never sends requests known to crash ZooKeeper 3.8.0 (createTTL with a
non-TTL mode and a negative ttl kills the JVM) or known to hang it (a successful
top-level check gets no reply in 3.8.0). See FINDINGS.md for the observed behaviours.

How a step works (per server; the reference first, then the candidate):
  * the acting session sends the request, immediately followed by a ping
    (xid -2); everything received up to that ping's reply is the step's
    transcript for that session (reply, watch notifications, EOF, ...);
  * then every other live session sends a ping and collects what it received
    up to the ping reply.  ZooKeeper queues a session's notifications on its
    connection before it handles that session's later requests, so this ping
    barrier collects every event caused by the step deterministically and
    without sleeps (all waits are bounded by --io-timeout anyway).
  * the per-session transcripts (items in arrival order) are normalized and
    compared: reply xid, zxid, err, decoded body field by field (plus any
    trailing bytes), notifications (type, state, path, order), connect
    responses (length 36/37, timeout, session relation, password relation),
    EOF / timeout.
"""

import argparse
import base64
import bisect
import hashlib
import json
import random
import socket
import struct
import sys
import time

# --------------------------------------------------------------------------------------
# constants
# --------------------------------------------------------------------------------------

OP = {
    'notification': 0, 'create': 1, 'delete': 2, 'exists': 3, 'getData': 4, 'setData': 5,
    'getACL': 6, 'setACL': 7, 'getChildren': 8, 'sync': 9, 'ping': 11, 'getChildren2': 12,
    'check': 13, 'multi': 14, 'create2': 15, 'reconfig': 16, 'checkWatches': 17,
    'removeWatches': 18, 'createContainer': 19, 'deleteContainer': 20, 'createTTL': 21,
    'multiRead': 22, 'auth': 100, 'setWatches': 101, 'sasl': 102, 'getEphemerals': 103,
    'getAllChildrenNumber': 104, 'setWatches2': 105, 'addWatch': 106, 'whoAmI': 107,
    'createSession': -10, 'closeSession': -11, 'error': -1,
}
OPNAME = {v: k for k, v in OP.items()}

ERR = {
    0: 'OK', -1: 'SYSTEMERROR', -2: 'RUNTIMEINCONSISTENCY', -3: 'DATAINCONSISTENCY',
    -4: 'CONNECTIONLOSS', -5: 'MARSHALLINGERROR', -6: 'UNIMPLEMENTED', -7: 'OPERATIONTIMEOUT',
    -8: 'BADARGUMENTS', -12: 'UNKNOWNSESSION', -13: 'NEWCONFIGNOQUORUM',
    -14: 'RECONFIGINPROGRESS', -100: 'APIERROR', -101: 'NONODE', -102: 'NOAUTH',
    -103: 'BADVERSION', -108: 'NOCHILDRENFOREPHEMERALS', -110: 'NODEEXISTS', -111: 'NOTEMPTY',
    -112: 'SESSIONEXPIRED', -113: 'INVALIDCALLBACK', -114: 'INVALIDACL', -115: 'AUTHFAILED',
    -118: 'SESSIONMOVED', -119: 'NOTREADONLY', -120: 'EPHEMERALONLOCALSESSION',
    -121: 'NOWATCHER', -122: 'REQUESTTIMEOUT', -123: 'RECONFIGDISABLED',
    -124: 'SESSIONCLOSEDREQUIRESASLAUTH', -125: 'QUOTAEXCEEDED', -127: 'THROTTLEDOP',
}

XID_NOTIFICATION, XID_PING, XID_AUTH, XID_SETWATCHES = -1, -2, -4, -8

CONTAINER_OWNER = -(1 << 63)          # 0x8000000000000000 as a signed long
PERM_ALL = 31

DIGEST_USER, DIGEST_PW = 'u1', 'p1'
DIGEST_ID = DIGEST_USER + ':' + base64.b64encode(
    hashlib.sha1((DIGEST_USER + ':' + DIGEST_PW).encode()).digest()).decode()

ACL_OPEN = [(PERM_ALL, 'world', 'anyone')]


def digest_id(user, pw):
    return user + ':' + base64.b64encode(hashlib.sha1((user + ':' + pw).encode()).digest()).decode()


# --acl: the identities sessions authenticate as. Both servers must be started with
# DigestAuthenticationProvider.superDigest=<SUPER_DIGEST> (see tests/differential.rs).
USERS = {'u1': 'p1', 'u2': 'p2', 'u3': 'p3'}
SUPER_PW = 'superpw'
SUPER_DIGEST = digest_id('super', SUPER_PW)
# Who each slot usually is: s0 = u1, s1 = u2 and u3, s2 = the super user, s3 = nobody
# (s3 never authenticates, except as ip, which every connection already is).
HOME_IDS = {'s0': ['u1'], 's1': ['u2', 'u3'], 's2': ['super'], 's3': []}


class DecodeError(Exception):
    pass


# --------------------------------------------------------------------------------------
# jute encoding (big endian; buffer/ustring/vector: int32 length, -1 = null)
# --------------------------------------------------------------------------------------

class W:
    def __init__(self):
        self.parts = []

    def int(self, v):
        self.parts.append(struct.pack('>i', v))
        return self

    def long(self, v):
        self.parts.append(struct.pack('>q', v))
        return self

    def bool(self, v):
        self.parts.append(b'\x01' if v else b'\x00')
        return self

    def buffer(self, b):
        if b is None:
            return self.int(-1)
        self.int(len(b))
        self.parts.append(bytes(b))
        return self

    def ustring(self, s):
        if s is None:
            return self.int(-1)
        return self.buffer(s.encode('utf-8', 'surrogatepass'))

    def strings(self, lst):
        if lst is None:
            return self.int(-1)
        self.int(len(lst))
        for s in lst:
            self.ustring(s)
        return self

    def acls(self, acl):
        if acl is None:
            return self.int(-1)
        self.int(len(acl))
        for perms, scheme, ident in acl:
            self.int(perms).ustring(scheme).ustring(ident)
        return self

    def raw(self, b):
        self.parts.append(b)
        return self

    def bytes(self):
        return b''.join(self.parts)


class R:
    def __init__(self, data):
        self.d = data
        self.p = 0

    def take(self, n):
        if n < 0 or self.p + n > len(self.d):
            raise DecodeError('need %d bytes at offset %d of %d' % (n, self.p, len(self.d)))
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def int(self):
        return struct.unpack('>i', self.take(4))[0]

    def long(self):
        return struct.unpack('>q', self.take(8))[0]

    def bool(self):
        v = self.take(1)[0]
        return v if v > 1 else bool(v)   # a byte other than 0/1 is reported raw

    def buffer(self):
        n = self.int()
        if n == -1:
            return None
        return self.take(n)

    def ustring(self):
        b = self.buffer()
        return None if b is None else b.decode('utf-8', 'surrogateescape')

    def strings(self):
        n = self.int()
        if n == -1:
            return None
        return [self.ustring() for _ in range(n)]

    def acls(self):
        n = self.int()
        if n == -1:
            return None
        return [(self.int(), self.ustring(), self.ustring()) for _ in range(n)]

    def stat(self):
        return {
            'czxid': self.long(), 'mzxid': self.long(), 'ctime': self.long(),
            'mtime': self.long(), 'version': self.int(), 'cversion': self.int(),
            'aversion': self.int(), 'ephemeralOwner': self.long(), 'dataLength': self.int(),
            'numChildren': self.int(), 'pzxid': self.long(),
        }

    def left(self):
        return len(self.d) - self.p

    def rest(self):
        b = self.d[self.p:]
        self.p = len(self.d)
        return b


# --------------------------------------------------------------------------------------
# request bodies
# --------------------------------------------------------------------------------------

def enc_request(op, a):
    """Encode the body (without RequestHeader) of request `op` with arguments dict `a`."""
    w = W()
    if op in (1, 15, 19):
        w.ustring(a['path']).buffer(a['data']).acls(a['acl']).int(a['flags'])
    elif op == 21:
        w.ustring(a['path']).buffer(a['data']).acls(a['acl']).int(a['flags']).long(a['ttl'])
    elif op in (2, 13):
        w.ustring(a['path']).int(a['version'])
    elif op in (3, 4, 8, 12):
        w.ustring(a['path']).bool(a['watch'])
    elif op == 5:
        w.ustring(a['path']).buffer(a['data']).int(a['version'])
    elif op in (6, 9, 104):
        w.ustring(a['path'])
    elif op == 103:
        w.ustring(a['prefix'])
    elif op == 7:
        w.ustring(a['path']).acls(a['acl']).int(a['version'])
    elif op in (17, 18):
        w.ustring(a['path']).int(a['type'])
    elif op == 106:
        w.ustring(a['path']).int(a['mode'])
    elif op == 101:
        w.long(a['rel']).strings(a['data']).strings(a['exist']).strings(a['child'])
    elif op == 105:
        w.long(a['rel']).strings(a['data']).strings(a['exist']).strings(a['child'])
        w.strings(a['persistent']).strings(a['recursive'])
    elif op == 100:
        w.int(0).ustring(a['scheme']).buffer(a['auth'])
    elif op in (14, 22):
        for sub in a['ops']:
            sop = sub['op']
            w.int(sop).bool(False).int(-1)
            w.raw(enc_request(sop, sub))
        w.int(-1).bool(True).int(-1)
    elif op in (11, -11, 107):
        pass
    else:  # unknown / raw
        w.raw(a.get('raw', b''))
    return w.bytes()


# --------------------------------------------------------------------------------------
# response bodies
# --------------------------------------------------------------------------------------

def dec_multi(r):
    out = []
    while True:
        t, done, err = r.int(), r.bool(), r.int()
        if done:
            out.append({'end': True, 'type': t, 'err': err})
            return out
        res = {'type': OPNAME.get(t, t), 'hdr_err': err}
        if t == -1:
            res['err'] = r.int()
        elif t == 1:
            res['path'] = r.ustring()
        elif t in (15, 19, 21):
            res['path'] = r.ustring()
            res['stat'] = r.stat()
        elif t == 5:
            res['stat'] = r.stat()
        elif t in (2, 13):
            pass
        elif t == 4:
            res['data'] = r.buffer()
            res['stat'] = r.stat()
        elif t == 8:
            res['children'] = r.strings()
        else:
            res['undecoded'] = r.rest().hex()
            out.append(res)
            return out
        out.append(res)


def dec_response(op, r):
    """Decode a response body; anything left over is reported as 'trailing'."""
    b = {}
    if op == 1 or op == 9:
        b['path'] = r.ustring()
    elif op in (15, 19, 21):
        b['path'] = r.ustring()
        if r.left():
            b['stat'] = r.stat()
    elif op in (3, 5, 7):
        b['stat'] = r.stat()
    elif op == 13:
        if r.left() >= 68:
            b['stat'] = r.stat()
    elif op == 4:
        b['data'] = r.buffer()
        b['stat'] = r.stat()
    elif op == 6:
        b['acl'] = r.acls()
        b['stat'] = r.stat()
    elif op == 8:
        b['children'] = r.strings()
    elif op == 12:
        b['children'] = r.strings()
        b['stat'] = r.stat()
    elif op in (14, 22):
        b['results'] = dec_multi(r)
    elif op == 103:
        b['ephemerals'] = r.strings()
    elif op == 104:
        b['totalNumber'] = r.int()
    elif op == 106:
        if r.left() >= 4:
            b['errorResponse'] = r.int()
    elif op == 107:
        n = r.int()
        b['clientInfo'] = None if n == -1 else [(r.ustring(), r.ustring()) for _ in range(n)]
    return b


# --------------------------------------------------------------------------------------
# connections and sessions
# --------------------------------------------------------------------------------------

class Conn:
    def __init__(self, addr, timeout):
        self.sock = socket.create_connection(addr, timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b''
        self.eof = False

    def send(self, payload):
        try:
            self.sock.sendall(struct.pack('>i', len(payload)) + payload)
            return True
        except OSError:
            return False

    def read_frame(self, deadline):
        """Return a frame payload, 'eof' or 'timeout'."""
        while True:
            if len(self.buf) >= 4:
                n = struct.unpack('>i', self.buf[:4])[0]
                if n < 0 or n > 16 * 1024 * 1024:
                    return 'eof'
                if len(self.buf) >= 4 + n:
                    f = self.buf[4:4 + n]
                    self.buf = self.buf[4 + n:]
                    return f
            if self.eof:
                return 'eof'
            rem = deadline - time.monotonic()
            if rem <= 0:
                return 'timeout'
            self.sock.settimeout(rem)
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                return 'timeout'
            except OSError:
                chunk = b''
            if not chunk:
                self.eof = True
            self.buf += chunk

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


class Session:
    def __init__(self, slot):
        self.slot = slot
        self.conn = None
        self.sid = 0
        self.passwd = b'\0' * 16
        self.timeout = 0
        self.xid = 0
        self.last_zxid = 0
        self.state = 'closed'      # 'open' | 'closed'
        self.pending = {}          # xid -> op
        self.label = None

    def next_xid(self):
        self.xid += 1
        return self.xid


class Server:
    def __init__(self, name, addr, args):
        self.name = name
        self.addr = addr
        self.args = args
        self.sessions = {}
        self.labels = {}           # session id -> label ("S1", "S2", ...)
        self.nlabels = 0
        self.ztime = {}            # zxid -> txn time (ms) seen in stats
        self.zsorted = []
        self.last_zxid = 0         # lastProcessedZxid as reported by ping replies
        self.tamper = None

    def label_of(self, sid):
        if sid not in self.labels:
            self.nlabels += 1
            self.labels[sid] = 'S%d' % self.nlabels
        return self.labels[sid]


# --------------------------------------------------------------------------------------
# reading transcripts
# --------------------------------------------------------------------------------------

def decode_frame(srv, sess, frame):
    r = R(frame)
    try:
        xid, zxid, err = r.int(), r.long(), r.int()
    except DecodeError:
        return {'k': 'garbage', 'hex': frame.hex()}
    if xid == XID_NOTIFICATION:
        it = {'k': 'event', 'xid': xid, 'zxid': zxid, 'err': err}
        try:
            it['type'], it['state'], it['path'] = r.int(), r.int(), r.ustring()
        except DecodeError as e:
            it['decode_error'] = str(e)
        if r.left():
            it['trailing'] = r.rest().hex()
        return it
    if xid == XID_PING:
        op = OP['ping']
    elif xid == XID_SETWATCHES:
        op = sess.pending.pop(xid, OP['setWatches'])
    elif xid == XID_AUTH:
        op = OP['auth']
    else:
        op = sess.pending.pop(xid, None)
    it = {'k': 'reply', 'op': OPNAME.get(op, op), 'xid': xid, 'zxid': zxid, 'err': err}
    if zxid > 0:
        sess.last_zxid = max(sess.last_zxid, zxid)
    if r.left():
        if op is None:
            it['body_hex'] = r.rest().hex()
        else:
            try:
                it['body'] = dec_response(op, r)
            except DecodeError as e:
                it['decode_error'] = str(e)
                r.p = 16
                it['body_hex'] = r.rest().hex()
            if r.left():
                it['trailing'] = r.rest().hex()
    return it


def read_until(srv, sess, out, want_pings, deadline, want_xid=None):
    """Read frames into `out` until `want_pings` ping replies have arrived (or, with
    want_xid, until the reply carrying that xid), or EOF, or timeout."""
    got = 0
    while True:
        if want_xid is None and got >= want_pings:
            return True
        f = sess.conn.read_frame(deadline)
        if f == 'eof':
            out.append({'k': 'eof'})
            drop_conn(sess)
            return False
        if f == 'timeout':
            out.append({'k': 'timeout'})
            drop_conn(sess)
            return False
        it = decode_frame(srv, sess, f)
        out.append(it)
        if it['k'] == 'reply' and it['xid'] == XID_PING:
            got += 1
            srv.last_zxid = max(srv.last_zxid, it['zxid'])
        if want_xid is not None and it['k'] == 'reply' and it['xid'] == want_xid:
            return True


def wait_close(srv, sess, out, secs):
    """Collect frames for `secs` seconds; return False if the server closed."""
    deadline = time.monotonic() + secs
    while True:
        f = sess.conn.read_frame(deadline)
        if f == 'timeout':
            return True
        if f == 'eof':
            out.append({'k': 'eof'})
            drop_conn(sess)
            return False
        out.append(decode_frame(srv, sess, f))


def drop_conn(sess):
    if sess.conn:
        sess.conn.close()
    sess.conn = None
    sess.pending.clear()


def send_req(sess, xid, op, body=b''):
    if op not in (11,) and xid not in (XID_AUTH,):
        sess.pending[xid] = op
    return sess.conn.send(W().int(xid).int(op).bytes() + body)


def ping(sess):
    return send_req(sess, XID_PING, OP['ping'])


def connect(srv, sess, out, form45, timeout_req, sid=0, passwd=None, last_zxid=None,
            readonly=False):
    """Open a TCP connection and send a ConnectRequest (44 or 45 bytes).
    Appends the decoded ConnectResponse (or eof/timeout) to out."""
    drop_conn(sess)
    try:
        sess.conn = Conn(srv.addr, srv.args.io_timeout)
    except OSError as e:
        out.append({'k': 'connect-refused', 'error': type(e).__name__})
        return False
    w = W().int(0).long(sess.last_zxid if last_zxid is None else last_zxid)
    w.int(timeout_req).long(sid).buffer(passwd if passwd is not None else b'\0' * 16)
    if form45:
        w.bool(readonly)
    sess.conn.send(w.bytes())
    f = sess.conn.read_frame(time.monotonic() + srv.args.io_timeout)
    if f in ('eof', 'timeout'):
        out.append({'k': 'connect-' + f})
        drop_conn(sess)
        return False
    r = R(f)
    it = {'k': 'connect', 'len': len(f), 'req_len': 45 if form45 else 44}
    try:
        it['protocolVersion'] = r.int()
        it['timeOut'] = r.int()
        it['sessionId'] = r.long()
        it['passwd'] = r.buffer()
        if r.left():
            it['readOnly'] = r.bool()
        if r.left():
            it['trailing'] = r.rest().hex()
    except DecodeError as e:
        it['decode_error'] = str(e)
    out.append(it)
    if it.get('sessionId'):
        srv.label_of(it['sessionId'])      # session labels follow creation order
    if it.get('timeOut', 0) > 0 and it.get('sessionId', 0) != 0:
        new = it['sessionId'] != sess.sid
        it['rel'] = 'new-session' if new else 'same-session'
        if not new:
            it['passwd_rel'] = 'same' if it['passwd'] == sess.passwd else 'changed'
        sess.sid, sess.passwd, sess.timeout = it['sessionId'], it['passwd'], it['timeOut']
        sess.state = 'open'
        sess.xid = 0 if new else sess.xid
        if new:
            sess.last_zxid = 0
        return True
    # refused (expired / bad password): the server closes the connection
    it['rel'] = 'refused'
    f = sess.conn.read_frame(time.monotonic() + srv.args.io_timeout)
    out.append({'k': 'eof'} if f == 'eof' else
               {'k': 'timeout'} if f == 'timeout' else decode_frame(srv, sess, f))
    drop_conn(sess)
    return False


# --------------------------------------------------------------------------------------
# executing a step on one server
# --------------------------------------------------------------------------------------

def exec_step(srv, step):
    """Apply `step` to server `srv`; return {slot: [items]} transcripts."""
    args = srv.args
    tr = {s: [] for s in srv.sessions}
    slot = step['slot']
    sess = srv.sessions[slot]
    out = tr[slot]
    kind = step['kind']
    deadline = time.monotonic() + args.io_timeout

    if kind == 'open':
        if connect(srv, sess, out, step['form45'], step['timeout'], readonly=step['readonly']):
            ping(sess)
            read_until(srv, sess, out, 1, deadline)
    elif kind == 'reconnect':
        # client-side disconnect, then re-attach to the same session
        variant = step['variant']
        drop_conn(sess)
        if variant == 'badpass':
            bad = bytes((b ^ 0x5a) for b in sess.passwd)
            connect(srv, sess, out, step['form45'], sess.timeout, sid=sess.sid, passwd=bad)
        elif variant == 'future-zxid':
            connect(srv, sess, out, step['form45'], sess.timeout, sid=sess.sid,
                    passwd=sess.passwd, last_zxid=srv.last_zxid + 1000)
        ok = connect(srv, sess, out, step['form45'], step['timeout'], sid=sess.sid,
                     passwd=sess.passwd)
        if ok:
            ping(sess)
            read_until(srv, sess, out, 1, deadline)
    else:
        op = step['op']
        pings = 1
        if kind == 'ping':
            xid = XID_PING
            pings = 2
        elif op in (101, 105):
            xid = XID_SETWATCHES
        elif op == 100:
            xid = XID_AUTH
        else:
            xid = sess.next_xid()
        body = step.get('raw_body')
        if body is None:
            body = enc_request(op, step['args'])
        send_req(sess, xid, op, body)
        if step.get('nopipe'):
            # requests after which the server may close the connection: wait for the
            # reply first, then (if the connection survived) use the ping barrier
            alive = read_until(srv, sess, out, 0, deadline, want_xid=xid)
            # ZooKeeper closes after a failed auth only: after a successful one the ping
            # barrier below is enough (a server that closed anyway answers it with EOF).
            auth_ok = (op == 100 and out and out[-1].get('k') == 'reply'
                       and out[-1].get('xid') == XID_AUTH and out[-1].get('err') == 0)
            if alive and op != -11 and not auth_ok:
                # did the server close the connection after its reply? Wait for EOF a
                # bounded time WITHOUT sending anything: ZooKeeper answers e.g.
                # UNIMPLEMENTED and then queues a close, and a request sent in between
                # may or may not be answered (a race inside ZooKeeper).
                alive = wait_close(srv, sess, out, args.close_wait)
            if alive and op != -11:
                ping(sess)
                alive = read_until(srv, sess, out, 1, time.monotonic() + args.io_timeout)
        else:
            ping(sess)
            alive = read_until(srv, sess, out, pings, deadline)
        if op == -11:
            if alive:
                # reply arrived; the server should now close the connection
                f = sess.conn.read_frame(time.monotonic() + args.io_timeout)
                out.append({'k': 'eof'} if f == 'eof' else
                           {'k': 'timeout'} if f == 'timeout' else decode_frame(srv, sess, f))
            drop_conn(sess)
            sess.state = 'closed'
        elif not alive and sess.state == 'open':
            # the server dropped the connection (e.g. unknown op code): re-attach
            # immediately with the same session id/password so that the session
            # cannot expire at a non-deterministic moment.
            if connect(srv, sess, out, True, sess.timeout, sid=sess.sid, passwd=sess.passwd):
                ping(sess)
                read_until(srv, sess, out, 1, time.monotonic() + args.io_timeout)
            else:
                sess.state = 'closed'

    barrier(srv, tr, exclude=(slot,))
    return tr


def barrier(srv, tr, exclude=()):
    """Ping every other live session and collect what it received up to the reply."""
    deadline = time.monotonic() + srv.args.io_timeout
    for s, sess in srv.sessions.items():
        if s in exclude or sess.conn is None:
            continue
        ping(sess)
        if not read_until(srv, sess, tr.setdefault(s, []), 1, deadline):
            if sess.state == 'open':
                out = tr[s]
                if connect(srv, sess, out, True, sess.timeout, sid=sess.sid, passwd=sess.passwd):
                    ping(sess)
                    read_until(srv, sess, out, 1, time.monotonic() + srv.args.io_timeout)
                else:
                    sess.state = 'closed'


# --------------------------------------------------------------------------------------
# normalization and comparison
# --------------------------------------------------------------------------------------

class Norm:
    """Turns raw transcript items into comparable values for one server."""

    def __init__(self, srv, step_ctx, strict_order):
        self.srv = srv
        self.ctx = step_ctx
        self.strict = strict_order
        self.problems = []

    def time(self, zxid, t, what):
        """Times cannot be compared across servers. Instead: txn time is a function
        of the zxid (same zxid -> same time), non-decreasing in zxid, plausible, and
        0 exactly for zxid-0 nodes (if the server says so)."""
        if zxid == 0:
            return ('zxid0', 'zero' if t == 0 else 'nonzero')
        srv = self.srv
        prev = srv.ztime.get(zxid)
        if prev is not None:
            return 'ok' if prev == t else 'INCONSISTENT(%s zxid %#x: %d vs %d)' % (
                what, zxid, prev, t)
        i = bisect.bisect_left(srv.zsorted, zxid)
        if i > 0 and srv.ztime[srv.zsorted[i - 1]] > t:
            return 'NONMONOTONIC(%s zxid %#x time %d < time of zxid %#x)' % (
                what, zxid, t, srv.zsorted[i - 1])
        if i < len(srv.zsorted) and srv.ztime[srv.zsorted[i]] < t:
            return 'NONMONOTONIC(%s zxid %#x time %d > time of zxid %#x)' % (
                what, zxid, t, srv.zsorted[i])
        now = int(time.time() * 1000)
        if not (now - 3 * 86400000 < t <= now + 60000):
            return 'IMPLAUSIBLE(%s %d)' % (what, t)
        srv.ztime[zxid] = t
        srv.zsorted.insert(i, zxid)
        return 'ok'

    def owner(self, o):
        if o == 0:
            return 0
        if o == CONTAINER_OWNER:
            return 'CONTAINER'
        u = o & 0xFFFFFFFFFFFFFFFF
        if u >> 56 == 0xFF:
            return ('TTL', u & 0x00FFFFFFFFFFFFFF)
        lab = self.srv.labels.get(o)
        return ('session', lab) if lab else ('unknown-session-id', hex(u))

    def stat(self, st):
        out = dict(st)
        ct, mt = out.pop('ctime'), out.pop('mtime')
        out['ctime'] = self.time(st['czxid'], ct, 'ctime')
        out['mtime'] = self.time(st['mzxid'], mt, 'mtime')
        out['mtime>=ctime'] = mt >= ct
        if st['czxid'] == st['mzxid']:
            out['ctime==mtime'] = ct == mt
        out['ephemeralOwner'] = self.owner(st['ephemeralOwner'])
        return out

    def value(self, key, v):
        if isinstance(v, dict):
            if key == 'stat' or 'czxid' in v:
                return self.stat(v)
            return {k: self.value(k, x) for k, x in v.items()}
        if isinstance(v, list):
            vals = [self.value(key, x) for x in v]
            if key in ('children', 'ephemerals') and not self.strict:
                # ZooKeeper returns these in Java HashSet iteration order, which no
                # client may rely on: compare as sets unless --strict-order.
                vals = sorted(vals, key=repr)
            return vals
        if isinstance(v, bytes):
            return 'b:' + v.hex()
        return v

    def evzxid(self, z):
        # ZooKeeper 3.8 puts -1 in a notification's ReplyHeader.zxid; 3.9 puts the zxid
        # of the txn that triggered it. Either is accepted: a value other than -1 must lie
        # in the range of zxids of the step (or, for events fired by setWatches/addWatch,
        # which no txn of the step caused, anywhere in (0, lastZxid]).
        if z == -1:
            return ('EVZ', -1, True)
        lo, hi = self.ctx['zxid_before'], self.srv.last_zxid
        ok = (lo < z <= hi) or (lo == hi and 0 < z <= hi)
        return ('EVZ', z, ok)

    def item(self, it):
        k = it['k']
        if k == 'event':
            out = {'k': 'event', 'xid': it['xid'], 'zxid': self.evzxid(it['zxid']),
                   'err': it['err'], 'type': it.get('type'), 'state': it.get('state'),
                   'path': it.get('path')}
            for extra in ('decode_error', 'trailing'):
                if extra in it:
                    out[extra] = it[extra]
            return out
        if k == 'connect':
            out = dict(it)
            sid = out.pop('sessionId', None)
            pw = out.pop('passwd', None)
            out['session'] = (0 if sid == 0 else self.srv.labels.get(sid, 'unlabelled')
                              if sid is not None else None)
            out['passwd'] = (None if pw is None else 'zeros16' if pw == b'\0' * 16
                             else 'len%d' % len(pw))
            return out
        if k == 'reply':
            out = {}
            for key, v in it.items():
                out[key] = self.value(key, v)
            return out
        return dict(it)

    def transcript(self, items, unordered_events):
        out = [self.item(i) for i in items]
        if unordered_events:
            # runs of consecutive notifications are compared as multisets when the step
            # deletes several ephemerals at once (closeSession / expiry): ZooKeeper walks
            # the session's ephemeral paths in Java HashSet order.
            res, run = [], []
            for x in out + [None]:
                if x is not None and x.get('k') == 'event':
                    run.append(x)
                    continue
                res.extend(sorted(run, key=lambda e: repr(sorted(
                    (kk, vv) for kk, vv in e.items() if kk != 'zxid'))))
                run = []
                if x is not None:
                    res.append(x)
            out = res
        return out


def same(a, b):
    if isinstance(a, tuple) and len(a) == 3 and a[:1] == ('EVZ',) and \
            isinstance(b, tuple) and len(b) == 3 and b[:1] == ('EVZ',):
        if a[1] == b[1]:
            return True
        return (a[1] == -1 and b[2]) or (b[1] == -1 and a[2])
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)) and isinstance(b, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def first_diff(a, b, path=''):
    if same(a, b):
        return None
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            if k not in a or k not in b:
                return path + '.' + str(k) + ' (missing on one side)'
            d = first_diff(a[k], b[k], path + '.' + str(k))
            if d:
                return d
    if isinstance(a, list) and isinstance(b, list):
        for i, (x, y) in enumerate(zip(a, b)):
            d = first_diff(x, y, '%s[%d]' % (path, i))
            if d:
                return d
        if len(a) != len(b):
            return '%s (length %d vs %d)' % (path, len(a), len(b))
    return path or '(value)'


# --------------------------------------------------------------------------------------
# random step generation (decisions use the reference's observed state only)
# --------------------------------------------------------------------------------------

ALPHA = 'abc'

INVALID_PATHS = [
    'a', 'a/b', '/a/', '/a/b/', '//', '//a', '/a//b', '/.', '/..', '/a/.', '/a/..',
    '/a/./b', '/a/../b', '/a\x00b', '\x00', '', '/a\x01', '/\x7f', '/\u0085',
    '/\ud7ff', '/\ufff0', '/zookeeper/', '.',
]
VALID_ODD_PATHS = ['/.a', '/a.', '/..a', '/\u00e9', '/a b', '/-', '/a/...']
SYSTEM_PATHS = ['/zookeeper', '/zookeeper/quota', '/zookeeper/config', '/zookeeper/x',
                '/zookeeper/quota/a', '/']

# (weight, acl, portable?). All are portable: the reference (Debian 3.8.0-11+deb12u2)
# carries the CVE-2024-23944 fix, i.e. it checks READ on the node when it delivers any
# watch event (one-shot or persistent) and silently drops the event otherwise, like
# upstream 3.8.4 / 3.9.2+. (An unpatched 3.8.0 would leak recursive-watch events for
# unreadable nodes; set the flag to False for such ACLs if you use one.)
ACL_CHOICES_ALL = [
    (60, ACL_OPEN, True),
    (4, [(1 | 16, 'world', 'anyone')], True),                        # READ|ADMIN
    (4, [(1 | 4 | 16, 'world', 'anyone')], True),                    # READ|CREATE|ADMIN
    (3, [(31 - 16, 'world', 'anyone')], True),                       # all but ADMIN
    (2, [(1, 'world', 'anyone')], True),                             # READ only
    (3, [(PERM_ALL, 'digest', DIGEST_ID)], True),
    (2, [(PERM_ALL, 'digest', DIGEST_ID), (1, 'world', 'anyone')], True),
    (3, [(PERM_ALL, 'auth', '')], True),
    (3, [(PERM_ALL, 'ip', '127.0.0.1')], True),
    (1, [(PERM_ALL, 'ip', '10.0.0.0/8')], True),
    (2, [(PERM_ALL, 'world', 'anyone'), (PERM_ALL, 'world', 'anyone')], True),   # duplicate
    (2, [], True),                                                   # empty -> INVALIDACL
    (1, [(PERM_ALL, 'foo', 'bar')], True),                           # unknown scheme
    (1, [(PERM_ALL, 'world', 'nobody')], True),
    (1, [(0, 'world', 'anyone')], True),                            # no perms
    (1, [(PERM_ALL, 'ip', '999.1.1.1')], True),
    (1, [(PERM_ALL, 'digest', 'nocolon')], True),
    (1, [(64 | 31, 'world', 'anyone')], True),                       # unknown perm bit
]
# --acl: ACLs that allow some identities some operations and deny the rest.
U1, U2, U3 = (digest_id(u, pw) for u, pw in sorted(USERS.items()))
PR, PW, PC, PD, PA = 1, 2, 4, 8, 16
ACL_CHOICES_ACL_ALL = [
    (14, ACL_OPEN, True),
    (4, [(PR | PA, 'world', 'anyone')], True),
    (4, [(PR | PC | PA, 'world', 'anyone')], True),
    (3, [(PC | PD, 'world', 'anyone')], True),                          # no READ
    (3, [(PR, 'world', 'anyone')], True),
    (2, [(PW | PC | PD | PA, 'world', 'anyone')], True),                 # all but READ
    (6, [(PERM_ALL, 'digest', U1)], True),
    (4, [(PERM_ALL, 'digest', U2), (PR, 'world', 'anyone')], True),
    (4, [(PR | PW, 'digest', U1), (PC | PD | PA, 'digest', U2)], True),
    (3, [(PA, 'digest', U3), (PR | PC, 'digest', U1)], True),
    (3, [(PR | PC | PD, 'digest', U3)], True),
    (4, [(PERM_ALL, 'auth', '')], True),
    (3, [(PR | PA, 'auth', ''), (PC, 'world', 'anyone')], True),
    (2, [(PERM_ALL, 'auth', ''), (PERM_ALL, 'digest', U1)], True),   # may duplicate u1
    (3, [(PERM_ALL, 'ip', '127.0.0.1')], True),
    (3, [(PR | PC | PD, 'ip', '127.0.0.0/8')], True),
    (2, [(PERM_ALL, 'ip', '127.0.0.1/32')], True),
    (2, [(PERM_ALL, 'ip', '127.0.0.2')], True),                       # not us
    (2, [(PERM_ALL, 'ip', '127.0.0.0/31'), (PR, 'digest', U2)], True),
    (2, [(PERM_ALL, 'ip', '10.0.0.0/8'), (PR, 'world', 'anyone')], True),
    (1, [(PERM_ALL, 'ip', '0.0.0.0/0')], True),
    (1, [(PERM_ALL, 'ip', '128.0.0.0/1')], True),                    # not us
    (1, [(PERM_ALL, 'ip', '127.0.0.1/25')], True),                   # host bits set
    (1, [(PERM_ALL, 'ip', '127.000.0.01')], True),                   # Java's int parsing
    (1, [(PERM_ALL, 'ip', '+127.0.0.1')], True),
    (1, [(PERM_ALL, 'ip', '127.0.0.1/33')], True),                   # INVALIDACL
    (1, [(PERM_ALL, 'ip', '127.0.0.1/')], True),
    (1, [(PERM_ALL, 'ip', '127.0.0')], True),
    (1, [(PERM_ALL, 'ip', 'localhost')], True),
    (1, [(PERM_ALL, 'ip', '::1')], False),                           # 3.8: v4 only
    (1, [(PERM_ALL, 'ip', '::/0')], False),
    (1, [(PERM_ALL, 'super', '')], True),                            # no such provider
    (1, [(PERM_ALL, 'digest', 'a:b:')], True),                       # valid for Java
    (1, [(PERM_ALL, 'digest', ':b')], True),
    (1, [(PERM_ALL, 'digest', 'a:b:c')], True),
    (1, [(PERM_ALL, 'digest', 'a:')], True),
    (1, [(PERM_ALL, 'x509', 'CN=x')], True),
    (1, [], True),
    (1, [(0, 'digest', U1)], True),
]
ACL_CHOICES = [(w, a) for w, a, _ in ACL_CHOICES_ALL]
ACL_CHOICES_PORTABLE = [(w, a) for w, a, ok in ACL_CHOICES_ALL if ok]


def wchoice(rng, items):
    tot = sum(w for w, _ in items)
    x = rng.uniform(0, tot)
    for w, v in items:
        x -= w
        if x <= 0:
            return v
    return items[-1][1]


class Model:
    """What the generator knows, learned from the reference's replies (only used to
    bias choices towards existing nodes; correctness never depends on it)."""

    def __init__(self):
        self.seq_paths = []
        self.nodes = set()     # paths believed to exist
        self.versions = {}     # path -> (version, cversion, aversion)
        self.max_zxid = 0
        self.exp_counter = 0

    def _note(self, op, req_path, err, body):
        if err == -101 and req_path:
            self.nodes.discard(req_path)
        if err != 0:
            return
        path = body.get('path') if op in (1, 15, 19, 21) else req_path
        if op in (1, 15, 19, 21) and path:
            self.nodes.add(path)
            if path != req_path and path not in self.seq_paths and len(self.seq_paths) < 40:
                self.seq_paths.append(path)
        if op == 2 and req_path:
            self.nodes.discard(req_path)
            for p in list(self.nodes):
                if p.startswith(req_path + '/'):
                    self.nodes.discard(p)
        st = body.get('stat')
        if st and path:
            self.nodes.add(path)
            self.versions[path] = (st['version'], st['cversion'], st['aversion'])

    def learn(self, step, tr):
        for items in tr.values():
            for it in items:
                z = it.get('zxid', 0)
                if isinstance(z, int) and z > self.max_zxid:
                    self.max_zxid = z
        args = step.get('args') or {}
        for it in tr.get(step['slot'], []):
            if it.get('k') != 'reply' or it.get('xid') in (XID_PING,):
                continue
            body = it.get('body') or {}
            op = step.get('op')
            if op in (14, 22):
                for sub, res in zip(args.get('ops', []), body.get('results') or []):
                    if res.get('type') == 'error':
                        self._note(sub['op'], sub.get('path'), res.get('err'), res)
                    else:
                        self._note(sub['op'], sub.get('path'), 0, res)
            elif isinstance(op, int):
                self._note(op, args.get('path'), it['err'], body)


def gen_path(rng, model, allow_invalid=True, for_create=False):
    x = rng.random()
    nodes = sorted(model.nodes)
    if for_create and x < 0.45:
        parents = ['/'] + [n for n in nodes if n.count('/') < 3 and not n.startswith('/zookeeper')]
        par = rng.choice(parents)
        return par.rstrip('/') + '/' + rng.choice(ALPHA)
    if not for_create and x < 0.35 and nodes:
        return rng.choice(nodes)
    x = rng.random()
    if x < 0.62:
        depth = wchoice(rng, [(45, 1), (35, 2), (20, 3)])
        return '/' + '/'.join(rng.choice(ALPHA[:3] if d < 2 else ALPHA[:2]) for d in range(depth))
    if x < 0.77 and model.seq_paths:
        return rng.choice(model.seq_paths)
    if x < 0.84:
        return rng.choice(SYSTEM_PATHS)
    if x < 0.88:
        return rng.choice(VALID_ODD_PATHS)
    if allow_invalid:
        return rng.choice(INVALID_PATHS)
    return '/a'


def gen_data(rng):
    x = rng.random()
    if x < 0.06:
        return None
    if x < 0.1:
        return b''
    if x < 0.13:
        return bytes(rng.randrange(256) for _ in range(rng.choice((300, 1024, 5000))))
    return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 8)))


def gen_version(rng, model, path, idx):
    cur = model.versions.get(path, (0, 0, 0))[idx]
    return wchoice(rng, [(35, -1), (40, cur), (15, cur + 1), (5, 0), (5, -2)])


def gen_create_args(rng, model, op=None):
    if op is None:
        op = wchoice(rng, [(35, 1), (35, 15), (12, 19), (18, 21)])
    path = gen_path(rng, model, for_create=True)
    if rng.random() < 0.05:
        path = gen_path(rng, model) + '/' + rng.choice(ALPHA)   # often a missing parent
    if op in (1, 15):
        flags = wchoice(rng, [(30, 0), (25, 1), (15, 2), (15, 3), (4, 4), (3, 5), (3, 6),
                              (2, 7), (1, -1)])
    elif op == 19:
        flags = wchoice(rng, [(90, 4), (5, 0), (5, 1)])
    else:
        flags = wchoice(rng, [(45, 5), (45, 6), (5, 0), (5, 1)])
    a = {'op': op, 'path': path, 'data': gen_data(rng), 'acl': wchoice(rng, acl_choices()),
         'flags': flags}
    if op == 21:
        a['ttl'] = wchoice(rng, [(70, rng.randrange(1, 10 ** 7)), (8, 0), (8, -5),
                                 (7, 1 << 40), (7, (1 << 56) - 1)])
        if flags not in (5, 6) and a['ttl'] < 0:
            # NEVER send: ZooKeeper 3.8.0 accepts createTTL with a non-TTL mode and a
            # negative ttl in PrepRequestProcessor, then DataTree.processTxn throws
            # IllegalArgumentException in the SyncThread and the whole server JVM exits
            # (code 2). A reimplementation should answer BADARGUMENTS instead.
            a['ttl'] = 0
    if rng.random() < 0.02:
        a['acl'] = None          # null ACL vector
    return a


def gen_sub_write(rng, model):
    k = wchoice(rng, [(40, 'create'), (20, 'delete'), (20, 'setData'), (20, 'check')])
    if k == 'create':
        a = gen_create_args(rng, model)
        if GEN['common']:
            # Creates inside a multi that Debian's 3.8.0 and newer releases (3.8.6, 3.9.5)
            # answer differently, none of which the common profile sends (it draws nothing
            # more from rng):
            # - a create mode that is not valid for the op (op 1/15 with flags 5, 6, 7 or
            #   -1; op 19 with flags 7): 3.8.0 fails that op when the multi reaches it
            #   (per-op BADARGUMENTS, or MARSHALLINGERROR for TTL flags), newer releases
            #   reject the whole multi with MARSHALLINGERROR up front (FINDINGS 79);
            # - a null ACL vector: 3.8.0 per-op INVALIDACL with a zxid, newer releases
            #   MARSHALLINGERROR without one (FINDINGS 80);
            # - create2 (op 15), and createContainer (op 19) with flags 0/1: 3.8.0 answers
            #   with a CreateResponse (result type 1, no Stat), newer releases with a
            #   Create2Response (type 15, path and Stat) (FINDINGS 81). Op 1 answers type 1
            #   (type 15 for flags 4) in all of them.
            if a['op'] == 15:
                a['op'] = 1
            if a['op'] == 1 and a['flags'] in (5, 6, 7, -1):
                a['flags'] = 0
            if a['op'] == 19:
                a['flags'] = 4
            if a['acl'] is None:
                a['acl'] = ACL_OPEN
        return a
    path = gen_path(rng, model)
    if k == 'delete':
        return {'op': 2, 'path': path, 'version': gen_version(rng, model, path, 0)}
    if k == 'setData':
        return {'op': 5, 'path': path, 'data': gen_data(rng),
                'version': gen_version(rng, model, path, 0)}
    return {'op': 13, 'path': path, 'version': gen_version(rng, model, path, 0)}


def gen_watch_lists(rng, model, n):
    return [[gen_path(rng, model, allow_invalid=False) for _ in range(rng.randrange(0, 3))]
            for _ in range(n)]


OPS_WEIGHTS = [
    (16, 'create'), (6, 'delete'), (7, 'exists'), (7, 'getData'), (6, 'setData'),
    (3, 'getACL'), (3, 'setACL'), (5, 'getChildren'), (5, 'getChildren2'), (2, 'check'),
    (7, 'multi'), (3, 'multiRead'), (2, 'sync'), (1, 'ping'), (2, 'getEphemerals'),
    (2, 'getAllChildrenNumber'), (2, 'setWatches'), (2, 'setWatches2'), (3, 'addWatch'),
    (2, 'checkWatches'), (3, 'removeWatches'), (1, 'whoAmI'), (1, 'auth'),
    (1.2, 'closeSession'), (1.2, 'reconnect'), (0.4, 'unknownOp'), (0.4, 'malformed'),
    (0.3, 'mixedMulti'),
]

# Generation settings, filled in by main() from the command line.
GEN = {'portable': True, 'common': False, 'toplevel_check': False, 'persist_slot': 's0',
       'acl': False, 'quota': False}

# --acl shifts the mix towards access control; --quota adds quota management steps.
ACL_EXTRA_WEIGHTS = [(8, 'setACL'), (4, 'getACL'), (5, 'auth'), (2, 'whoAmI'),
                     (2, 'getEphemerals'), (3, 'getAllChildrenNumber'), (2, 'sync')]
QUOTA_EXTRA_WEIGHTS = [(4, 'setQuota'), (1.5, 'delQuota'), (6, 'getQuota'), (0.5, 'setStats'),
                       (5, 'fillQuota'), (8, 'create'), (3, 'setData')]
# Paths that get quotas (nested ones too: the server takes the deepest).
QUOTA_TARGETS = ['/a', '/b', '/c', '/a/b', '/b/a', '/a/b/a']


def op_weights():
    w = list(OPS_WEIGHTS)
    if GEN['acl']:
        w += ACL_EXTRA_WEIGHTS
    if GEN['quota']:
        w += QUOTA_EXTRA_WEIGHTS
    return w


def auth_choice(rng, slot):
    """The credentials an auth step sends: mostly the slot's own identity."""
    home = HOME_IDS.get(slot, [])
    choices = []
    for u in home:
        choices.append((40, ('digest', (u + ':' + (SUPER_PW if u == 'super' else USERS[u])).encode())))
    choices += [(6, ('digest', b'u1:p1')), (4, ('digest', b'u2:wrong')),
                (4, ('digest', b'super:wrong')), (6, ('ip', b'')), (2, ('ip', b'10.1.1.1')),
                (2, ('digest', b'nocolon')), (2, ('digest', b'')), (2, ('digest', b'a:b:c')),
                (2, ('nosuchscheme', b'x'))]
    if not home:
        # the anonymous slot stays anonymous: only ip, bad schemes and failures
        choices = [(c[0], c[1]) for c in choices if c[1][0] != 'digest' or c[1][1] == b'']
    return wchoice(rng, choices)


def limits_text(rng):
    """A zookeeper_limits text as zkCli writes it (StatsTrack.toString), or an old or
    malformed one now and then."""
    x = rng.random()
    if x < 0.05:
        return rng.choice([b'junk', b'count=x,bytes=1', b'', None, b'count=2;;bytes=-1,,'])
    if x < 0.2:
        return ('count=%d,bytes=%d' % (rng.choice((-1, 1, 2, 3, 5)),
                                      rng.choice((-1, 0, 10, 40)))).encode()
    n = rng.choice((-1, -1, 1, 2, 3, 4, 6))
    b = rng.choice((-1, -1, 0, 5, 12, 30, 100))
    nh = rng.choice((-1, -1, 1, 2, 3, 4, 6))
    bh = rng.choice((-1, -1, 0, 5, 12, 30, 100))
    return ('count=%d,bytes=%d=;byteHardLimit=%d;countHardLimit=%d' % (n, b, bh, nh)).encode()


def gen_quota_step(rng, model, st, name):
    """Quota management as zkCli does it, one request per step (a multi for setquota and
    delquota). Stats nodes only ever get well-formed text: ZooKeeper parses them while it
    applies txns and a malformed one makes that throw."""
    target = rng.choice(QUOTA_TARGETS)
    if name == 'fillQuota' and rng.random() < 0.8:
        # mostly where a quota is (believed to be) set
        live = [t for t in QUOTA_TARGETS if '/zookeeper/quota%s/zookeeper_limits' % t in model.nodes]
        target = rng.choice(live) if live else target
    qpath = '/zookeeper/quota' + target
    limits, stats = qpath + '/zookeeper_limits', qpath + '/zookeeper_stats'
    if name == 'setQuota':
        if limits in model.nodes and rng.random() < 0.7:
            st.update(op=5, args={'path': limits, 'data': limits_text(rng), 'version': -1})
            return
        ops = []
        comps = target.strip('/').split('/')
        for k in range(1, len(comps) + 1):
            p = '/zookeeper/quota/' + '/'.join(comps[:k])
            if p not in model.nodes or rng.random() < 0.05:
                ops.append({'op': 1, 'path': p, 'data': None, 'acl': ACL_OPEN, 'flags': 0})
        ops.append({'op': 1, 'path': limits, 'data': limits_text(rng), 'acl': ACL_OPEN,
                    'flags': 0})
        if rng.random() < 0.9:
            ops.append({'op': 1, 'path': stats, 'data': b'count=0,bytes=0', 'acl': ACL_OPEN,
                        'flags': 0})
        st.update(op=14, args={'ops': ops})
    elif name == 'delQuota':
        x = rng.random()
        if x < 0.6:
            ops = [{'op': 2, 'path': limits, 'version': -1}, {'op': 2, 'path': stats, 'version': -1}]
            st.update(op=14, args={'ops': ops})
        elif x < 0.8:
            st.update(op=2, args={'path': limits, 'version': -1})
        else:
            st.update(op=2, args={'path': stats, 'version': -1})
    elif name == 'getQuota':
        st.update(op=4, args={'path': stats if rng.random() < 0.75 else limits,
                              'watch': rng.random() < 0.2})
    elif name == 'fillQuota':
        # several writes in one quota subtree at once: ZooKeeper checks each op of a multi
        # against the applied counts, not against the ops before it
        ops = []
        if target not in model.nodes and target.count('/') == 1:
            ops.append({'op': 1, 'path': target, 'data': b'', 'acl': ACL_OPEN, 'flags': 0})
        for _ in range(rng.randrange(1, 5)):
            p = target + '/' + rng.choice(ALPHA) + rng.choice(('', '', 'x', 'y'))
            if rng.random() < 0.75:
                ops.append({'op': 1, 'path': p, 'data': b'q' * rng.randrange(0, 9),
                            'acl': ACL_OPEN, 'flags': rng.choice((0, 0, 2))})
            else:
                ops.append({'op': 5, 'path': rng.choice((target, p)),
                            'data': b'w' * rng.randrange(0, 20), 'version': -1})
        if len(ops) == 1:
            st.update(op=ops[0]['op'], args=ops[0])
        else:
            st.update(op=14, args={'ops': ops})
    elif name == 'setStats':
        st.update(op=5, args={'path': stats, 'data': ('count=%d,bytes=%d' % (
            rng.randrange(0, 5), rng.randrange(0, 50))).encode(), 'version': -1})


def world_readable(acl):
    """An ACL that lets everyone READ, or one that no server accepts (empty)."""
    return not acl or any(p & PR and s == 'world' and i == 'anyone' for p, s, i in acl)


def acl_choices():
    if GEN['acl']:
        choices = [(w, a) for w, a, ok in ACL_CHOICES_ACL_ALL if ok or not GEN['portable']]
    else:
        choices = ACL_CHOICES_PORTABLE if GEN['portable'] else ACL_CHOICES
    if GEN['common']:
        # exists() on a node the caller may not READ: a Stat in 3.8.0, NOAUTH in newer
        # releases (FINDINGS 82). The common profile only makes nodes everyone may read.
        choices = [(w, a) for w, a in choices if world_readable(a)]
    return choices


def watch_mode_for(path):
    # portable profile: one fixed addWatch mode per path (3.8 keeps a single watch mode
    # per (session, path), 3.9 keeps both; ZOOKEEPER-4466)
    return sum(path.encode('utf-8', 'surrogatepass')) % 2


def gen_step(rng, model, slots, states, i, nsteps):
    slot = rng.choice(slots)
    if states[slot] != 'open':
        return {'slot': slot, 'kind': 'open', 'form45': rng.random() < 0.5,
                'timeout': rng.choice((30000, 20000, 100000)), 'readonly': rng.random() < 0.1}
    portable = GEN['portable']
    # In the portable profile one session (s0) owns every persistent / recursive watch
    # and never sets one-shot watches; the others never use persistent watches. ZooKeeper
    # 3.8 lets watch modes on one path interfere within a session (ZOOKEEPER-4466/4471,
    # fixed in 3.9), so mixing them would test 3.8 bugs instead of the protocol.
    persist = portable and slot == GEN['persist_slot']
    name = wchoice(rng, op_weights())
    if i == nsteps // 2:
        name = 'unknownOp'       # always at least one unknown op code in the middle
    if name == 'check' and not GEN['toplevel_check']:
        name = 'exists'
    if portable and name == 'addWatch' and not persist:
        name = 'getData'
    st = {'slot': slot, 'kind': 'op', 'name': name}
    path = gen_path(rng, model)
    watch = rng.random() < 0.5 and not persist
    if name == 'create':
        a = gen_create_args(rng, model)
        st.update(op=a['op'], args=a)
    elif name == 'delete':
        st.update(op=2, args={'path': path, 'version': gen_version(rng, model, path, 0)})
    elif name in ('exists', 'getData', 'getChildren', 'getChildren2'):
        st.update(op=OP[name], args={'path': path, 'watch': watch})
    elif name == 'setData':
        st.update(op=5, args={'path': path, 'data': gen_data(rng),
                              'version': gen_version(rng, model, path, 0)})
    elif name == 'getACL':
        st.update(op=6, args={'path': path})
    elif name == 'setACL':
        st.update(op=7, args={'path': path, 'acl': wchoice(rng, acl_choices()),
                              'version': gen_version(rng, model, path, 2)})
    elif name == 'check':
        # Top-level check (not inside multi), only with versions that cannot match:
        # ZooKeeper 3.8.0 never answers a SUCCESSFUL top-level check (NPE while
        # serializing SetDataResponse(null)); 3.9.3+ answers UNIMPLEMENTED for every
        # top-level check (ZOOKEEPER-2623). Off unless --toplevel-check.
        st.update(op=13, args={'path': path, 'version': rng.choice((12345, -7))})
    elif name == 'multi':
        n = wchoice(rng, [(5, 0), (25, 1), (30, 2), (25, 3), (15, 5)])
        ops = [gen_sub_write(rng, model) for _ in range(n)]
        if n >= 3 and rng.random() < 0.4:
            # force a failure in the middle: a check that cannot succeed
            ops[n // 2] = {'op': 13, 'path': ops[0].get('path') or '/a', 'version': 12345}
        st.update(op=14, args={'ops': ops})
    elif name == 'multiRead':
        n = wchoice(rng, [(5, 0), (40, 1), (35, 3), (20, 5)])
        ops = [{'op': rng.choice((4, 8)), 'path': gen_path(rng, model),
                'watch': rng.random() < 0.3 and not persist} for _ in range(n)]
        st.update(op=22, args={'ops': ops})
    elif name == 'mixedMulti':
        ops = [gen_sub_write(rng, model), {'op': 4, 'path': path, 'watch': False}]
        st.update(op=rng.choice((14, 22)), args={'ops': ops})
    elif name == 'sync':
        st.update(op=9, args={'path': path})
    elif name == 'ping':
        st.update(kind='ping', op=11, args={})
    elif name == 'getEphemerals':
        st.update(op=103, args={'prefix': rng.choice(['/', '', ' ', '/a', '/a/', '/b/c', 'x',
                                                      '/zookeeper', path])})
    elif name == 'getAllChildrenNumber':
        st.update(op=104, args={'path': path})
    elif name in ('setWatches', 'setWatches2'):
        d, e, c, pp, rr = gen_watch_lists(rng, model, 5)
        if persist:
            d, e, c = [], [], []
            name = 'setWatches2'
            pp = [x for x in pp + rr if watch_mode_for(x) == 0]
            rr = [x for x in rr + pp if watch_mode_for(x) == 1]
        rel = rng.choice((0, model.max_zxid, rng.randrange(0, model.max_zxid + 1),
                          model.max_zxid + 3))
        if name == 'setWatches':
            st.update(op=101, args={'rel': rel, 'data': d, 'exist': e, 'child': c})
        else:
            if portable and not persist:
                pp, rr = [], []
            st.update(name=name, op=105, args={'rel': rel, 'data': d, 'exist': e, 'child': c,
                                               'persistent': pp, 'recursive': rr})
    elif name == 'addWatch':
        mode = watch_mode_for(path) if portable else wchoice(rng, [(48, 0), (48, 1), (4, 2)])
        st.update(op=106, args={'path': path, 'mode': mode})
    elif name in ('checkWatches', 'removeWatches'):
        if portable and name == 'checkWatches' and (WATCHED.get(path, set()) - {slot}
                                                    or not path.startswith('/')):
            # ZooKeeper 3.8's checkWatches answers OK when *any* session watches the path
            # (WatchManager.containsWatcher looks at the path's watcher set, not the
            # caller's), and fails with MARSHALLINGERROR on a path without a leading '/'
            # once any recursive watch exists (its parent iterator runs off the start of
            # the string). Both are gone in 3.9; removeWatches is exact in both.
            name = 'removeWatches'
            st['name'] = name
        if persist:
            wtype = 3
        elif portable:
            wtype = rng.choice((1, 2, 3))
        else:
            wtype = wchoice(rng, [(25, 1), (25, 2), (25, 3), (10, 4), (10, 5), (5, 9)])
        st.update(op=OP[name], args={'path': path, 'type': wtype})
    elif name == 'whoAmI':
        st.update(op=107, args={})
    elif name == 'auth':
        if GEN['acl']:
            scheme, cred = auth_choice(rng, slot)
        else:
            scheme, cred = wchoice(rng, [(75, ('digest', (DIGEST_USER + ':' + DIGEST_PW).encode())),
                                         (10, ('digest', b'u2:x')),
                                         (15, ('nosuchscheme', b'x'))])
        st.update(op=100, args={'scheme': scheme, 'auth': cred})
    elif name in ('setQuota', 'delQuota', 'getQuota', 'setStats', 'fillQuota'):
        gen_quota_step(rng, model, st, name)
    elif name == 'closeSession':
        st.update(op=-11, args={}, unordered=True)
    elif name == 'reconnect':
        st = {'slot': slot, 'kind': 'reconnect', 'name': 'reconnect',
              'variant': wchoice(rng, [(70, 'plain'), (15, 'badpass'), (15, 'future-zxid')]),
              'form45': rng.random() < 0.5, 'timeout': rng.choice((30000, 20000))}
    elif name == 'unknownOp':
        # 77, 10, 23, 108, 999: not op codes at all. (20 = deleteContainer and -10 =
        # createSession are real, internal op codes that 3.8 accepts from clients; they
        # are not sent.)
        st.update(op=rng.choice((77, 77, 10, 23, 108, 999)),
                  args={'raw': W().ustring('/a').bytes()})
    elif name == 'malformed':
        # a request whose body is truncated
        op = rng.choice((1, 4, 5))
        if GEN['common'] and op != 4:
            # a truncated write consumes a zxid in 3.8 (FINDINGS 27), none in 3.9.5
            # (FINDINGS 78): only reads in the common profile
            op = 4
        full = enc_request(op, {'path': path, 'data': b'xy', 'acl': ACL_OPEN, 'flags': 0,
                                'watch': True, 'version': -1})
        st.update(op=op, args={}, raw_body=full[:rng.randrange(0, len(full) - 1)])
    if name in ('closeSession', 'unknownOp', 'malformed', 'mixedMulti', 'auth'):
        st['nopipe'] = True
    if GEN['quota']:
        keep_stats_parseable(rng, st)
    note_watches(st)
    return st


def keep_stats_parseable(rng, st):
    """NEVER write anything but count/bytes text into a zookeeper_stats node: ZooKeeper
    parses it while applying every later write in that quota subtree, and text that does
    not parse (or null data) throws in the SyncThread and the whole server stops."""
    a = st.get('args') or {}
    for op in [a] + list(a.get('ops') or []):
        if op.get('op', st.get('op')) == 5 and str(op.get('path', '')).endswith('/zookeeper_stats'):
            op['data'] = ('count=%d,bytes=%d' % (rng.randrange(0, 5), rng.randrange(0, 50))).encode()


# Paths each slot may hold a watch on (never forgotten: an over-approximation), used by
# the portable profile to steer around 3.8's checkWatches bug.
WATCHED = {}


def note_watches(st):
    a = st.get('args') or {}
    paths = []
    if st.get('name') in ('exists', 'getData', 'getChildren', 'getChildren2') and a.get('watch'):
        paths.append(a['path'])
    elif st.get('name') == 'addWatch':
        paths.append(a['path'])
    elif st.get('name') in ('setWatches', 'setWatches2'):
        for k in ('data', 'exist', 'child', 'persistent', 'recursive'):
            paths.extend(a.get(k) or [])
    for p in paths:
        WATCHED.setdefault(p, set()).add(st['slot'])


def describe(step):
    d = {k: v for k, v in step.items() if k not in ('raw_body',)}
    if 'raw_body' in step:
        d['raw_body'] = step['raw_body'].hex()
    return json.dumps(d, default=lambda o: 'b:' + o.hex() if isinstance(o, bytes) else str(o),
                      ensure_ascii=True)


# --------------------------------------------------------------------------------------
# session expiry scenario (both servers interleaved, because it waits for real time)
# --------------------------------------------------------------------------------------

def expiry_scenario(servers, model, rng, watcher_slot, k):
    """Open session X with a tiny timeout, give it an ephemeral node, watch that node
    from another session, stop talking on X, wait until both servers expire X, then
    check the node is gone and that re-attaching to X gets the 'expired' answer."""
    path = '/expiry%d' % k
    trs = []
    for srv in servers:
        tr = {s: [] for s in srv.sessions}
        tr['X'] = []
        x = Session('X')
        srv.x = x
        out = tr['X']
        deadline = time.monotonic() + srv.args.io_timeout
        if connect(srv, x, out, k % 2 == 0, 1000):          # clamped to minSessionTimeout
            xid = x.next_xid()
            send_req(x, xid, 1, enc_request(1, {'path': path, 'data': b'e', 'acl': ACL_OPEN,
                                                 'flags': 1}))
            ping(x)
            read_until(srv, x, out, 1, deadline)
        w = srv.sessions[watcher_slot]
        if w.conn:
            send_req(w, w.next_xid(), 3, enc_request(3, {'path': path, 'watch': True}))
            ping(w)
            read_until(srv, w, tr[watcher_slot], 1, deadline)
        trs.append(tr)
    # wait: keep every other session alive, never touch X
    seen = [False] * len(servers)
    start = time.monotonic()
    limit = max(s.x.timeout for s in servers) / 1000.0 * 3 + 10
    while not all(seen) and time.monotonic() - start < limit:
        time.sleep(0.5)
        for i, srv in enumerate(servers):
            tmp = {}
            barrier(srv, tmp, exclude=())
            for s, items in tmp.items():
                for it in items:
                    if it.get('k') == 'reply' and it.get('xid') == XID_PING:
                        continue       # poll pings: their number differs per server
                    trs[i][s].append(it)
                    if it.get('k') == 'event' and it.get('path') == path:
                        seen[i] = True
    for i, srv in enumerate(servers):
        x, out = srv.x, trs[i]['X']
        out.append({'k': 'note', 'expired-event-seen': seen[i]})
        if x.conn:
            # the server should have closed X's connection when it expired the session
            f = x.conn.read_frame(time.monotonic() + 2.0)
            out.append({'k': 'eof'} if f == 'eof' else
                       {'k': 'timeout'} if f == 'timeout' else decode_frame(srv, x, f))
        drop_conn(x)
        connect(srv, x, out, True, 1000, sid=x.sid, passwd=x.passwd)
        connect(srv, x, out, False, 1000, sid=x.sid, passwd=x.passwd)
        barrier(srv, trs[i])
        w = srv.sessions[watcher_slot]
        if w.conn:
            send_req(w, w.next_xid(), 3, enc_request(3, {'path': path, 'watch': False}))
            ping(w)
            read_until(srv, w, trs[i][watcher_slot], 1, time.monotonic() + srv.args.io_timeout)
    return trs


# --------------------------------------------------------------------------------------
# main loop
# --------------------------------------------------------------------------------------

def parse_addr(s):
    host, _, port = s.rpartition(':')
    return (host or '127.0.0.1', int(port))


def tamper(tr, rng):
    """--self-test: corrupt one thing in the candidate's transcript."""
    items = [(s, i, it) for s, lst in tr.items() for i, it in enumerate(lst)]
    replies = [(s, i, it) for s, i, it in items if it.get('k') == 'reply']
    s, i, it = rng.choice(replies)
    kind = rng.choice(['zxid', 'err', 'xid', 'stat', 'drop'])
    if kind == 'stat':
        for s2, i2, it2 in replies:
            st = (it2.get('body') or {}).get('stat')
            if st:
                st['version'] += 1
                return 'stat.version+1 of reply %r in session %s' % (it2['op'], s2)
        kind = 'zxid'
    if kind == 'zxid':
        it['zxid'] += 1
    elif kind == 'err':
        it['err'] = -101 if it['err'] != -101 else 0
    elif kind == 'xid':
        it['xid'] += 7
    elif kind == 'drop':
        del tr[s][i]
    return '%s of reply %r in session %s' % (kind, it.get('op'), s)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    ap.add_argument('--reference', required=True, help='host:port of the reference ZooKeeper')
    ap.add_argument('--candidate', required=True, help='host:port of the server under test')
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--steps', type=int, default=300)
    ap.add_argument('--sessions', type=int, default=4, help='sessions per server (3-4)')
    ap.add_argument('--io-timeout', type=float, default=4.0,
                    help='bound (s) for any single wait for a reply')
    ap.add_argument('--close-wait', type=float, default=0.5,
                    help='after a reply that may be followed by a server-side close '
                         '(unknown op, malformed request, auth, mixed multi), wait this '
                         'long (s) for EOF before going on')
    ap.add_argument('--expiry', type=int, default=0,
                    help='number of session-expiry scenarios to insert (each waits ~5-10 s)')
    ap.add_argument('--strict-order', action='store_true',
                    help='compare children/ephemerals lists in server order, not as sets')
    ap.add_argument('--self-test', action='store_true',
                    help='tamper with one candidate reply at step --self-test-step; the run '
                         'must then FAIL (exit 0 here means the tamper was detected)')
    ap.add_argument('--self-test-step', type=int, default=5)
    ap.add_argument('--trace', action='store_true', help='print every step and its transcript')
    ap.add_argument('--profile', choices=('portable', 'common', 'full'), default='portable',
                    help='portable (default): avoid the corners where ZooKeeper 3.8 and '
                         '3.9 are known to answer differently (one session mixing watch '
                         'modes on a path, removeWatches/checkWatches types 4/5, addWatch '
                         'mode 2); common: portable, and none of the requests that Debian\'s '
                         '3.8.0 and newer releases (3.8.6, 3.9.5) answer differently '
                         '(truncated write bodies; in a multi, a create with an invalid mode '
                         'or a null ACL vector, create2, createContainer without the '
                         'container flag; nodes some session may not read: FINDINGS 78-82), '
                         'for runs with a newer release as the reference; full: exercise '
                         'everything the reference does')
    ap.add_argument('--toplevel-check', action='store_true',
                    help='also send check (op 13) outside multi (only with versions that '
                         'cannot match; see gen_step)')
    ap.add_argument('--acl', action='store_true',
                    help='access control: sessions authenticate as different digest users '
                         '(s0 u1, s1 u2+u3, s2 the super user, s3 nobody), ACLs mix digest, '
                         'auth, ip (addresses and CIDR ranges) and world ids with partial '
                         'permissions. Both servers need DigestAuthenticationProvider.'
                         'superDigest=' + SUPER_DIGEST)
    ap.add_argument('--quota', action='store_true',
                    help='quota management steps (limit and stats nodes under '
                         '/zookeeper/quota as zkCli writes them) and more writes in quota '
                         'subtrees; run it against servers with and without enforceQuota')
    args = ap.parse_args()
    GEN['portable'] = args.profile in ('portable', 'common')
    GEN['common'] = args.profile == 'common'
    GEN['toplevel_check'] = args.toplevel_check
    GEN['acl'] = args.acl
    GEN['quota'] = args.quota

    rng = random.Random(args.seed)
    ref = Server('reference', parse_addr(args.reference), args)
    cand = Server('candidate', parse_addr(args.candidate), args)
    servers = [ref, cand]
    slots = ['s%d' % i for i in range(max(1, args.sessions))]
    for srv in servers:
        for s in slots:
            srv.sessions[s] = Session(s)
    model = Model()
    expiry_at = set()
    if args.expiry:
        for j in range(args.expiry):
            expiry_at.add(max(1, (j + 1) * args.steps // (args.expiry + 1)))
    counts = {}
    errs = {}
    t0 = time.monotonic()
    tamper_rng = random.Random(args.seed * 7919 + 1)

    # step list: first open every session (alternating 45/44-byte ConnectRequests)
    plan_open = [{'slot': s, 'kind': 'open', 'form45': i % 2 == 0,
                  'timeout': (30000, 100000, 20000, 30000)[i % 4], 'readonly': i == 2}
                 for i, s in enumerate(slots)]
    if args.acl:
        # every session starts as who it is (HOME_IDS); reconnects lose the identities
        # (they belong to the connection) until an auth step adds them again
        for s in slots:
            for u in HOME_IDS.get(s, []):
                pw = SUPER_PW if u == 'super' else USERS[u]
                plan_open.append({'slot': s, 'kind': 'op', 'name': 'auth', 'op': 100,
                                  'nopipe': True, 'args': {'scheme': 'digest',
                                                           'auth': (u + ':' + pw).encode()}})
    n_compared = 0
    i = 0
    while n_compared < args.steps:
        ctx = {'zxid_before': None}
        if i < len(plan_open):
            step = plan_open[i]
        elif i in expiry_at and any(ref.sessions[s].conn for s in slots):
            step = {'kind': 'expiry', 'name': 'expiry', 'slot': 'X', 'unordered': True}
        else:
            states = {s: ref.sessions[s].state for s in slots}
            step = gen_step(rng, model, slots, states, i, args.steps + len(plan_open))
        name = step.get('name', step['kind'])
        counts[name] = counts.get(name, 0) + 1
        befores = [srv.last_zxid for srv in servers]
        if step['kind'] == 'expiry':
            wslot = next(s for s in slots if ref.sessions[s].conn)
            model.exp_counter += 1
            trs = expiry_scenario(servers, model, rng, wslot, model.exp_counter)
        else:
            try:
                trs = [exec_step(srv, step) for srv in servers]
            except OSError as e:
                print('step %d: I/O error %r' % (i, e))
                return 2
        if args.self_test and i == args.self_test_step:
            what = tamper(trs[1], tamper_rng)
            print('self-test: tampered with candidate transcript at step %d: %s' % (i, what))
        model.learn(step, trs[0])
        norms = []
        for srv, tr, before in zip(servers, trs, befores):
            nz = Norm(srv, {'zxid_before': before}, args.strict_order)
            norms.append({s: nz.transcript(items, step.get('unordered', False))
                          for s, items in tr.items()})
        for it in trs[0].get(step['slot'], []):
            if it.get('k') == 'reply' and it.get('xid') not in (XID_PING,):
                key = '%s:%s' % (it.get('op'), ERR.get(it['err'], it['err']))
                errs[key] = errs.get(key, 0) + 1
                subs = (step.get('args') or {}).get('ops') or []
                for sub, res in zip(subs, (it.get('body') or {}).get('results') or []):
                    if res.get('type') == 'error' and res.get('err') not in (0, -2):
                        key = '%s/%s:%s' % (it.get('op'), OPNAME.get(sub['op'], sub['op']),
                                            ERR.get(res['err'], res['err']))
                        errs[key] = errs.get(key, 0) + 1
        if args.trace:
            print('step %d %s' % (i, describe(step)))
            for s in sorted(norms[0], key=str):
                for it in trs[0][s]:
                    print('   %s %s' % (s, json.dumps(it, default=lambda o: 'b:' + o.hex()
                                                      if isinstance(o, bytes) else str(o))))
        if not same(norms[0], norms[1]):
            where = first_diff(norms[0], norms[1])
            print('DIFFERENCE at step %d (first differing field: %s)' % (i, where))
            print('operation: %s' % describe(step))
            for srv, tr, nm in zip(servers, trs, norms):
                print('--- %s %s:%d' % (srv.name, srv.addr[0], srv.addr[1]))
                for s in sorted(set(tr) | set(nm), key=str):
                    print('  session %s:' % s)
                    for it in tr.get(s, []):
                        print('    raw  ', json.dumps(it, default=lambda o: 'b:' + o.hex()
                                                      if isinstance(o, bytes) else str(o)))
                    for it in nm.get(s, []):
                        print('    norm ', json.dumps(it, default=str))
            print('%d passed, 1 failed' % n_compared)
            if args.self_test:
                print('SELF-TEST PASSED: the tampered reply was detected')
                return 0
            return 1
        dead = [srv.name for srv, tr in zip(servers, trs)
                if any(it.get('k') == 'connect-refused' for items in tr.values() for it in items)]
        if dead:
            # identical crashes would otherwise "agree"; a run with a dead server is invalid
            print('step %d: %s refused connections (server down or crashed?) after %s'
                  % (i, ' and '.join(dead), describe(step)))
            print('%d passed, 0 failed (aborted)' % n_compared)
            return 2
        n_compared += 1
        i += 1

    for srv in servers:
        for sess in srv.sessions.values():
            if sess.conn:   # leave without closeSession: both servers expire them alike
                drop_conn(sess)
    dt = time.monotonic() - t0
    print('seed %d: %d steps in %.1f s; reference and candidate agreed on every reply, '
          'notification and connect response' % (args.seed, n_compared, dt))
    print('final zxid %#x; sessions created: %d' % (ref.last_zxid, ref.nlabels))
    print('operations: ' + ', '.join('%s=%d' % kv for kv in sorted(counts.items())))
    print('reply codes: ' + ', '.join('%s=%d' % kv for kv in sorted(errs.items())))
    if args.self_test:
        print('SELF-TEST FAILED: the tampered reply was NOT detected')
        print('%d passed, 0 failed' % n_compared)
        return 1
    print('%d passed, 0 failed' % n_compared)
    return 0


if __name__ == '__main__':
    sys.exit(main())
