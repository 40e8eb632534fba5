// Offline checks of ZooKeeper data files with ZooKeeper 3.8's own persistence classes
// (the code paths the Java server uses at startup), for the dataDir interchange test.
// Our own small driver; compiled on demand by toolkit.sh against Debian's zookeeper.jar.
//
//   ZkFileCheck snapshot <snapshot-file>... read each snapshot as FileSnap does at startup (header,
//                                         tree, sessions), verify its Adler32 seal(s) and the
//                                         digest section; print a summary. (SnapshotFormatter does
//                                         NOT verify the checksum; this does.)
//   ZkFileCheck load <dataDir>            FileTxnSnapLog.restore(): newest valid snapshot + every
//                                         txn log after it, exactly like server startup, with
//                                         digest checking; print a summary. Does not write
//                                         anything unless the dir holds no snapshot at all
//                                         (ZooKeeper then writes snapshot.0), so toolkit.sh
//                                         runs it on a copy.
//   ZkFileCheck dump <dataDir>            load, then print the tree as JSON in dump_tree.py's
//                                         format (client-view Stat, data, ACL) plus per node its
//                                         kind (persistent/ephemeral/container/ttl) and the raw
//                                         persisted cversion/ephemeralOwner, plus the sessions
//                                         with their timeouts. Summary on stderr.
// Exit status: 0 ok; 1 the file(s) are bad (exception, CRC, digest mismatch); 2 usage.
// Run with -Dzookeeper.extendedTypesEnabled=true (as the server gets it from zoo.cfg), or
// container/TTL owners are not recognised.

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.zip.CheckedInputStream;
import org.apache.jute.BinaryInputArchive;
import org.apache.jute.InputArchive;
import org.apache.jute.Record;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Stat;
import org.apache.zookeeper.data.StatPersisted;
import org.apache.zookeeper.server.DataNode;
import org.apache.zookeeper.server.DataTree;
import org.apache.zookeeper.server.EphemeralType;
import org.apache.zookeeper.server.persistence.FileSnap;
import org.apache.zookeeper.server.persistence.FileTxnSnapLog;
import org.apache.zookeeper.server.persistence.SnapStream;
import org.apache.zookeeper.server.persistence.Util;
import org.apache.zookeeper.txn.TxnDigest;
import org.apache.zookeeper.txn.TxnHeader;

public class ZkFileCheck {
    static final List<Long> mismatches = new ArrayList<>();

    public static void main(String[] args) throws Exception {
        if (args.length < 2 || (!args[0].equals("snapshot") && !args[0].equals("tools") && args.length != 2)) {
            System.err.println("usage: ZkFileCheck snapshot <file>... | load <dataDir> | dump <dataDir>"
                    + " | tools <outdir> <file>...");
            System.exit(2);
        }
        if (args[0].equals("tools")) {
            System.exit(tools(args));
        }
        if (args[0].equals("snapshot")) {
            // one JVM for many files; each ends with "RESULT <file> OK" or "RESULT <file> FAIL <why>"
            int bad = 0;
            for (int i = 1; i < args.length; i++) {
                try {
                    snapshot(new File(args[i]));
                    System.out.println("RESULT " + args[i] + " OK");
                } catch (Throwable t) {
                    bad++;
                    System.out.println("ERROR: " + t);
                    System.out.println("RESULT " + args[i] + " FAIL " + t);
                }
                System.out.flush();
            }
            System.exit(bad == 0 ? 0 : 1);
        }
        try {
            switch (args[0]) {
                case "load": System.exit(load(new File(args[1]), false)); break;
                case "dump": System.exit(load(new File(args[1]), true)); break;
                default: System.err.println("unknown mode " + args[0]); System.exit(2);
            }
        } catch (Throwable t) {
            System.out.flush();
            System.err.println("ERROR: " + t);
            t.printStackTrace();
            System.exit(1);
        }
    }

