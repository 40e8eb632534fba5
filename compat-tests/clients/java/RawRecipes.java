import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;

import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.KeeperException.Code;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.Watcher.Event.EventType;
import org.apache.zookeeper.Watcher.Event.KeeperState;
import org.apache.zookeeper.ZooDefs.Ids;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

/**
 * ZooKeeper recipes and API surface exercised with the plain
 * org.apache.zookeeper.ZooKeeper 3.8 client.
 *
 * usage: RawRecipes <host:port>
 *
 * Env: SUITE_TIMEOUT (s, default 150), REAP_TIMEOUT_MS (how long to wait for a
 * container / TTL node to be reaped, default 15000; the reference server runs
 * its container manager every second).
 */
public final class RawRecipes {
    static final List<ACL> OPEN = Ids.OPEN_ACL_UNSAFE;
    static final long WAIT = 10_000;
    static CompatCheck c;
    static String connect;
    static String base;
    static ZooKeeper zk;     // main session
    static ZooKeeper zk2;    // a second session
    static final long REAP_TIMEOUT = envLong("REAP_TIMEOUT_MS", 15_000);

    static long envLong(String k, long d) {
        String s = System.getenv(k);
        return s == null || s.isEmpty() ? d : Long.parseLong(s.trim());
    }

    static byte[] b(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    static String s(byte[] b) {
        return b == null ? null : new String(b, StandardCharsets.UTF_8);
    }

    /** Events recorded by a watcher, with helpers to wait for them. */
    static final class Recorder implements Watcher {
        final List<WatchedEvent> events = new CopyOnWriteArrayList<>();

        @Override
        public void process(WatchedEvent e) {
            events.add(e);
        }

        boolean await(EventType type, String path, long ms) {
            return CompatCheck.waitUntil(() -> has(type, path), ms);
        }

        boolean has(EventType type, String path) {
            for (WatchedEvent e : events) {
                if (e.getType() == type && path.equals(e.getPath())) {
                    return true;
                }
            }
            return false;
        }

        boolean awaitState(KeeperState st, long ms) {
            return CompatCheck.waitUntil(() -> {
                for (WatchedEvent e : events) {
                    if (e.getType() == EventType.None && e.getState() == st) {
                        return true;
                    }
                }
                return false;
            }, ms);
        }

        long count(EventType type, String path) {
            return events.stream().filter(e -> e.getType() == type && path.equals(e.getPath())).count();
        }

        long countMatching(Predicate<WatchedEvent> p) {
            return events.stream().filter(p).count();
        }

        @Override
        public String toString() {
            List<String> l = new ArrayList<>();
            for (WatchedEvent e : events) {
                l.add(e.getType() + ":" + e.getState() + ":" + e.getPath());
            }
            return l.toString();
        }
    }

    static ZooKeeper open(String cs, int timeoutMs, Recorder rec) throws Exception {
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper z = new ZooKeeper(cs, timeoutMs, e -> {
            if (rec != null) {
                rec.process(e);
            }
            if (e.getState() == KeeperState.SyncConnected) {
                connected.countDown();
            }
        });
        if (!connected.await(WAIT + 5000, TimeUnit.MILLISECONDS)) {
            z.close(1000);
            throw new IllegalStateException("no SyncConnected from " + cs + " within " + (WAIT + 5000) + "ms");
        }
        return z;
    }

    static ZooKeeper open() throws Exception {
        return open(connect, 10_000, null);
    }

    interface KeeperCall {
        void run() throws Exception;
    }

    /** Returns the KeeperException code thrown by call, or null if none / other exception. */
    static Object codeFrom(KeeperCall call) {
        try {
            call.run();
            return "no exception";
        } catch (KeeperException e) {
            return e.code();
        } catch (Exception e) {
            return e.toString();
        }
    }

    static void close(ZooKeeper z) {
        if (z == null) {
            return;
        }
        try {
            z.close(5000);
        } catch (Exception e) {
            // ignore
        }
    }

    // ------------------------------------------------------------------
    static void session() throws Exception {
        c.check("session id non-zero", zk.getSessionId() != 0, zk.getSessionId());
        c.check("session password is 16 bytes", zk.getSessionPasswd().length == 16, zk.getSessionPasswd().length);
        c.check("negotiated timeout == requested 10000", zk.getSessionTimeout() == 10_000, zk.getSessionTimeout());
        c.check("distinct sessions", zk.getSessionId() != zk2.getSessionId());
        ZooKeeper lo = open(connect, 1000, null);
        ZooKeeper hi = open(connect, 100_000, null);
        try {
            c.check("1000 ms request raised to minimum 2*tickTime = 4000", lo.getSessionTimeout() == 4000,
                    lo.getSessionTimeout());
            c.check("100000 ms request capped at maximum 20*tickTime = 40000", hi.getSessionTimeout() == 40_000,
                    hi.getSessionTimeout());
        } finally {
            close(lo);
            close(hi);
        }
    }

    static void createModes() throws Exception {
        String p = base + "/modes";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        Stat st = new Stat();
        String r = zk.create(p + "/persistent", b("d"), OPEN, CreateMode.PERSISTENT, st);
        c.check("PERSISTENT (create2 returns stat)", r.equals(p + "/persistent") && st.getCzxid() > 0
                && st.getDataLength() == 1 && st.getEphemeralOwner() == 0, r + " " + st);
        r = zk.create(p + "/pseq-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        c.check("PERSISTENT_SEQUENTIAL", r.equals(p + "/pseq-0000000001"), r);
        st = new Stat();
        r = zk.create(p + "/eph", null, OPEN, CreateMode.EPHEMERAL, st);
        c.check("EPHEMERAL, ephemeralOwner == session id", r.equals(p + "/eph")
                && st.getEphemeralOwner() == zk.getSessionId(), st);
        r = zk.create(p + "/eseq-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
        c.check("EPHEMERAL_SEQUENTIAL", r.equals(p + "/eseq-0000000003")
                && zk.exists(r, false).getEphemeralOwner() == zk.getSessionId(), r);
        st = new Stat();
        r = zk.create(p + "/container", b("c"), OPEN, CreateMode.CONTAINER, st);
        c.check("CONTAINER (ephemeralOwner reported as 0)", r.equals(p + "/container") && st.getEphemeralOwner() == 0
                && st.getCzxid() > 0, st);
        st = new Stat();
        r = zk.create(p + "/ttl", b("t"), OPEN, CreateMode.PERSISTENT_WITH_TTL, st, 600_000);
        c.check("PERSISTENT_WITH_TTL (ephemeralOwner reported as 0)", r.equals(p + "/ttl")
                && st.getEphemeralOwner() == 0 && zk.exists(r, false) != null, st);
        r = zk.create(p + "/tseq-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL_WITH_TTL, new Stat(), 600_000);
        c.check("PERSISTENT_SEQUENTIAL_WITH_TTL", r.equals(p + "/tseq-0000000006"), r);
        c.check("exists(ephemeral) via other session shows owner",
                zk2.exists(p + "/eph", false).getEphemeralOwner() == zk.getSessionId());
        c.check("child of EPHEMERAL -> NOCHILDRENFOREPHEMERALS",
                codeFrom(() -> zk.create(p + "/eph/x", null, OPEN, CreateMode.PERSISTENT))
                        == Code.NOCHILDRENFOREPHEMERALS);
        c.check("TTL node with children allowed", zk.create(p + "/ttl/kid", null, OPEN, CreateMode.PERSISTENT)
                .equals(p + "/ttl/kid"));
        c.check("create PERSISTENT with ttl>0 rejected (client side IllegalArgumentException)",
                String.valueOf(codeFrom(() -> zk.create(p + "/bad", null, OPEN, CreateMode.PERSISTENT, new Stat(), 1000)))
                        .contains("IllegalArgumentException"));
        c.check("create TTL mode with ttl 0 rejected (client side IllegalArgumentException)",
                String.valueOf(codeFrom(() -> zk.create(p + "/bad", null, OPEN, CreateMode.PERSISTENT_WITH_TTL,
                        new Stat(), 0))).contains("IllegalArgumentException"));
        // multi create variants
        List<OpResult> res = zk.multi(List.of(
                Op.create(p + "/m-container", null, OPEN, CreateMode.CONTAINER),
                Op.create(p + "/m-ttl", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, 600_000),
                Op.create(p + "/m-eph", null, OPEN, CreateMode.EPHEMERAL)));
        c.check("multi create CONTAINER/TTL/EPHEMERAL", res.size() == 3
                && res.stream().allMatch(o -> o instanceof OpResult.CreateResult)
                && zk.exists(p + "/m-container", false) != null && zk.exists(p + "/m-ttl", false) != null
                && zk.exists(p + "/m-eph", false).getEphemeralOwner() == zk.getSessionId(), res);
    }

    static void reaping() throws Exception {
        String p = base + "/reap";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/used", null, OPEN, CreateMode.CONTAINER);
        zk.create(p + "/never-used", null, OPEN, CreateMode.CONTAINER);
        zk.create(p + "/used/kid", null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/ttl", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 500);
        zk.create(p + "/ttl-parent", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 500);
        zk.create(p + "/ttl-parent/kid", null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/ttl-long", null, OPEN, CreateMode.PERSISTENT_WITH_TTL, new Stat(), 600_000);
        c.check("fresh TTL node exists", zk.exists(p + "/ttl", false) != null);
        zk.delete(p + "/used/kid", -1);
        long t0 = System.nanoTime();
        boolean gone = CompatCheck.waitUntil(() -> zk.exists(p + "/used", false) == null, REAP_TIMEOUT);
        c.check("container is deleted after its last child is deleted", gone,
                "still there after " + REAP_TIMEOUT + "ms");
        gone = CompatCheck.waitUntil(() -> zk.exists(p + "/ttl", false) == null, REAP_TIMEOUT);
        c.check("childless TTL node deleted after its TTL expired", gone, "still there after " + REAP_TIMEOUT + "ms");
        CompatCheck.sleep(Math.max(0, 2500 - (System.nanoTime() - t0) / 1_000_000));
        c.check("container that never had children is not reaped", zk.exists(p + "/never-used", false) != null);
        c.check("TTL node with a child is not reaped", zk.exists(p + "/ttl-parent", false) != null);
        c.check("TTL node within its TTL is not reaped", zk.exists(p + "/ttl-long", false) != null);
        zk.delete(p + "/ttl-parent/kid", -1);
        gone = CompatCheck.waitUntil(() -> zk.exists(p + "/ttl-parent", false) == null, REAP_TIMEOUT);
        c.check("TTL node reaped once its child is gone", gone);
    }

    static void errors() throws Exception {
        String p = base + "/err";
        zk.create(p, b("v"), OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/kid", null, OPEN, CreateMode.PERSISTENT);
        c.check("create existing -> NODEEXISTS", codeFrom(() -> zk.create(p, null, OPEN, CreateMode.PERSISTENT))
                == Code.NODEEXISTS);
        c.check("create under missing parent -> NONODE",
                codeFrom(() -> zk.create(p + "/x/y", null, OPEN, CreateMode.PERSISTENT)) == Code.NONODE);
        c.check("getData missing -> NONODE", codeFrom(() -> zk.getData(p + "/nope", false, null)) == Code.NONODE);
        c.check("setData missing -> NONODE", codeFrom(() -> zk.setData(p + "/nope", null, -1)) == Code.NONODE);
        c.check("setData bad version -> BADVERSION", codeFrom(() -> zk.setData(p, null, 7)) == Code.BADVERSION);
        c.check("delete bad version -> BADVERSION", codeFrom(() -> zk.delete(p + "/kid", 3)) == Code.BADVERSION);
        c.check("delete non-empty -> NOTEMPTY", codeFrom(() -> zk.delete(p, -1)) == Code.NOTEMPTY);
        c.check("delete missing -> NONODE", codeFrom(() -> zk.delete(p + "/nope", -1)) == Code.NONODE);
        c.check("getChildren missing -> NONODE", codeFrom(() -> zk.getChildren(p + "/nope", false)) == Code.NONODE);
        c.check("create '/' -> NODEEXISTS", codeFrom(() -> zk.create("/", null, OPEN, CreateMode.PERSISTENT))
                == Code.NODEEXISTS);
        c.check("delete /zookeeper -> BADARGUMENTS", codeFrom(() -> zk.delete("/zookeeper", -1))
                == Code.BADARGUMENTS && zk.exists("/zookeeper", false) != null);
        c.check("delete /zookeeper/quota -> BADARGUMENTS",
                codeFrom(() -> zk.delete("/zookeeper/quota", -1)) == Code.BADARGUMENTS);
        c.check("delete / -> BADARGUMENTS", codeFrom(() -> zk.delete("/", -1)) == Code.BADARGUMENTS);
        Stat cfg = new Stat();
        List<ACL> cfgAcl = zk.getACL("/zookeeper/config", cfg);
        c.check("/zookeeper/config is world:anyone READ only, aversion -1", cfgAcl.size() == 1
                && cfgAcl.get(0).getPerms() == 1 && cfgAcl.get(0).getId().getScheme().equals("world")
                && cfg.getAversion() == -1, cfgAcl + " " + cfg);
        c.check("setData /zookeeper/config -> NOAUTH",
                codeFrom(() -> zk.setData("/zookeeper/config", b("x"), -1)) == Code.NOAUTH);
        c.check("setACL bad aversion -> BADVERSION", codeFrom(() -> zk.setACL(p, OPEN, 5)) == Code.BADVERSION);
        c.check("empty ACL list -> INVALIDACL", codeFrom(() -> zk.create(p + "/noacl", null, new ArrayList<>(),
                CreateMode.PERSISTENT)) == Code.INVALIDACL);
        c.check("auth-scheme ACL without any auth -> INVALIDACL", codeFrom(() -> zk.create(p + "/authacl", null,
                Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT)) == Code.INVALIDACL);
        c.check("sync ok", codeFrom(() -> {
            CountDownLatch l = new CountDownLatch(1);
            AtomicInteger rc = new AtomicInteger(99);
            zk.sync(p, (r, path, ctx) -> {
                rc.set(r);
                l.countDown();
            }, null);
            if (!l.await(WAIT, TimeUnit.MILLISECONDS) || rc.get() != 0) {
                throw new IllegalStateException("sync rc " + rc.get());
            }
        }).equals("no exception"));
        Stat st = new Stat();
        List<String> kids = zk.getChildren(p, false, st);
        c.check("getChildren2 returns stat", kids.equals(List.of("kid")) && st.getNumChildren() == 1
                && st.getCversion() == 1, kids + " " + st);
        List<ACL> acl = zk.getACL(p, st);
        c.check("getACL default world:anyone perms 31", acl.size() == 1
                && acl.get(0).getId().getScheme().equals("world") && acl.get(0).getPerms() == 31, acl);
    }

    static void cversionAndSequence() throws Exception {
        String p = base + "/cv";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/a", null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/b", null, OPEN, CreateMode.PERSISTENT);
        zk.delete(p + "/a", -1);
        Stat st = zk.exists(p, false);
        c.check("cversion counts child creates and deletes (2 + 1 = 3)", st.getCversion() == 3
                && st.getNumChildren() == 1, st);
        String r = zk.create(p + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        c.check("sequence suffix counts creates only (2 creates before -> 2)", r.equals(p + "/s-0000000002"), r);
        st = zk.exists(p, false);
        c.check("pzxid == czxid of last created child", st.getPzxid() == zk.exists(r, false).getCzxid(), st);
    }

    static void configPubSub() throws Exception {
        String p = base + "/config";
        zk.create(p, b("v0"), OPEN, CreateMode.PERSISTENT);
        List<String> seen = new CopyOnWriteArrayList<>();
        ZooKeeper sub = open();
        try {
            Watcher[] w = new Watcher[1];
            w[0] = e -> {
                if (e.getType() == EventType.NodeDataChanged) {
                    try {
                        seen.add(s(sub.getData(p, w[0], null)));  // re-arm and read
                    } catch (Exception ex) {
                        seen.add("error " + ex);
                    }
                }
            };
            seen.add(s(sub.getData(p, w[0], null)));
            for (int i = 1; i <= 5; i++) {
                zk.setData(p, b("v" + i), i - 1);
                final int want = i;
                CompatCheck.waitUntil(() -> seen.contains("v" + want), WAIT);
            }
            c.check("subscriber saw every published version in order",
                    seen.equals(List.of("v0", "v1", "v2", "v3", "v4", "v5")), seen);
        } finally {
            close(sub);
        }
    }

    static void naming() throws Exception {
        String p = base + "/names";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        Set<String> names = Collections.synchronizedSet(new HashSet<>());
        List<Thread> ts = new ArrayList<>();
        List<ZooKeeper> sessions = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            ZooKeeper z = open();
            sessions.add(z);
            ts.add(CompatCheck.daemon("namer", () -> {
                for (int k = 0; k < 10; k++) {
                    try {
                        names.add(z.create(p + "/id-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL));
                    } catch (Exception e) {
                        names.add("error " + e);
                    }
                }
            }));
        }
        for (Thread t : ts) {
            t.join(WAIT * 2);
        }
        sessions.forEach(RawRecipes::close);
        Set<String> want = new HashSet<>();
        for (int i = 0; i < 30; i++) {
            want.add(String.format("%s/id-%010d", p, i));
        }
        c.check("30 concurrent sequential creates got exactly ids 0..29", names.equals(want),
                names.size() + " names");
    }

    static void groupMembership() throws Exception {
        String p = base + "/group";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        List<ZooKeeper> members = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                ZooKeeper m = open();
                members.add(m);
                m.create(p + "/member-" + i, b("host" + i), OPEN, CreateMode.EPHEMERAL);
            }
            Recorder rec = new Recorder();
            List<String> kids = zk.getChildren(p, rec);
            Collections.sort(kids);
            c.check("monitor sees 3 members", kids.equals(List.of("member-0", "member-1", "member-2")), kids);
            members.get(1).close();
            c.check("member session close fires monitor's child watch",
                    rec.await(EventType.NodeChildrenChanged, p, WAIT), rec);
            kids = zk.getChildren(p, false);
            Collections.sort(kids);
            c.check("membership now 2", kids.equals(List.of("member-0", "member-2")), kids);
        } finally {
            members.forEach(RawRecipes::close);
        }
        c.check("all members gone after their sessions closed", zk.getChildren(p, false).isEmpty());
    }

    static void masterElection() throws Exception {
        String p = base + "/election";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        List<ZooKeeper> cands = new ArrayList<>();
        List<String> nodes = new ArrayList<>();
        try {
            for (int i = 0; i < 3; i++) {
                ZooKeeper z = open();
                cands.add(z);
                nodes.add(z.create(p + "/n_", b("cand" + i), OPEN, CreateMode.EPHEMERAL_SEQUENTIAL));
            }
            List<String> kids = zk.getChildren(p, false);
            Collections.sort(kids);
            c.check("leader is the lowest sequence node", (p + "/" + kids.get(0)).equals(nodes.get(0)), kids);
            // candidate 1 watches its predecessor (candidate 0)
            Recorder rec = new Recorder();
            Stat pred = cands.get(1).exists(nodes.get(0), rec);
            c.check("predecessor exists", pred != null);
            cands.get(0).close();
            c.check("successor's exists watch fires NodeDeleted when leader's session ends",
                    rec.await(EventType.NodeDeleted, nodes.get(0), WAIT), rec);
            kids = zk.getChildren(p, false);
            Collections.sort(kids);
            c.check("new leader is candidate 1", (p + "/" + kids.get(0)).equals(nodes.get(1)), kids);
        } finally {
            cands.forEach(RawRecipes::close);
        }
    }

    static void fifoQueue() throws Exception {
        String p = base + "/queue";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        for (int i = 0; i < 10; i++) {
            zk.create(p + "/item-", b("job" + i), OPEN, CreateMode.PERSISTENT_SEQUENTIAL);
        }
        List<String> kids = zk.getChildren(p, false);
        Collections.sort(kids);
        List<String> got = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            String k = kids.get(i);
            got.add(s(zk.getData(p + "/" + k, false, null)));
            zk.delete(p + "/" + k, -1);
        }
        c.check("FIFO order by sequence", got.equals(List.of("job0", "job1", "job2")), got);
        // two competing consumers: each item is consumed exactly once
        ConcurrentLinkedQueue<String> consumed = new ConcurrentLinkedQueue<>();
        List<Thread> ts = new ArrayList<>();
        for (ZooKeeper z : List.of(zk, zk2)) {
            ts.add(CompatCheck.daemon("consumer", () -> {
                try {
                    while (true) {
                        List<String> ks = z.getChildren(p, false);
                        if (ks.isEmpty()) {
                            return;
                        }
                        Collections.sort(ks);
                        for (String k : ks) {
                            try {
                                byte[] d = z.getData(p + "/" + k, false, null);
                                z.delete(p + "/" + k, -1);
                                consumed.add(s(d));
                            } catch (KeeperException.NoNodeException e) {
                                // the other consumer took it
                            }
                        }
                    }
                } catch (Exception e) {
                    consumed.add("error " + e);
                }
            }));
        }
        for (Thread t : ts) {
            t.join(WAIT);
        }
        List<String> sorted = new ArrayList<>(consumed);
        Collections.sort(sorted);
        c.check("competing consumers: each remaining item consumed exactly once",
                sorted.equals(List.of("job3", "job4", "job5", "job6", "job7", "job8", "job9")), sorted);
    }

    /** Exclusive lock: ephemeral sequential + watch on predecessor. */
    static final class RawLock {
        final ZooKeeper z;
        final String dir;
        final String prefix;
        String mine;

        RawLock(ZooKeeper z, String dir, String prefix) {
            this.z = z;
            this.dir = dir;
            this.prefix = prefix;
        }

        static int seq(String name) {
            return Integer.parseInt(name.substring(name.length() - 10));
        }

        /** Shared (read) lock waits only for earlier writers; writers wait for everything earlier. */
        boolean acquire(long ms) throws Exception {
            if (mine == null) {
                mine = z.create(dir + "/" + prefix + "-", null, OPEN, CreateMode.EPHEMERAL_SEQUENTIAL);
            }
            String me = mine.substring(dir.length() + 1);
            long deadline = System.currentTimeMillis() + ms;
            while (true) {
                List<String> kids = z.getChildren(dir, false);
                String pred = null;
                for (String k : kids) {
                    boolean blocks = prefix.equals("write") || k.startsWith("write-");
                    if (blocks && seq(k) < seq(me) && (pred == null || seq(k) > seq(pred))) {
                        pred = k;
                    }
                }
                if (pred == null) {
                    return true;
                }
                CountDownLatch gone = new CountDownLatch(1);
                Stat st = z.exists(dir + "/" + pred, e -> gone.countDown());
                if (st != null) {
                    long left = deadline - System.currentTimeMillis();
                    if (left <= 0 || !gone.await(left, TimeUnit.MILLISECONDS)) {
                        return false;
                    }
                }
            }
        }

        void release() throws Exception {
            z.delete(mine, -1);
            mine = null;
        }
    }

    static void locks() throws Exception {
        String p = base + "/lock";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        AtomicInteger inside = new AtomicInteger();
        AtomicInteger violations = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (ZooKeeper z : List.of(zk, zk2)) {
            ts.add(CompatCheck.daemon("locker", () -> {
                try {
                    for (int i = 0; i < 8; i++) {
                        RawLock l = new RawLock(z, p, "write");
                        if (!l.acquire(WAIT)) {
                            return;
                        }
                        if (inside.incrementAndGet() != 1) {
                            violations.incrementAndGet();
                        }
                        CompatCheck.sleep(5);
                        inside.decrementAndGet();
                        done.incrementAndGet();
                        l.release();
                    }
                } catch (Exception e) {
                    violations.addAndGet(1000);
                }
            }));
        }
        for (Thread t : ts) {
            t.join(WAIT * 3);
        }
        c.check("exclusive lock: 16 critical sections, no overlap", done.get() == 16 && violations.get() == 0,
                "done=" + done + " violations=" + violations);

        String rw = base + "/rwlock";
        zk.create(rw, null, OPEN, CreateMode.PERSISTENT);
        RawLock r1 = new RawLock(zk, rw, "read");
        RawLock r2 = new RawLock(zk2, rw, "read");
        RawLock w = new RawLock(zk2, rw, "write");
        c.check("read lock 1", r1.acquire(WAIT));
        c.check("read lock 2 concurrently", r2.acquire(WAIT));
        c.check("write lock waits for readers", !w.acquire(500));
        RawLock r3 = new RawLock(zk, rw, "read");
        c.check("later reader waits for queued writer", !r3.acquire(300));
        AtomicReference<Boolean> wgot = new AtomicReference<>();
        Thread t = CompatCheck.daemon("writer", () -> {
            try {
                wgot.set(w.acquire(WAIT));
            } catch (Exception e) {
                wgot.set(false);
            }
        });
        r1.release();
        CompatCheck.sleep(200);
        c.check("writer still waits while one reader holds", wgot.get() == null);
        r2.release();
        t.join(WAIT);
        c.check("writer acquires after all readers release", Boolean.TRUE.equals(wgot.get()));
        c.check("reader blocked while writer holds", !r3.acquire(300));
        w.release();
        c.check("reader acquires after writer releases", r3.acquire(WAIT));
        r3.release();
        c.check("lock nodes cleaned up", zk.getChildren(rw, false).isEmpty() && zk.getChildren(p, false).isEmpty());
    }

    static void multi() throws Exception {
        String p = base + "/multi";
        zk.create(p, b("v0"), OPEN, CreateMode.PERSISTENT);
        List<OpResult> ok = zk.multi(List.of(
                Op.create(p + "/a", b("A"), OPEN, CreateMode.PERSISTENT),
                Op.setData(p, b("v1"), 0),
                Op.check(p, 1),
                Op.create(p + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL),
                Op.delete(p + "/a", 0)));
        c.check("successful multi result types", ok.size() == 5
                && ok.get(0) instanceof OpResult.CreateResult
                && ((OpResult.CreateResult) ok.get(0)).getPath().equals(p + "/a")
                && ok.get(1) instanceof OpResult.SetDataResult
                && ((OpResult.SetDataResult) ok.get(1)).getStat().getVersion() == 1
                && ok.get(2) instanceof OpResult.CheckResult
                && ((OpResult.CreateResult) ok.get(3)).getPath().equals(p + "/s-0000000001")
                && ok.get(4) instanceof OpResult.DeleteResult, ok);
        Stat st = zk.exists(p, false);
        c.check("multi ops share one zxid (parent mzxid == pzxid)", st.getMzxid() == st.getPzxid(), st);

        KeeperException ke = null;
        try {
            zk.multi(List.of(
                    Op.create(p + "/b", null, OPEN, CreateMode.PERSISTENT),
                    Op.setData(p, b("v2"), -1),
                    Op.setData(p + "/missing", b("x"), -1),
                    Op.create(p + "/c", null, OPEN, CreateMode.PERSISTENT),
                    Op.delete(p + "/s-0000000001", -1)));
        } catch (KeeperException e) {
            ke = e;
        }
        c.check("failing multi throws the failing op's code (NONODE)", ke != null && ke.code() == Code.NONODE, ke);
        List<OpResult> res = ke == null ? null : ke.getResults();
        List<Integer> errs = new ArrayList<>();
        if (res != null) {
            for (OpResult r : res) {
                errs.add(r instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) r).getErr() : 12345);
            }
        }
        c.check("per-op results: OK(0), OK(0), NONODE(-101), RUNTIMEINCONSISTENCY(-2) x2",
                errs.equals(List.of(0, 0, -101, -2, -2)), errs);
        c.check("failed multi rolled back", zk.exists(p + "/b", false) == null
                && s(zk.getData(p, false, null)).equals("v1") && zk.exists(p + "/s-0000000001", false) != null);

        ke = null;
        try {
            zk.multi(List.of(Op.check(p, 0), Op.create(p + "/d", null, OPEN, CreateMode.PERSISTENT)));
        } catch (KeeperException e) {
            ke = e;
        }
        errs.clear();
        if (ke != null && ke.getResults() != null) {
            for (OpResult r : ke.getResults()) {
                errs.add(r instanceof OpResult.ErrorResult ? ((OpResult.ErrorResult) r).getErr() : 12345);
            }
        }
        c.check("failing check op: BADVERSION(-103), RUNTIMEINCONSISTENCY(-2)",
                ke != null && ke.code() == Code.BADVERSION && errs.equals(List.of(-103, -2)), errs);

        List<OpResult> rd = zk.multi(List.of(Op.getData(p), Op.getChildren(p), Op.getData(p + "/missing")));
        c.check("read-only multi: independent results", rd.size() == 3
                && rd.get(0) instanceof OpResult.GetDataResult
                && s(((OpResult.GetDataResult) rd.get(0)).getData()).equals("v1")
                && rd.get(1) instanceof OpResult.GetChildrenResult
                && ((OpResult.GetChildrenResult) rd.get(1)).getChildren().equals(List.of("s-0000000001"))
                && rd.get(2) instanceof OpResult.ErrorResult
                && ((OpResult.ErrorResult) rd.get(2)).getErr() == -101, rd);
        c.check("empty multi returns empty list", zk.multi(new ArrayList<>()).isEmpty());
    }

    static void persistentWatches() throws Exception {
        String p = base + "/pw";
        zk.create(p, b("0"), OPEN, CreateMode.PERSISTENT);
        Recorder pers = new Recorder();
        zk.addWatch(p, pers, AddWatchMode.PERSISTENT);
        zk2.setData(p, b("1"), -1);
        zk2.setData(p, b("2"), -1);
        c.check("PERSISTENT: fires NodeDataChanged repeatedly (not one-shot)",
                CompatCheck.waitUntil(() -> pers.count(EventType.NodeDataChanged, p) == 2, WAIT), pers);
        zk2.create(p + "/kid", null, OPEN, CreateMode.PERSISTENT);
        c.check("PERSISTENT: NodeChildrenChanged on child create",
                pers.await(EventType.NodeChildrenChanged, p, WAIT), pers);
        zk2.create(p + "/kid/grand", null, OPEN, CreateMode.PERSISTENT);
        zk2.setData(p + "/kid", b("x"), -1);
        zk2.setData(p, b("3"), -1);
        pers.await(EventType.NodeDataChanged, p, WAIT);
        CompatCheck.waitUntil(() -> pers.count(EventType.NodeDataChanged, p) == 3, WAIT);
        c.check("PERSISTENT: no events for descendants",
                pers.countMatching(e -> e.getPath() != null && e.getPath().startsWith(p + "/")) == 0, pers);

        Recorder rec = new Recorder();
        zk.addWatch(p + "/kid", rec, AddWatchMode.PERSISTENT_RECURSIVE);
        zk2.create(p + "/kid/a", b("a"), OPEN, CreateMode.PERSISTENT);
        zk2.create(p + "/kid/a/b", b("b"), OPEN, CreateMode.PERSISTENT);
        zk2.setData(p + "/kid/a/b", b("bb"), -1);
        zk2.delete(p + "/kid/a/b", -1);
        zk2.setData(p + "/kid", b("y"), -1);
        c.check("RECURSIVE: NodeCreated for child", rec.await(EventType.NodeCreated, p + "/kid/a", WAIT), rec);
        c.check("RECURSIVE: NodeCreated for grandchild", rec.await(EventType.NodeCreated, p + "/kid/a/b", WAIT), rec);
        c.check("RECURSIVE: NodeDataChanged for grandchild",
                rec.await(EventType.NodeDataChanged, p + "/kid/a/b", WAIT), rec);
        c.check("RECURSIVE: NodeDeleted for grandchild", rec.await(EventType.NodeDeleted, p + "/kid/a/b", WAIT), rec);
        c.check("RECURSIVE: NodeDataChanged for the watched node itself",
                rec.await(EventType.NodeDataChanged, p + "/kid", WAIT), rec);
        c.check("RECURSIVE: never NodeChildrenChanged",
                rec.countMatching(e -> e.getType() == EventType.NodeChildrenChanged) == 0, rec);
        List<String> order = new ArrayList<>();
        for (WatchedEvent e : rec.events) {
            order.add(e.getType() + " " + e.getPath());
        }
        c.check("RECURSIVE: events arrive in zxid order", order.equals(List.of(
                "NodeCreated " + p + "/kid/a", "NodeCreated " + p + "/kid/a/b", "NodeDataChanged " + p + "/kid/a/b",
                "NodeDeleted " + p + "/kid/a/b", "NodeDataChanged " + p + "/kid")), order);

        // removeWatches
        zk.removeWatches(p, pers, Watcher.WatcherType.Any, false);
        c.check("removeWatches(PERSISTENT) delivers PersistentWatchRemoved",
                pers.await(EventType.PersistentWatchRemoved, p, WAIT), pers);
        zk.removeWatches(p + "/kid", rec, Watcher.WatcherType.Any, false);
        c.check("removeWatches(RECURSIVE) delivers PersistentWatchRemoved",
                rec.await(EventType.PersistentWatchRemoved, p + "/kid", WAIT), rec);
        int before = pers.events.size();
        int beforeRec = rec.events.size();
        zk2.setData(p, b("4"), -1);
        zk2.create(p + "/kid/after", null, OPEN, CreateMode.PERSISTENT);
        // a one-shot watch set after the changes proves the server processed them
        Recorder probe = new Recorder();
        zk.getData(p, probe, null);
        zk2.setData(p, b("5"), -1);
        probe.await(EventType.NodeDataChanged, p, WAIT);
        c.check("no events after removal", pers.events.size() == before && rec.events.size() == beforeRec,
                pers + " " + rec);
        c.check("removeWatches for a watcher that is not registered -> NOWATCHER",
                codeFrom(() -> zk.removeWatches(p, pers, Watcher.WatcherType.Any, false)) == Code.NOWATCHER);

        Recorder one = new Recorder();
        zk.getData(p, one, null);
        zk.removeWatches(p, one, Watcher.WatcherType.Data, false);
        c.check("removeWatches(Data) delivers DataWatchRemoved", one.await(EventType.DataWatchRemoved, p, WAIT), one);
        Recorder ch = new Recorder();
        zk.getChildren(p, ch);
        zk.removeAllWatches(p, Watcher.WatcherType.Children, false);
        c.check("removeAllWatches(Children) delivers ChildWatchRemoved",
                ch.await(EventType.ChildWatchRemoved, p, WAIT), ch);
        zk.addWatch(p + "/not-yet", pers, AddWatchMode.PERSISTENT);
        zk2.create(p + "/not-yet", null, OPEN, CreateMode.PERSISTENT);
        zk2.delete(p + "/not-yet", -1);
        c.check("PERSISTENT on missing node: NodeCreated then NodeDeleted",
                pers.await(EventType.NodeCreated, p + "/not-yet", WAIT)
                        && pers.await(EventType.NodeDeleted, p + "/not-yet", WAIT), pers);
        zk.removeWatches(p + "/not-yet", pers, Watcher.WatcherType.Any, false);
    }

    static void ephemeralsAndCounts() throws Exception {
        String p = base + "/eph";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        ZooKeeper z = open();
        try {
            z.create(p + "/e1", null, OPEN, CreateMode.EPHEMERAL);
            z.create(p + "/e2", null, OPEN, CreateMode.EPHEMERAL);
            zk.create(p + "/sub", null, OPEN, CreateMode.PERSISTENT);
            z.create(p + "/sub/e3", null, OPEN, CreateMode.EPHEMERAL);
            zk.create(p + "/mine", null, OPEN, CreateMode.EPHEMERAL);
            List<String> all = new ArrayList<>(z.getEphemerals());
            Collections.sort(all);
            c.check("getEphemerals() lists only this session's", all.equals(List.of(p + "/e1", p + "/e2",
                    p + "/sub/e3")), all);
            List<String> pre = new ArrayList<>(z.getEphemerals(p + "/sub"));
            c.check("getEphemerals(prefix)", pre.equals(List.of(p + "/sub/e3")), pre);
            List<String> pre2 = new ArrayList<>(z.getEphemerals(p + "/e"));
            Collections.sort(pre2);
            c.check("getEphemerals(prefix) is a string prefix match", pre2.equals(List.of(p + "/e1", p + "/e2")),
                    pre2);
            c.check("getEphemerals(no match) empty", z.getEphemerals("/no-such-prefix").isEmpty());
            c.check("getAllChildrenNumber counts all descendants", zk.getAllChildrenNumber(p) == 5,
                    zk.getAllChildrenNumber(p));
            c.check("getAllChildrenNumber of leaf is 0", zk.getAllChildrenNumber(p + "/e1") == 0);
            c.check("getAllChildrenNumber missing -> NONODE",
                    codeFrom(() -> zk.getAllChildrenNumber(p + "/nope")) == Code.NONODE);
        } finally {
            close(z);
        }
        c.check("close() removes that session's ephemerals immediately",
                zk.exists(p + "/e1", false) == null && zk.exists(p + "/sub/e3", false) == null
                        && zk.exists(p + "/mine", false) != null);
    }

    static void sessionReconnect() throws Exception {
        String p = base + "/reconnect";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        Recorder r1 = new Recorder();
        ZooKeeper z1 = open(connect, 10_000, r1);
        long sid = z1.getSessionId();
        byte[] pw = z1.getSessionPasswd();
        z1.create(p + "/e1", null, OPEN, CreateMode.EPHEMERAL);
        // drop the client without closing the session
        z1.getTestable().injectSessionExpiration();
        Recorder r2 = new Recorder();
        ZooKeeper z2 = open(connect, 10_000, r2);
        close(z2);
        ZooKeeper z3 = null;
        try {
            Recorder r3 = new Recorder();
            z3 = new ZooKeeper(connect, 10_000, r3, sid, pw);
            c.check("reconnect with sessionId+password gets SyncConnected",
                    r3.awaitState(KeeperState.SyncConnected, WAIT), r3);
            c.check("same session id", z3.getSessionId() == sid, Long.toHexString(z3.getSessionId()));
            Stat st = zk.exists(p + "/e1", false);
            c.check("ephemeral kept", st != null && st.getEphemeralOwner() == sid, st);
            z3.create(p + "/e2", null, OPEN, CreateMode.EPHEMERAL);
            List<String> eph = new ArrayList<>(z3.getEphemerals(p));
            Collections.sort(eph);
            c.check("getEphemerals on resumed session", eph.equals(List.of(p + "/e1", p + "/e2")), eph);

            Recorder r4 = new Recorder();
            byte[] bad = pw.clone();
            bad[0] ^= 0x55;
            ZooKeeper z4 = new ZooKeeper(connect, 10_000, r4, sid, bad);
            c.check("reconnect with wrong password -> Expired", r4.awaitState(KeeperState.Expired, WAIT), r4);
            close(z4);
            c.check("wrong-password attempt does not hurt the live session",
                    zk.exists(p + "/e1", false) != null && z3.exists(p, false) != null);
        } finally {
            close(z3);
        }
        c.check("close() of resumed session removes all its ephemerals",
                zk.exists(p + "/e1", false) == null && zk.exists(p + "/e2", false) == null);
        Recorder r5 = new Recorder();
        ZooKeeper z5 = new ZooKeeper(connect, 10_000, r5, sid, pw);
        c.check("reconnect to a closed session -> Expired", r5.awaitState(KeeperState.Expired, WAIT), r5);
        close(z5);
    }

    static void sessionExpiry() throws Exception {
        String p = base + "/expiry";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        Recorder obs = new Recorder();
        zk.exists(p + "/e", obs);
        ZooKeeper z = open(connect, 4000, null);
        long sid = z.getSessionId();
        byte[] pw = z.getSessionPasswd();
        z.create(p + "/e", null, OPEN, CreateMode.EPHEMERAL);
        zk.exists(p + "/e", obs);
        long t0 = System.nanoTime();
        z.getTestable().injectSessionExpiration();   // client goes silent, session not closed
        boolean gone = CompatCheck.waitUntil(() -> zk.exists(p + "/e", false) == null, 20_000);
        double took = (System.nanoTime() - t0) / 1e9;
        c.check("ephemeral removed when the silent session expires", gone, String.format("%.1fs", took));
        c.check(String.format("not before the 4 s timeout (took %.1fs)", took), took >= 3.0);
        c.check("observer's watch saw NodeDeleted", obs.await(EventType.NodeDeleted, p + "/e", WAIT), obs);
        Recorder r = new Recorder();
        ZooKeeper again = new ZooKeeper(connect, 10_000, r, sid, pw);
        c.check("resuming the expired session -> Expired", r.awaitState(KeeperState.Expired, WAIT), r);
        close(again);
    }

    static void setWatchesOnReconnect() throws Exception {
        String p = base + "/setwatches";
        zk.create(p, b("0"), OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/gone", null, OPEN, CreateMode.PERSISTENT);
        zk.create(p + "/pers", b("0"), OPEN, CreateMode.PERSISTENT);
        // Through the first server of the connect string.
        String first = connect.split(",")[0];
        TcpProxy proxy = new TcpProxy(first.split(":")[0], Integer.parseInt(first.split(":")[1]));
        ZooKeeper z = null;
        try {
            Recorder state = new Recorder();
            z = open(proxy.connectString(), 10_000, state);
            long sid = z.getSessionId();
            Recorder data = new Recorder();
            Recorder child = new Recorder();
            Recorder exist = new Recorder();
            Recorder del = new Recorder();
            Recorder pers = new Recorder();
            z.getData(p, data, null);
            z.getChildren(p, child);
            z.exists(p + "/later", exist);
            z.exists(p + "/gone", del);
            z.addWatch(p + "/pers", pers, AddWatchMode.PERSISTENT);
            z.create(p + "/eph", null, OPEN, CreateMode.EPHEMERAL);

            proxy.setRefuse(true);
            proxy.dropAll();
            c.check("client sees Disconnected", state.awaitState(KeeperState.Disconnected, WAIT), state);
            zk.setData(p, b("1"), -1);
            zk.create(p + "/later", null, OPEN, CreateMode.PERSISTENT);
            zk.delete(p + "/gone", -1);
            CompatCheck.sleep(300);
            int before = state.events.size();
            proxy.setRefuse(false);
            c.check("client reconnects (SyncConnected again)", CompatCheck.waitUntil(() -> {
                for (int i = before; i < state.events.size(); i++) {
                    if (state.events.get(i).getState() == KeeperState.SyncConnected) {
                        return true;
                    }
                }
                return false;
            }, 15_000), state);
            c.check("same session after reconnect", z.getSessionId() == sid);
            c.check("no Expired state", state.countMatching(e -> e.getState() == KeeperState.Expired) == 0, state);
            c.check("ephemeral survived", zk.exists(p + "/eph", false) != null);
            c.check("missed data change fires data watch on reconnect (SetWatches)",
                    data.await(EventType.NodeDataChanged, p, WAIT), data);
            c.check("missed child create fires child watch on reconnect",
                    child.await(EventType.NodeChildrenChanged, p, WAIT), child);
            c.check("missed create fires exists watch on reconnect",
                    exist.await(EventType.NodeCreated, p + "/later", WAIT), exist);
            c.check("missed delete fires exists watch on reconnect",
                    del.await(EventType.NodeDeleted, p + "/gone", WAIT), del);
            zk.setData(p + "/pers", b("1"), -1);
            c.check("persistent watch re-registered after reconnect",
                    pers.await(EventType.NodeDataChanged, p + "/pers", WAIT), pers);
            zk.setData(p + "/pers", b("2"), -1);
            c.check("persistent watch keeps firing",
                    CompatCheck.waitUntil(() -> pers.count(EventType.NodeDataChanged, p + "/pers") >= 2, WAIT), pers);
        } finally {
            close(z);
            proxy.close();
        }
    }

    static void chroot() throws Exception {
        String p = base + "/chroot";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        ZooKeeper z = open(connect + p, 10_000, null);
        try {
            String r = z.create("/x", b("x"), OPEN, CreateMode.PERSISTENT);
            c.check("chroot create returns relative path", r.equals("/x"), r);
            c.check("visible at absolute path", zk.exists(p + "/x", false) != null);
            Recorder rec = new Recorder();
            z.getData("/x", rec, null);
            zk.setData(p + "/x", b("y"), -1);
            c.check("watch event path is chroot-relative", rec.await(EventType.NodeDataChanged, "/x", WAIT), rec);
            z.create("/e", null, OPEN, CreateMode.EPHEMERAL);
            // The 3.8 client does not strip the chroot from getEphemerals results:
            // the server filters by the chroot-prefixed prefix and returns absolute paths.
            c.check("getEphemerals under chroot: filtered to the chroot, absolute paths",
                    z.getEphemerals().equals(List.of(p + "/e")), z.getEphemerals());
        } finally {
            close(z);
        }
    }

    static void acls() throws Exception {
        String p = base + "/acl";
        zk.create(p, null, OPEN, CreateMode.PERSISTENT);
        ZooKeeper a = open();
        try {
            a.addAuthInfo("digest", b("bob:pw"));
            a.create(p + "/bob", b("secret"), Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT);
            List<ACL> acl = a.getACL(p + "/bob", new Stat());
            c.check("CREATOR_ALL_ACL expands to digest id of the creator", acl.size() == 1
                    && acl.get(0).getId().getScheme().equals("digest")
                    && acl.get(0).getId().getId().startsWith("bob:") && acl.get(0).getPerms() == 31, acl);
            c.check("creator can read", s(a.getData(p + "/bob", false, null)).equals("secret"));
            c.check("others -> NOAUTH", codeFrom(() -> zk2.getData(p + "/bob", false, null)) == Code.NOAUTH);
            c.check("exists is not ACL-checked", zk2.exists(p + "/bob", false) != null);
            List<ACL> ipAcl = new ArrayList<>(List.of(new ACL(31, new Id("ip", "127.0.0.1"))));
            zk.create(p + "/ip", b("ip"), ipAcl, CreateMode.PERSISTENT);
            c.check("ip ACL for 127.0.0.1 permits local client", s(zk2.getData(p + "/ip", false, null)).equals("ip"));
            ZooKeeper bad = open();
            try {
                bad.addAuthInfo("nosuchscheme", b("x"));
                CompatCheck.waitUntil(() -> bad.getState() == ZooKeeper.States.AUTH_FAILED, WAIT);
                Object rc = codeFrom(() -> bad.getData(p, false, null));
                c.check("unknown auth scheme -> AUTH_FAILED state, requests fail with AUTHFAILED",
                        bad.getState() == ZooKeeper.States.AUTH_FAILED && rc == Code.AUTHFAILED,
                        bad.getState() + " " + rc);
            } finally {
                close(bad);
            }
            a.delete(p + "/bob", -1);
            c.check("creator can delete its node", zk.exists(p + "/bob", false) == null);
        } finally {
            close(a);
        }
    }

    /**
     * Many requests in flight on one session through the async API, reads and writes mixed,
     * as Kafka's ZooKeeperClient and Curator's async calls send them. The client treats a
     * reply whose xid is not the oldest pending one as fatal ("Xid out of order"), and a read
     * must see exactly the session's writes sent before it.
     */
    static void pipelinedAsync() throws Exception {
        String p = base + "/pipelined";
        Recorder rec = new Recorder();
        ZooKeeper z = open(connect, 10_000, rec);
        try {
            z.create(p, b("v0"), OPEN, CreateMode.PERSISTENT);
            int n = 600;
            CountDownLatch done = new CountDownLatch(n);
            ConcurrentLinkedQueue<String> bad = new ConcurrentLinkedQueue<>();
            String value = "v0";
            for (int i = 0; i < n; i++) {
                final String want = value;
                final int at = i;
                switch (i % 6) {
                    case 0:
                        value = "v" + (i + 1);
                        z.setData(p, b(value), -1, (rc, path, ctx, st) -> {
                            if (rc != 0) {
                                bad.add(at + " setData rc " + rc);
                            }
                            done.countDown();
                        }, null);
                        break;
                    case 1:
                    case 5:
                        z.getData(p, false, (rc, path, ctx, data, st) -> {
                            if (rc != 0 || !want.equals(s(data))) {
                                bad.add(at + " getData rc " + rc + " read " + s(data) + " want " + want);
                            }
                            done.countDown();
                        }, null);
                        break;
                    case 2:
                        z.create(p + "/s-", null, OPEN, CreateMode.PERSISTENT_SEQUENTIAL, (rc, path, ctx, name) -> {
                            if (rc != 0) {
                                bad.add(at + " create rc " + rc);
                            }
                            done.countDown();
                        }, null);
                        break;
                    case 3:
                        z.exists(p + "/missing", false, (rc, path, ctx, st) -> {
                            if (rc != Code.NONODE.intValue()) {
                                bad.add(at + " exists rc " + rc);
                            }
                            done.countDown();
                        }, null);
                        break;
                    default:
                        z.setData(p, b("never"), 1 << 30, (rc, path, ctx, st) -> {
                            if (rc != Code.BADVERSION.intValue()) {
                                bad.add(at + " bad-version setData rc " + rc);
                            }
                            done.countDown();
                        }, null);
                        break;
                }
            }
            boolean all = done.await(WAIT * 3, TimeUnit.MILLISECONDS);
            c.check("600 pipelined async requests answered", all, done.getCount() + " unanswered");
            c.check("each in order, each read showing the writes sent before it", bad.isEmpty(),
                    new ArrayList<>(bad).subList(0, Math.min(3, bad.size())));
            c.check("the connection never dropped (no Xid out of order)",
                    !rec.awaitState(KeeperState.Disconnected, 1), rec);
            c.check("100 sequential children", z.getChildren(p, false).size() == 100,
                    z.getChildren(p, false).size());
        } finally {
            close(z);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: RawRecipes <host:port>");
            System.exit(2);
        }
        connect = args[0];
        c = new CompatCheck(CompatCheck.suiteTimeoutFromEnv(150));
        try {
            zk = open();
            zk2 = open();
            c.check("connect to " + connect, true);
        } catch (Exception e) {
            c.check("connect to " + connect, false, e.toString());
            c.finish(1);
        }
        base = String.format("/ferrozk-raw-%d-%d", ProcessHandle.current().pid(), System.nanoTime() % 1000000);
        zk.create(base, null, OPEN, CreateMode.PERSISTENT);

        String only = System.getenv("ONLY");
        Object[][] groups = {
            {"session", (CompatCheck.Body) RawRecipes::session},
            {"create-modes", (CompatCheck.Body) RawRecipes::createModes},
            {"errors", (CompatCheck.Body) RawRecipes::errors},
            {"cversion", (CompatCheck.Body) RawRecipes::cversionAndSequence},
            {"config-pubsub", (CompatCheck.Body) RawRecipes::configPubSub},
            {"naming", (CompatCheck.Body) RawRecipes::naming},
            {"group-membership", (CompatCheck.Body) RawRecipes::groupMembership},
            {"master-election", (CompatCheck.Body) RawRecipes::masterElection},
            {"fifo-queue", (CompatCheck.Body) RawRecipes::fifoQueue},
            {"locks", (CompatCheck.Body) RawRecipes::locks},
            {"multi", (CompatCheck.Body) RawRecipes::multi},
            {"persistent-watches", (CompatCheck.Body) RawRecipes::persistentWatches},
            {"ephemerals", (CompatCheck.Body) RawRecipes::ephemeralsAndCounts},
            {"chroot", (CompatCheck.Body) RawRecipes::chroot},
            {"acl", (CompatCheck.Body) RawRecipes::acls},
            {"session-reconnect", (CompatCheck.Body) RawRecipes::sessionReconnect},
            {"setwatches", (CompatCheck.Body) RawRecipes::setWatchesOnReconnect},
            {"session-expiry", (CompatCheck.Body) RawRecipes::sessionExpiry},
            {"reaping", (CompatCheck.Body) RawRecipes::reaping},
            {"pipelined-async", (CompatCheck.Body) RawRecipes::pipelinedAsync},
        };
        for (Object[] g : groups) {
            String name = (String) g[0];
            if (only != null && !only.isEmpty() && !List.of(only.split(",")).contains(name)) {
                continue;
            }
            c.group(name, (CompatCheck.Body) g[1]);
        }
        c.setGroup("cleanup");
        try {
            deleteRecursive(zk, base);
            c.check("suite root removed", zk.exists(base, false) == null);
        } catch (Exception e) {
            c.check("suite root removed", false, e.toString());
        }
        close(zk);
        close(zk2);
        c.finish();
    }

    static void deleteRecursive(ZooKeeper z, String path) throws Exception {
        List<String> kids;
        try {
            kids = z.getChildren(path, false);
        } catch (KeeperException.NoNodeException e) {
            return;
        } catch (KeeperException.NoAuthException e) {
            kids = List.of();   // unreadable leaf; deleting it only needs DELETE on the parent
        }
        for (String k : kids) {
            deleteRecursive(z, path + "/" + k);
        }
        try {
            z.delete(path, -1);
        } catch (KeeperException.NoNodeException e) {
            // already gone (ephemeral / reaped)
        }
    }
}
