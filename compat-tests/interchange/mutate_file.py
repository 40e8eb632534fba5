#!/usr/bin/python3
"""Damage a COPY of a ZooKeeper txn log or snapshot in controlled ways, to see what a server
(Java or ferrozk) and the readers do with it. Edits the file in place: work on a copy.

usage:
  (record numbers n count from 1; negative n counts from the end, -1 = the last record)
  mutate_file.py flip <file> <offset>            xor one byte with 0x01
  mutate_file.py flip-record <log> <n>           flip a byte in the middle of record n's txn
                                                 bytes (n counts from 1) -> CRC mismatch
  mutate_file.py truncate-record <log> <n>       cut the file in the middle of record n (a torn
                                                 write; everything after is gone, no zero padding)
  mutate_file.py zero-from-record <log> <n>      zero record n and everything after it (what a
                                                 preallocated log looks like if the last write
                                                 never reached the disk)
  mutate_file.py bad-digest-record <log> <n>     add 1 to record n's TxnDigest and recompute its
                                                 CRC (a wrong digest that passes the checksum)
  mutate_file.py strip-digests <log>             rewrite the log without any TxnDigest (CRCs
                                                 recomputed; the format of servers with digests
                                                 disabled / before 3.6)
  mutate_file.py bad-digest-snapshot <snapshot>  add 1 to the digest section's digest and re-seal
  mutate_file.py strip-digest-snapshot <snap>    remove the digest section (and its seal)
Prints what it did (offsets).
"""
import os
import struct
import sys
import zlib

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zkfile_inspect import Buf, txn_body  # noqa: E402


def records(data):
    """Yield (start, length, txn_offset) for each record of a txn log."""
    o = 16
    while o + 12 <= len(data):
        ln = struct.unpack_from(">i", data, o + 8)[0]
        if ln <= 0 or o + 12 + ln + 1 > len(data):
            return
        yield o, ln, o + 12
        o += 12 + ln + 1


def nth(data, n):
    """Record n (1-based; negative counts from the end: -1 = the last record)."""
    recs = list(records(data))
    if n < 0:
        n += len(recs) + 1
    if 1 <= n <= len(recs):
        return recs[n - 1]
    sys.exit("record %d not found (%d records)" % (n, len(recs)))


def digest_offset(txn):
    """Offset of the TxnDigest inside txn bytes, or None."""
    r = Buf(txn)
    r.long(), r.int(), r.long(), r.long()
    ty = r.int()
    txn_body(ty, r)
    return r.o if r.left() == 12 else None


def rewrite_crc(data, start, ln):
    crc = zlib.adler32(bytes(data[start + 12:start + 12 + ln]))
    struct.pack_into(">q", data, start, crc)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    op, fn = sys.argv[1], sys.argv[2]
    data = bytearray(open(fn, "rb").read())
    arg = int(sys.argv[3], 0) if len(sys.argv) > 3 else None
    if op == "flip":
        data[arg] ^= 1
        print("flipped byte at offset %d" % arg)
    elif op == "flip-record":
        s, ln, t = nth(data, arg)
        off = t + ln // 2
        data[off] ^= 1
        print("record %d at offset %d (length %d): flipped byte at offset %d" % (arg, s, ln, off))
    elif op == "truncate-record":
        s, ln, t = nth(data, arg)
        cut = t + ln // 2
        del data[cut:]
        print("record %d at offset %d: file cut at %d" % (arg, s, cut))
    elif op == "zero-from-record":
        s, ln, t = nth(data, arg)
        data[s:] = bytes(len(data) - s)
        print("zeroed from offset %d (record %d) to the end" % (s, arg))
    elif op == "bad-digest-record":
        s, ln, t = nth(data, arg)
        d = digest_offset(bytes(data[t:t + ln]))
        if d is None:
            sys.exit("record %d has no digest" % arg)
        v = struct.unpack_from(">q", data, t + d + 4)[0]
        struct.pack_into(">q", data, t + d + 4, v + 1)
        rewrite_crc(data, s, ln)
        print("record %d: digest %d -> %d, CRC recomputed" % (arg, v, v + 1))
    elif op == "strip-digests":
        out = bytearray(data[:16])
        n = stripped = 0
        end = 16
        for s, ln, t in records(data):
            txn = bytes(data[t:t + ln])
            d = digest_offset(txn)
            if d is not None:
                txn = txn[:d]
                stripped += 1
            out += struct.pack(">qi", zlib.adler32(txn), len(txn)) + txn + b"B"
            n += 1
            end = s + 12 + ln + 1
        out += bytes(len(data) - len(out))   # keep the preallocated size, zero filled
        data = out
        print("%d records, %d digests removed (log ended at %d)" % (n, stripped, end))
    elif op in ("bad-digest-snapshot", "strip-digest-snapshot"):
        # the digest section is the last 20 bytes before the final 13-byte seal
        if len(data) < 16 + 13 + 20 + 13:
            sys.exit("too short")
        dstart = len(data) - 13 - 20
        if op == "bad-digest-snapshot":
            v = struct.unpack_from(">q", data, dstart + 12)[0]
            struct.pack_into(">q", data, dstart + 12, v + 1)
            struct.pack_into(">q", data, len(data) - 13, zlib.adler32(bytes(data[:len(data) - 13])))
            print("digest %d -> %d, final seal recomputed" % (v, v + 1))
        else:
            del data[dstart:]
            print("removed the digest section and its seal (%d bytes)" % (20 + 13))
    else:
        sys.exit(__doc__)
    with open(fn, "wb") as f:
        f.write(data)


if __name__ == "__main__":
    main()