    // The Java tools' CLIs, many files in one JVM (toolkit.sh all): for log.* exactly what
    // `TxnLogToolkit --dump <file>` does, for snapshot.* what `SnapshotFormatter <file>` does;
    // each file's output goes to <outdir>/<name>.txt, an exception is printed there like the
    // CLI's uncaught exception ("Exception in thread "main" ..."), and a line
    // "TOOL <file> rc=<0|1>" is printed on stdout (1 = the CLI would have died with an exception).
    static int tools(String[] args) {
        java.io.PrintStream realOut = System.out, realErr = System.err;
        int bad = 0;
        for (int i = 2; i < args.length; i++) {
            File f = new File(args[i]);
            int rc = 0;
            try (java.io.PrintStream ps = new java.io.PrintStream(
                    new java.io.FileOutputStream(new File(args[1], f.getName() + ".txt")), true)) {
                System.setOut(ps);
                System.setErr(ps);
                try {
                    if (f.getName().startsWith("log.")) {
                        try (org.apache.zookeeper.server.persistence.TxnLogToolkit t =
                                 new org.apache.zookeeper.server.persistence.TxnLogToolkit(false, false, f.getPath(), true)) {
                            t.dump(new java.util.Scanner(System.in));
                        }
                    } else {
                        new org.apache.zookeeper.server.SnapshotFormatter().run(f.getPath(), false, false);
                    }
                } catch (Throwable t) {
                    rc = 1;
                    ps.print("Exception in thread \"main\" ");
                    t.printStackTrace(ps);
                }
                ps.flush();
            } catch (IOException e) {
                rc = 1;
            } finally {
                System.setOut(realOut);
                System.setErr(realErr);
            }
            if (rc != 0) bad++;
            System.out.println("TOOL " + args[i] + " rc=" + rc);
        }
        return bad == 0 ? 0 : 1;
    }

    static String hex(long v) { return "0x" + Long.toHexString(v); }

    static void seal(CheckedInputStream is, InputArchive ia, String what) throws IOException {
        long computed = is.getChecksum().getValue();
        long stored = ia.readLong("val");
        String slash = ia.readString("path");
        if (stored != computed) {
            throw new IOException("CRC ERROR in " + what + ": stored " + hex(stored) + " computed " + hex(computed));
        }
        if (!"/".equals(slash)) {
            throw new IOException("bad seal after " + what + ": expected \"/\" got \"" + slash + "\"");
        }
        System.out.println("  seal after " + what + ": Adler32 " + hex(stored) + " OK");
    }

    static void snapshot(File f) throws IOException {
        long nameZxid = Util.getZxidFromName(f.getName(), "snapshot");
        System.out.println(f + ": snapshot, zxid from name " + hex(nameZxid) + ", " + f.length() + " bytes");
        System.out.println("  SnapStream.isValidSnapshot (trailer check): " + SnapStream.isValidSnapshot(f));
        DataTree dt = new DataTree();
        Map<Long, Integer> sessions = new HashMap<>();
        try (CheckedInputStream is = SnapStream.getInputStream(f)) {
            InputArchive ia = BinaryInputArchive.getArchive(is);
            new FileSnap(f.getParentFile()).deserialize(dt, sessions, ia); // header + sessions + tree
            seal(is, ia, "tree");
            boolean hasDigest = dt.deserializeZxidDigest(ia, nameZxid);
            if (hasDigest) {
                seal(is, ia, "digest");
                DataTree.ZxidDigest d = dt.getDigestFromLoadedSnapshot();
                if (d == null) {
                    // seen for snapshot.0 (the empty tree, section zxid 0)
                    System.out.println("  digest section present, not kept by DataTree (getDigestFromLoadedSnapshot() == null)");
                } else {
                    boolean same = d.getDigest() == dt.getTreeDigest();
                    System.out.println("  digest section: zxid " + hex(d.getZxid()) + " version " + d.getDigestVersion()
                            + " digest " + d.getDigest() + "; digest of the tree as loaded " + dt.getTreeDigest()
                            + (same ? " (equal)"
                               : d.getZxid() == nameZxid ? " (DIFFER)"
                               : " (differ: expected for a fuzzy snapshot, whose digest is taken at a later zxid than"
                                 + " its name; the server compares when replay reaches zxid " + hex(d.getZxid()) + ")"));
                    if (!same && d.getZxid() == nameZxid) {
                        // The digest zxid is the snapshot's own, yet the tree differs: a txn was
                        // being applied while a fuzzy snapshot began (ZooKeeper updates
                        // lastProcessedZxid after the nodes, so the file can hold part of it).
                        // ZooKeeper's own snapshots show this now and then; on load it logs the
                        // mismatch, counts it and carries on, and the replay of the log settles
                        // the state. Reported, not failed: the full restore of this directory
                        // (compared with the served tree) is what must be right.
                        System.out.println("  WARNING: digest section (zxid " + hex(d.getZxid())
                                + " = the snapshot's zxid) says " + d.getDigest()
                                + ", the tree in the file hashes to " + dt.getTreeDigest()
                                + " (a fuzzy snapshot that began during a txn; ZooKeeper loads it too)");
                    }
                }
            } else {
                System.out.println("  no digest section");
            }
            if (is.read() != -1) {
                throw new IOException("trailing bytes after the last seal");
            }
        }
        System.out.println("  nodes " + dt.getNodeCount() + ", sessions " + sessions.size()
                + ", ephemerals " + dt.getEphemeralsCount());
        for (Map.Entry<Long, Integer> e : new TreeMap<>(sessions).entrySet()) {
            System.out.println("  session " + hex(e.getKey()) + " timeout " + e.getValue()
                    + " ephemerals " + dt.getEphemerals(e.getKey()).size());
        }
    }

