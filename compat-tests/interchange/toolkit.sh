#!/usr/bin/env bash
# Read ZooKeeper data files with Java ZooKeeper 3.8's own classes (Debian jars).
#
#   toolkit.sh txnlog <log.N>        `TxnLogToolkit --dump`: every record, CRC checked per record
#   toolkit.sh snapshot <snapshot.N> `SnapshotFormatter` (parses; does NOT check the CRC) and
#                                    `ZkFileCheck snapshot` (FileSnap's deserializer + the Adler32
#                                    seals + the digest section, as at server startup)
#   toolkit.sh all <dataDir>         both on every log.* / snapshot.* in <dataDir>/version-2 (one
#                                    summary line per file; full outputs kept in $TOOLKIT_OUT,
#                                    default a fresh temp dir), then `load` on the whole dir.
#                                    For speed the two tools run in one JVM for all files
#                                    (ZkFileCheck tools: the same calls the CLIs make).
#                                    Plus zkfile_inspect.py (our independent byte-level reader)
#                                    on all files: informational unless TOOLKIT_STRICT=1.
#   toolkit.sh load <dataDir>        `ZkFileCheck load`: FileTxnSnapLog.restore() (what the server
#                                    does at startup: newest valid snapshot + logs, digests
#                                    compared, zxid continuity checked) on a sparse COPY of the
#                                    dir; prints zxid, sessions with timeouts, node count
#   toolkit.sh dump <dataDir>        like load, then the tree as JSON (dump_tree.py's format plus
#                                    kind/ttl/raw per node and the sessions) on stdout
#
# Exit status: 0 all good; 1 a tool reported a problem; 2 usage.
# How the Java tools signal trouble (observed with 3.8.0, see README.md):
#   TxnLogToolkit --dump exits 0 even on a CRC mismatch: it prints "CRC ERROR - <record>" and goes
#     on; a healthy file ends with "EOF reached after N txns." -> we check the output. A torn
#     last record is silently the end of the log (as for the server).
#   SnapshotFormatter ignores the checksum entirely (a flipped byte in an ACL id prints the same
#     output, exit 0); it exits 1 with a stack trace only when the structure breaks.
#   ZkFileCheck exits 1 with "ERROR: ..." (CRC mismatch, bad seal, exception, DIGEST MISMATCH
#     in a non-fuzzy snapshot) or, for load/dump, "DIGEST MISMATCH" / "ZXID GAP(S)".
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
J=/usr/share/java
JAVA=${JAVA:-java}
JFLAGS=(-Xmx512m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Dzookeeper.extendedTypesEnabled=true
        -Dorg.slf4j.simpleLogger.defaultLogLevel=warn)

usage() { sed -n '2,20p' "$0" >&2; exit 2; }

zkfc_classes() { # compile ZkFileCheck.java once per source version
    local src="$here/java/ZkFileCheck.java" sum dir tmp
    sum=$(sha1sum "$src" | cut -c1-12)
    dir="${TMPDIR:-/tmp}/ferrozk-zkfilecheck-$sum"
    if [ ! -f "$dir/ZkFileCheck.class" ]; then
        tmp=$(mktemp -d "${TMPDIR:-/tmp}/zkfc.XXXXXX")
        javac -nowarn -d "$tmp" -cp "$J/zookeeper.jar:$J/zookeeper-jute.jar" "$src" >&2 || { rm -rf "$tmp"; return 1; }
        mv -T "$tmp" "$dir" 2>/dev/null || rm -rf "$tmp"
    fi
    printf '%s\n' "$dir"
}

zkfc() { # ZkFileCheck <mode> <args...> (slf4j-simple at WARN: ZooKeeper's own warnings show)
    local cls
    cls=$(zkfc_classes) || { echo "cannot compile ZkFileCheck.java" >&2; return 1; }
    "$JAVA" "${JFLAGS[@]}" -cp "$cls:$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/slf4j-simple.jar" ZkFileCheck "$@"
}

