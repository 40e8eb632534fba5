"""Shared bits of the dataDir-interchange tools (build_tree.py, write_more.py, dump_tree.py).

Run the tools with Debian's /usr/bin/python3 (kazoo 2.8). kazoo 2.8 cannot create containers or
TTL nodes and its multi parser only knows create/delete/setData/check results, so this module
adds the three requests on kazoo's own plumbing (client._call).
"""
import base64
import hashlib
import struct
import sys
from collections import namedtuple

from kazoo.client import KazooClient
from kazoo.exceptions import EXCEPTIONS
from kazoo.protocol.serialization import (MultiHeader, ZnodeStat, int_struct, read_string,
                                          stat_struct, write_buffer, write_string)
from kazoo.security import ACL, Id

# Identities used by the tree. The super password matches the superDigest that
# zk-on-datadir.sh puts in zoo.cfg (and that ferrozk must be given the same way).
SUPER_AUTH = ("digest", "super:superpw")
ALICE_AUTH = ("digest", "alice:alicepw")
BOB_AUTH = ("digest", "bob:bobpw")


def digest_id(user_password):
    user = user_password.split(":", 1)[0]
    h = base64.b64encode(hashlib.sha1(user_password.encode()).digest()).decode()
    return "%s:%s" % (user, h)


SUPER_DIGEST = digest_id(SUPER_AUTH[1])  # super:g9oN2HttPfn8MMWJZ2r45Np/LIA=

# CreateMode flags on the wire
PERSISTENT, EPHEMERAL, PERSISTENT_SEQUENTIAL, EPHEMERAL_SEQUENTIAL = 0, 1, 2, 3
CONTAINER, PERSISTENT_WITH_TTL, PERSISTENT_SEQUENTIAL_WITH_TTL = 4, 5, 6
MAX_TTL = (1 << 40) - 1  # EphemeralType.TTL max (ms)

OPEN = [ACL(31, Id("world", "anyone"))]


def _acl_bytes(acl):
    b = bytearray(int_struct.pack(len(acl)))
    for a in acl:
        b.extend(int_struct.pack(a.perms) + write_string(a.id.scheme) + write_string(a.id.id))
    return b


def _path_stat(buf, offset):
    path, offset = read_string(buf, offset)
    stat = ZnodeStat._make(stat_struct.unpack_from(buf, offset))
    return (path, stat), offset + stat_struct.size


class CreateContainer(namedtuple("CreateContainer", "path data acl flags")):
    """createContainer (op 19): CreateRequest body, Create2Response reply."""
    type = 19

    def serialize(self):
        return (bytearray(write_string(self.path)) + write_buffer(self.data) +
                _acl_bytes(self.acl) + int_struct.pack(self.flags))

    @classmethod
    def deserialize(cls, buf, offset):
        return _path_stat(buf, offset)[0]


class CreateTTL(namedtuple("CreateTTL", "path data acl flags ttl")):
    """createTTL (op 21): CreateTTLRequest (CreateRequest + long ttl), Create2Response reply."""
    type = 21

    def serialize(self):
        return (bytearray(write_string(self.path)) + write_buffer(self.data) +
                _acl_bytes(self.acl) + int_struct.pack(self.flags) + struct.pack("!q", self.ttl))

    @classmethod
    def deserialize(cls, buf, offset):
        return _path_stat(buf, offset)[0]


class Multi(namedtuple("Multi", "operations")):
    """multi (op 14) whose result parser also knows create2/container/TTL results (type 15, 19,
    21: path + Stat) and returns errors as exception instances (like kazoo)."""
    type = 14

    def serialize(self):
        b = bytearray()
        for op in self.operations:
            b.extend(MultiHeader(op.type, False, -1).serialize() + op.serialize())
        return b + MultiHeader(-1, True, -1).serialize()

    @classmethod
    def deserialize(cls, buf, offset):
        results = []
        while True:
            header, offset = MultiHeader.deserialize(buf, offset)
            if header.done:
                return results
            t = header.type
            if t == 1:
                r, offset = read_string(buf, offset)
            elif t in (15, 19, 21):
                r, offset = _path_stat(buf, offset)
            elif t == 5:
                r = ZnodeStat._make(stat_struct.unpack_from(buf, offset))
                offset += stat_struct.size
            elif t in (2, 13):
                r = True
            elif t == -1:
                err = int_struct.unpack_from(buf, offset)[0]
                offset += int_struct.size
                r = EXCEPTIONS[err]()
            else:
                raise ValueError("unexpected multi result type %d" % t)
            results.append(r)


def call(zk, request, timeout=30):
    """Send a raw request on a kazoo client and wait for its result (raises on error)."""
    ar = zk.handler.async_result()
    zk._call(request, ar)
    return ar.get(timeout=timeout)


def connect(hostport, timeout_ms=40000, auth=(), connect_timeout=20):
    zk = KazooClient(hosts=hostport, timeout=timeout_ms / 1000.0, auth_data=list(auth),
                     connection_retry=None, command_retry=None)
    zk.start(timeout=connect_timeout)
    return zk


def die(msg):
    print(msg, file=sys.stderr)
    sys.exit(2)


# fn(*a, **kw) must raise exc.
def expect(exc, fn, *a, **kw):
    try:
        fn(*a, **kw)
    except exc:
        return
    raise AssertionError("%s%r did not raise %s" % (fn.__name__, a, exc.__name__))