    static int load(File dataDir, boolean json) throws IOException {
        java.io.PrintStream out = json ? System.err : System.out;
        DataTree dt = new DataTree();
        dt.addDigestWatcher(zxid -> mismatches.add(zxid));
        Map<Long, Integer> sessions = new HashMap<>();
        FileTxnSnapLog snapLog = new FileTxnSnapLog(dataDir, dataDir);
        final long[] replayed = {0, -1, -1};
        final List<String> gaps = new ArrayList<>();
        long t0 = System.nanoTime();
        long zxid = snapLog.restore(dt, sessions, new FileTxnSnapLog.PlayBackListener() {
            public void onTxnLoaded(TxnHeader hdr, Record rec, TxnDigest digest) {
                replayed[0]++;
                if (replayed[1] < 0) {
                    replayed[1] = hdr.getZxid();
                } else if (hdr.getZxid() != replayed[2] + 1) {
                    // ZooKeeper 3.8 itself does not notice a missing log file (only its digest check may)
                    gaps.add(hex(replayed[2]) + " -> " + hex(hdr.getZxid()));
                }
                replayed[2] = hdr.getZxid();
            }
        });
        org.apache.zookeeper.server.persistence.SnapshotInfo si = snapLog.getLastSnapshotInfo();
        snapLog.close();
        out.println(dataDir + ": restored in " + (System.nanoTime() - t0) / 1000000 + " ms: highest zxid " + hex(zxid)
                + ", from snapshot " + (si == null ? "none" : "0x" + Long.toHexString(si.zxid))
                + ", txns replayed from logs " + replayed[0]
                + (replayed[0] > 0 ? " (" + hex(replayed[1]) + ".." + hex(replayed[2]) + ")" : ""));
        out.println("  nodes " + dt.getNodeCount() + ", sessions " + sessions.size() + ", ephemerals "
                + dt.getEphemeralsCount() + ", tree digest " + dt.getTreeDigest()
                + ", last processed zxid " + hex(dt.lastProcessedZxid));
        for (Map.Entry<Long, Integer> e : new TreeMap<>(sessions).entrySet()) {
            out.println("  session " + hex(e.getKey()) + " timeout " + e.getValue()
                    + " ephemerals " + dt.getEphemerals(e.getKey()).size());
        }
        // sessions that own ephemerals but have no session record (the server kills these at startup)
        for (Long s : dt.getSessions()) {
            if (!sessions.containsKey(s)) {
                out.println("  WARNING: ephemerals of session " + hex(s) + " which has no session record: "
                        + dt.getEphemerals(s));
            }
        }
        if (json) {
            dumpJson(dt, sessions, zxid);
        }
        if (si != null && replayed[1] >= 0 && replayed[1] != si.zxid + 1) {
            gaps.add("snapshot " + hex(si.zxid) + " -> first logged txn replayed " + hex(replayed[1]));
        }
        if (!gaps.isEmpty()) {
            out.println("ZXID GAP(S) in the replayed txns: " + gaps);
        }
        if (!mismatches.isEmpty()) {
            out.println("DIGEST MISMATCH at zxid(s) " + mismatches);
        }
        if (!gaps.isEmpty() || !mismatches.isEmpty()) {
            return 1;
        }
        out.println("OK");
        return 0;
    }