judge_txnlog() { # <file> <tool output file> <tool exit status>: print ok/FAIL line, return 0/1
    local f=$1 out=$2 rc=$3 bad="" head eof
    [ "$rc" -ne 0 ] && bad="exit status $rc"
    grep -aq "CRC ERROR" "$out" && bad="${bad:+$bad; }$(grep -ac "CRC ERROR" "$out") CRC ERROR record(s)"
    grep -aqE "Exception|^ERROR|Unreasonable length" "$out" &&
        bad="${bad:+$bad; }exception: $(grep -a -m1 -E 'Exception|^ERROR|Unreasonable length' "$out" | cut -c1-160)"
    grep -aqE "^EOF reached after [0-9]+ txns\.$" "$out" || bad="${bad:+$bad; }no 'EOF reached' line"
    if [ -n "$bad" ]; then
        echo "FAIL txnlog $f: $bad" >&2
        return 1
    fi
    head=$(grep -a -m1 '^ZooKeeper Transactional Log File' "$out")
    eof=$(grep -a -m1 '^EOF reached' "$out")
    echo "ok   txnlog $f: $head; $eof" >&2
}

judge_snapshot() { # <file> <SnapshotFormatter output> <its rc> <ZkFileCheck output> <its rc>
    local f=$1 o1=$2 rc1=$3 o2=$4 rc2=$5 bad=""
    [ "$rc1" -ne 0 ] && bad="SnapshotFormatter exit status $rc1"
    grep -aqE "Exception" "$o1" && bad="${bad:+$bad; }SnapshotFormatter exception"
    grep -aqE "^Last zxid: 0x[0-9a-f]+" "$o1" || bad="${bad:+$bad; }SnapshotFormatter printed no 'Last zxid'"
    [ "$rc2" -ne 0 ] && bad="${bad:+$bad; }ZkFileCheck: $(grep -a -m1 -E '^ERROR|MISMATCH|^RESULT' "$o2")"
    if [ -n "$bad" ]; then
        echo "FAIL snapshot $f: $bad" >&2
        return 1
    fi
    echo "ok   snapshot $f: $(grep -a -m1 '^ZNode Details' "$o1" | tr -d ':'), $(grep -a -m1 '^Last zxid' "$o1");" \
         "ZkFileCheck: $(grep -a -m1 '^  nodes' "$o2" | sed 's/^ *//'), $(grep -a -m1 'digest section\|no digest' "$o2" | sed 's/^ *//' | cut -c1-90)" >&2
}

txnlog() { # single file, real CLI, output on stdout
    local f=$1 tmp rc
    tmp=$(mktemp)
    "$JAVA" "${JFLAGS[@]}" -cp "$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/slf4j-nop.jar" \
        org.apache.zookeeper.server.persistence.TxnLogToolkit --dump "$f" > "$tmp" 2>&1
    rc=$?
    cat "$tmp"
    judge_txnlog "$f" "$tmp" $rc
    rc=$?
    rm -f "$tmp"
    return $rc
}

snapshot() { # single file, real CLI + ZkFileCheck, outputs on stdout
    local f=$1 t1 t2 rc1 rc2 rc
    t1=$(mktemp); t2=$(mktemp)
    "$JAVA" "${JFLAGS[@]}" -cp "$J/zookeeper.jar:$J/zookeeper-jute.jar:$J/slf4j-nop.jar" \
        org.apache.zookeeper.server.SnapshotFormatter "$f" > "$t1" 2>&1
    rc1=$?
    zkfc snapshot "$f" > "$t2" 2>&1
    rc2=$?
    cat "$t1"; echo "== ZkFileCheck snapshot =="; cat "$t2"
    judge_snapshot "$f" "$t1" $rc1 "$t2" $rc2
    rc=$?
    rm -f "$t1" "$t2"
    return $rc
}

with_copy() { # $1 mode (load|dump), $2 dataDir: run ZkFileCheck on a sparse copy
    local d=$2 tmp rc
    [ -d "$d/version-2" ] || { echo "$d/version-2: no such directory" >&2; return 1; }
    tmp=$(mktemp -d "${TMPDIR:-/tmp}/zkload.XXXXXX")
    cp -r --sparse=always "$d/version-2" "$tmp/version-2"
    zkfc "$1" "$tmp"
    rc=$?
    rm -rf "$tmp"
    return $rc
}