    static void dumpJson(DataTree dt, Map<Long, Integer> sessions, long zxid) throws IOException {
        TreeMap<String, String> lines = new TreeMap<>();
        List<String> todo = new ArrayList<>();
        todo.add("/");
        Map<String, List<String>> owners = new TreeMap<>();
        try {
            while (!todo.isEmpty()) {
                String p = todo.remove(todo.size() - 1);
                Stat st = new Stat();
                byte[] data = dt.getData(p, st, null);
                List<ACL> acl = dt.getACL(p, new Stat());
                DataNode n = dt.getNode(p);
                StatPersisted sp = n.stat;
                long owner = sp.getEphemeralOwner();
                String kind;
                String extra = "";
                if (owner == 0) {
                    kind = "persistent";
                } else if (owner == EphemeralType.CONTAINER_EPHEMERAL_OWNER) {
                    kind = "container";
                } else if ((owner >>> 56) == 0xffL) {
                    kind = "ttl";
                    extra = ", \"ttl\": " + (owner & 0x00ffffffffffffffL);
                } else {
                    kind = "ephemeral";
                    owners.computeIfAbsent(hex(owner), k -> new ArrayList<>()).add(p);
                }
                StringBuilder b = new StringBuilder();
                b.append("{\"acl\": [");
                for (int i = 0; i < acl.size(); i++) {
                    ACL a = acl.get(i);
                    if (i > 0) b.append(", ");
                    b.append('[').append(a.getPerms()).append(", ").append(str(a.getId().getScheme()))
                     .append(", ").append(str(a.getId().getId())).append(']');
                }
                b.append("], \"data\": ").append(data == null ? "null" : "\"" + hexBytes(data) + "\"");
                b.append(", \"kind\": \"").append(kind).append('"').append(extra);
                b.append(", \"path\": ").append(str(p));
                b.append(", \"raw\": {\"cversion\": ").append(sp.getCversion())
                 .append(", \"ephemeralOwner\": ").append(owner).append('}');
                b.append(", \"stat\": {\"aversion\": ").append(st.getAversion())
                 .append(", \"ctime\": ").append(st.getCtime())
                 .append(", \"cversion\": ").append(st.getCversion())
                 .append(", \"czxid\": ").append(st.getCzxid())
                 .append(", \"dataLength\": ").append(st.getDataLength())
                 .append(", \"ephemeralOwner\": ").append(st.getEphemeralOwner())
                 .append(", \"mtime\": ").append(st.getMtime())
                 .append(", \"mzxid\": ").append(st.getMzxid())
                 .append(", \"numChildren\": ").append(st.getNumChildren())
                 .append(", \"pzxid\": ").append(st.getPzxid())
                 .append(", \"version\": ").append(st.getVersion()).append("}}");
                lines.put(p, b.toString());
                for (String c : dt.getChildren(p, new Stat(), null)) {
                    todo.add(p.equals("/") ? "/" + c : p + "/" + c);
                }
            }
        } catch (org.apache.zookeeper.KeeperException.NoNodeException e) {
            throw new IOException(e);
        }
        StringBuilder sb = new StringBuilder();
        sb.append("{\"format\": \"ferrozk-interchange-dump/1\", \"source\": \"ZkFileCheck dump (offline load)\",\n");
        sb.append(" \"facts\": {\"highest_zxid\": ").append(zxid).append(", \"node_count\": ").append(lines.size());
        sb.append(", \"ephemeral_owners\": {");
        boolean first = true;
        for (Map.Entry<String, List<String>> e : owners.entrySet()) {
            List<String> ps = new ArrayList<>(e.getValue());
            java.util.Collections.sort(ps);
            sb.append(first ? "" : ", ").append(str(e.getKey())).append(": [");
            for (int i = 0; i < ps.size(); i++) sb.append(i > 0 ? ", " : "").append(str(ps.get(i)));
            sb.append(']');
            first = false;
        }
        sb.append("}, \"sessions\": {");
        first = true;
        for (Map.Entry<Long, Integer> e : new TreeMap<>(sessions).entrySet()) {
            sb.append(first ? "" : ", ").append(str(hex(e.getKey()))).append(": ").append(e.getValue());
            first = false;
        }
        sb.append("}},\n \"nodes\": [\n");
        first = true;
        for (String l : lines.values()) {
            sb.append(first ? "" : ",\n").append(l);
            first = false;
        }
        sb.append("\n]}\n");
        System.out.print(sb);
        System.out.flush();
    }

    static String hexBytes(byte[] d) {
        StringBuilder b = new StringBuilder(d.length * 2);
        for (byte x : d) {
            b.append(Character.forDigit((x >> 4) & 0xf, 16)).append(Character.forDigit(x & 0xf, 16));
        }
        return b.toString();
    }

    static String str(String s) {
        StringBuilder b = new StringBuilder("\"");
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') b.append('\\').append(c);
            else if (c < 0x20 || c > 0x7e) b.append(String.format("\\u%04x", (int) c));
            else b.append(c);
        }
        return b.append('"').toString();
    }
}