all() {
    local d=$1 v="$1/version-2" out fails=0 n=0 f rc
    [ -d "$v" ] || { echo "$v: no such directory" >&2; return 1; }
    out=${TOOLKIT_OUT:-$(mktemp -d "${TMPDIR:-/tmp}/toolkit-out.XXXXXX")}
    mkdir -p "$out"
    local files=() paths=() snaps=()
    # by zxid, logs and snapshots interleaved
    mapfile -t files < <(cd "$v" && for f in log.* snapshot.*; do
                             [[ "$f" =~ ^(log|snapshot)\.([0-9a-f]+)$ ]] &&
                                 printf '%020d %s\n' "$((16#${BASH_REMATCH[2]}))" "$f"
                         done | sort | cut -d' ' -f2)
    for f in "${files[@]}"; do
        paths+=("$v/$f")
        [[ $f == snapshot.* ]] && snaps+=("$v/$f")
    done
    if [ ${#files[@]} -gt 0 ]; then
        # TxnLogToolkit / SnapshotFormatter on every file: -> $out/<name>.txt, "TOOL <path> rc=N"
        zkfc tools "$out" "${paths[@]}" > "$out/tools.txt" 2>&1
    fi
    if [ ${#snaps[@]} -gt 0 ]; then
        # ZkFileCheck snapshot on all snapshots, split into $out/<name>.zkfc
        zkfc snapshot "${snaps[@]}" > "$out/zkfilecheck.txt" 2>&1
        /usr/bin/python3 - "$out/zkfilecheck.txt" "$out" <<'PYEOF'
import os, sys
block = []
for line in open(sys.argv[1], errors="replace"):
    block.append(line)
    if line.startswith("RESULT "):
        name = os.path.basename(line.split()[1])
        open(os.path.join(sys.argv[2], name + ".zkfc"), "w").write("".join(block))
        block = []
PYEOF
    fi
    for f in "${files[@]}"; do
        n=$((n + 1))
        rc=$(grep -a "^TOOL $v/$f rc=" "$out/tools.txt" | sed 's/.*rc=//')
        if [ -z "$rc" ] || [ ! -f "$out/$f.txt" ]; then
            echo "FAIL $f: the Java tool produced no result (see $out/tools.txt)" >&2
            fails=$((fails + 1))
            continue
        fi
        case "$f" in
        log.*)
            judge_txnlog "$v/$f" "$out/$f.txt" "$rc" || fails=$((fails + 1)) ;;
        snapshot.*)
            local zrc=1
            [ -f "$out/$f.zkfc" ] && grep -q "^RESULT .* OK$" "$out/$f.zkfc" && zrc=0
            [ -f "$out/$f.zkfc" ] || echo "no ZkFileCheck result for $f" > "$out/$f.zkfc"
            judge_snapshot "$v/$f" "$out/$f.txt" "$rc" "$out/$f.zkfc" $zrc || fails=$((fails + 1)) ;;
        esac
    done
    local other
    other=$(cd "$v" && ls | grep -vE '^(log|snapshot)\.[0-9a-f]+$' || true)
    [ -n "$other" ] && echo "note: other files in $v: $(echo $other)" >&2
    # second opinion: our own byte-level reader, informational unless TOOLKIT_STRICT=1 (it also
    # flags things Java tolerates, e.g. garbage after a torn last record)
    if [ ${#paths[@]} -gt 0 ]; then
        if /usr/bin/python3 "$here/zkfile_inspect.py" "${paths[@]}" > "$out/zkfile_inspect.txt" 2>&1; then
            echo "independent reader (zkfile_inspect.py): no problems (details: $out/zkfile_inspect.txt)" >&2
        else
            echo "independent reader (zkfile_inspect.py) found problems:" >&2
            grep -aE "PROBLEMS|MISMATCH|PARSE ERROR|UNEXPECTED|BAD|NON-ZERO|partial" "$out/zkfile_inspect.txt" | cut -c1-300 >&2
            [ "${TOOLKIT_STRICT:-0}" = 1 ] && fails=$((fails + 1))
        fi
    fi
    echo "== load (FileTxnSnapLog.restore on a copy) ==" >&2
    with_copy load "$d" >&2 || fails=$((fails + 1))
    echo "toolkit.sh all: $n files, $fails failure(s); full outputs in $out" >&2
    [ $fails -eq 0 ]
}

cmd=${1:-}
case "$cmd" in
txnlog)   [ $# -eq 2 ] || usage; txnlog "$2" ;;
snapshot) [ $# -eq 2 ] || usage; snapshot "$2" ;;
load)     [ $# -eq 2 ] || usage; with_copy load "$2" ;;
dump)     [ $# -eq 2 ] || usage; with_copy dump "$2" ;;
all)      [ $# -eq 2 ] || usage; all "$2" ;;
*) usage ;;
esac
