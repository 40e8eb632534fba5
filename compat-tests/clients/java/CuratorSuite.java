import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.api.ACLProvider;
import org.apache.curator.framework.api.transaction.CuratorTransactionResult;
import org.apache.curator.framework.api.transaction.OperationType;
import org.apache.curator.framework.recipes.atomic.AtomicValue;
import org.apache.curator.framework.recipes.atomic.DistributedAtomicLong;
import org.apache.curator.framework.recipes.barriers.DistributedBarrier;
import org.apache.curator.framework.recipes.barriers.DistributedDoubleBarrier;
import org.apache.curator.framework.recipes.cache.CuratorCache;
import org.apache.curator.framework.recipes.cache.CuratorCacheListener;
import org.apache.curator.framework.recipes.leader.LeaderLatch;
import org.apache.curator.framework.recipes.leader.LeaderSelector;
import org.apache.curator.framework.recipes.leader.LeaderSelectorListenerAdapter;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.recipes.locks.InterProcessReadWriteLock;
import org.apache.curator.framework.recipes.locks.InterProcessSemaphoreV2;
import org.apache.curator.framework.recipes.locks.Lease;
import org.apache.curator.framework.recipes.nodes.PersistentNode;
import org.apache.curator.framework.recipes.nodes.PersistentTtlNode;
import org.apache.curator.framework.recipes.queue.DistributedQueue;
import org.apache.curator.framework.recipes.queue.QueueBuilder;
import org.apache.curator.framework.recipes.queue.QueueConsumer;
import org.apache.curator.framework.recipes.queue.QueueSerializer;
import org.apache.curator.framework.recipes.shared.SharedCount;
import org.apache.curator.framework.recipes.shared.SharedCountListener;
import org.apache.curator.framework.recipes.shared.SharedCountReader;
import org.apache.curator.framework.recipes.shared.VersionedValue;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.curator.retry.RetryNTimes;
import org.apache.curator.utils.Compatibility;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.server.auth.DigestAuthenticationProvider;
import org.apache.zookeeper.data.Stat;

/**
 * Apache Curator 5.4 recipes against a ZooKeeper-compatible server.
 *
 * usage: CuratorSuite <host:port>
 *
 * Env: SUITE_TIMEOUT (s, default 150), REAP_TIMEOUT_MS (default 15000; how long
 * to wait for containers / TTL nodes to be reaped).
 */
public final class CuratorSuite {
    static final long WAIT = 10_000;
    static final long REAP_TIMEOUT = envLong("REAP_TIMEOUT_MS", 15_000);
    static CompatCheck c;
    static String connect;
    static String base;
    static CuratorFramework c1;
    static CuratorFramework c2;

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

    static CuratorFramework client() throws Exception {
        CuratorFramework cf = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(10_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new ExponentialBackoffRetry(100, 3))
                .build();
        cf.start();
        if (!cf.blockUntilConnected(15, TimeUnit.SECONDS)) {
            cf.close();
            throw new IllegalStateException("Curator client did not connect to " + connect + " within 15s");
        }
        return cf;
    }

    static long sessionId(CuratorFramework cf) throws Exception {
        return cf.getZookeeperClient().getZooKeeper().getSessionId();
    }

    static boolean exists(String path) throws Exception {
        return c1.checkExists().forPath(path) != null;
    }

    static void closeQuietly(AutoCloseable a) {
        if (a == null) {
            return;
        }
        try {
            a.close();
        } catch (Exception e) {
            // ignore
        }
    }

    // ------------------------------------------------------------------
    static void basics() throws Exception {
        c.check("client connected", c1.getZookeeperClient().isConnected());
        c.check("Curator detects persistent-watch support (ZK 3.6+ client)", Compatibility.hasPersistentWatchers());
        String p = base + "/basics";
        c1.create().forPath(p, b("v0"));
        Stat st = new Stat();
        c.check("getData with stat", s(c1.getData().storingStatIn(st).forPath(p)).equals("v0") && st.getVersion() == 0);
        c1.setData().withVersion(0).forPath(p, b("v1"));
        Object err;
        try {
            c1.setData().withVersion(0).forPath(p, b("bad"));
            err = "no exception";
        } catch (KeeperException e) {
            err = e.code();
        }
        c.check("setData with stale version -> BADVERSION", err == KeeperException.Code.BADVERSION, err);
        String r = c1.create().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(p + "/e-", b("x"));
        c.check("ephemeral sequential via Curator", r.matches(".*/e-\\d{10}")
                // c1 reads it: c2 may be on another member of an ensemble, where it may not be
                // yet without a sync (ZooKeeper promises a session only its own writes).
                && c1.checkExists().forPath(r).getEphemeralOwner() == sessionId(c1), r);
        r = c1.create().withProtection().withMode(CreateMode.EPHEMERAL_SEQUENTIAL).forPath(p + "/prot-");
        c.check("protected ephemeral sequential name (_c_<uuid>-prot-NNNNNNNNNN)",
                r.matches(".*/_c_[0-9a-f-]{36}-prot-\\d{10}"), r);
        c1.delete().deletingChildrenIfNeeded().forPath(p);
        c.check("deletingChildrenIfNeeded", !exists(p));
    }

    static void parentContainers() throws Exception {
        String p = base + "/containers";
        c1.create().creatingParentContainersIfNeeded().forPath(p + "/cont/a/b/leaf", b("leaf"));
        c.check("creatingParentContainersIfNeeded created the chain", exists(p + "/cont/a/b/leaf"));
        c1.create().creatingParentsIfNeeded().forPath(p + "/pers/a/leaf");
        c.check("creatingParentsIfNeeded created the chain", exists(p + "/pers/a/leaf"));
        c1.delete().forPath(p + "/cont/a/b/leaf");
        c1.delete().forPath(p + "/pers/a/leaf");
        boolean gone = CompatCheck.waitUntil(() -> !exists(p + "/cont"), REAP_TIMEOUT);
        c.check("emptied parent containers are reaped (cascading up to the top container)", gone,
                "after " + REAP_TIMEOUT + "ms: b=" + exists(p + "/cont/a/b") + " a=" + exists(p + "/cont/a")
                        + " cont=" + exists(p + "/cont"));
        c.check("persistent parents are not reaped", exists(p + "/pers/a"));
    }

    static void mutex() throws Exception {
        String p = base + "/mutex";
        InterProcessMutex m1 = new InterProcessMutex(c1, p);
        InterProcessMutex m2 = new InterProcessMutex(c2, p);
        c.check("client 1 acquires", m1.acquire(WAIT, TimeUnit.MILLISECONDS));
        c.check("client 2 cannot acquire while held", !m2.acquire(300, TimeUnit.MILLISECONDS));
        c.check("re-entrant acquire", m1.acquire(1, TimeUnit.SECONDS));
        m1.release();
        c.check("still held after one of two releases", !m2.acquire(300, TimeUnit.MILLISECONDS));
        c.check("one participant node", m1.getParticipantNodes().size() == 1, m1.getParticipantNodes());
        m1.release();
        c.check("client 2 acquires after full release", m2.acquire(WAIT, TimeUnit.MILLISECONDS));
        m2.release();

        AtomicInteger inside = new AtomicInteger();
        AtomicInteger violations = new AtomicInteger();
        AtomicInteger done = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (CuratorFramework cf : List.of(c1, c2)) {
            ts.add(CompatCheck.daemon("mutex", () -> {
                InterProcessMutex m = new InterProcessMutex(cf, p + "-contended");
                try {
                    for (int i = 0; i < 8; i++) {
                        if (!m.acquire(WAIT, TimeUnit.MILLISECONDS)) {
                            return;
                        }
                        if (inside.incrementAndGet() != 1) {
                            violations.incrementAndGet();
                        }
                        CompatCheck.sleep(5);
                        inside.decrementAndGet();
                        done.incrementAndGet();
                        m.release();
                    }
                } catch (Exception e) {
                    violations.addAndGet(1000);
                }
            }));
        }
        for (Thread t : ts) {
            t.join(WAIT * 3);
        }
        c.check("mutual exclusion across two sessions (16 sections, no overlap)",
                done.get() == 16 && violations.get() == 0, "done=" + done + " violations=" + violations);

        InterProcessReadWriteLock rw1 = new InterProcessReadWriteLock(c1, p + "-rw");
        InterProcessReadWriteLock rw2 = new InterProcessReadWriteLock(c2, p + "-rw");
        c.check("read lock 1", rw1.readLock().acquire(WAIT, TimeUnit.MILLISECONDS));
        c.check("read lock 2 concurrently", rw2.readLock().acquire(WAIT, TimeUnit.MILLISECONDS));
        c.check("write lock blocked by readers", !rw2.writeLock().acquire(300, TimeUnit.MILLISECONDS));
        rw1.readLock().release();
        rw2.readLock().release();
        c.check("write lock after readers release", rw2.writeLock().acquire(WAIT, TimeUnit.MILLISECONDS));
        c.check("read lock blocked by writer", !rw1.readLock().acquire(300, TimeUnit.MILLISECONDS));
        rw2.writeLock().release();
    }

    static void semaphore() throws Exception {
        String p = base + "/semaphore";
        InterProcessSemaphoreV2 s1 = new InterProcessSemaphoreV2(c1, p, 2);
        InterProcessSemaphoreV2 s2 = new InterProcessSemaphoreV2(c2, p, 2);
        Lease l1 = s1.acquire(WAIT, TimeUnit.MILLISECONDS);
        Lease l2 = s2.acquire(WAIT, TimeUnit.MILLISECONDS);
        c.check("two leases granted", l1 != null && l2 != null);
        Lease l3 = s2.acquire(300, TimeUnit.MILLISECONDS);
        c.check("third lease refused while 2 are out", l3 == null);
        c.check("participant nodes == 2", s1.getParticipantNodes().size() == 2, s1.getParticipantNodes());
        s1.returnLease(l1);
        l3 = s2.acquire(WAIT, TimeUnit.MILLISECONDS);
        c.check("third lease after one returned", l3 != null);
        s2.returnLease(l2);
        s2.returnLease(l3);
        c.check("no participants left", CompatCheck.waitUntil(() -> s1.getParticipantNodes().isEmpty(), WAIT));
    }

    static void leaderLatch() throws Exception {
        String p = base + "/latch";
        LeaderLatch a = new LeaderLatch(c1, p, "A");
        LeaderLatch b = new LeaderLatch(c2, p, "B");
        try {
            a.start();
            c.check("first latch becomes leader", a.await(WAIT, TimeUnit.MILLISECONDS));
            b.start();
            c.check("both participants visible", CompatCheck.waitUntil(() -> b.getParticipants().size() == 2, WAIT));
            c.check("second latch is not leader", !b.hasLeadership());
            c.check("getLeader() reports A", b.getLeader().getId().equals("A"), b.getLeader());
            a.close();
            c.check("second latch becomes leader after first closes", b.await(WAIT, TimeUnit.MILLISECONDS));
            c.check("getLeader() reports B", CompatCheck.waitUntil(() -> b.getLeader().getId().equals("B"), WAIT));
        } finally {
            closeQuietly(a);
            closeQuietly(b);
        }
    }

    static void leaderSelector() throws Exception {
        String p = base + "/selector";
        List<String> took = new CopyOnWriteArrayList<>();
        AtomicInteger current = new AtomicInteger();
        AtomicInteger violations = new AtomicInteger();
        CountDownLatch releaseA = new CountDownLatch(1);
        CountDownLatch releaseB = new CountDownLatch(1);
        LeaderSelector[] sel = new LeaderSelector[2];
        String[] ids = {"A", "B"};
        CountDownLatch[] rel = {releaseA, releaseB};
        CuratorFramework[] cfs = {c1, c2};
        for (int i = 0; i < 2; i++) {
            final int k = i;
            sel[i] = new LeaderSelector(cfs[i], p, new LeaderSelectorListenerAdapter() {
                @Override
                public void takeLeadership(CuratorFramework client) throws Exception {
                    if (current.incrementAndGet() != 1) {
                        violations.incrementAndGet();
                    }
                    took.add(ids[k]);
                    try {
                        rel[k].await(WAIT * 2, TimeUnit.MILLISECONDS);
                    } finally {
                        current.decrementAndGet();
                    }
                }
            });
            sel[i].setId(ids[i]);
        }
        try {
            sel[0].start();
            c.check("A takes leadership", CompatCheck.waitUntil(() -> took.equals(List.of("A")), WAIT), took);
            sel[1].start();
            c.check("B queued as participant", CompatCheck.waitUntil(() -> sel[1].getParticipants().size() == 2, WAIT));
            c.check("B not leader while A holds", took.equals(List.of("A")) && !sel[1].hasLeadership(), took);
            c.check("leader reported as A", sel[1].getLeader().getId().equals("A"));
            releaseA.countDown();
            c.check("B takes leadership after A relinquishes",
                    CompatCheck.waitUntil(() -> took.equals(List.of("A", "B")), WAIT), took);
            releaseB.countDown();
            c.check("never two leaders at once", violations.get() == 0);
        } finally {
            releaseA.countDown();
            releaseB.countDown();
            closeQuietly(sel[0]);
            closeQuietly(sel[1]);
        }
    }

    static void barriers() throws Exception {
        String p = base + "/barrier";
        DistributedBarrier b1 = new DistributedBarrier(c1, p);
        DistributedBarrier b2 = new DistributedBarrier(c2, p);
        b1.setBarrier();
        c.check("waitOnBarrier times out while set", !b2.waitOnBarrier(300, TimeUnit.MILLISECONDS));
        AtomicReference<Boolean> res = new AtomicReference<>();
        Thread t = CompatCheck.daemon("barrier-wait", () -> {
            try {
                res.set(b2.waitOnBarrier(WAIT, TimeUnit.MILLISECONDS));
            } catch (Exception e) {
                res.set(false);
            }
        });
        CompatCheck.sleep(100);
        b1.removeBarrier();
        t.join(WAIT + 1000);
        c.check("waiter released when barrier removed", Boolean.TRUE.equals(res.get()), res.get());

        String d = base + "/double-barrier";
        List<String> entered = new CopyOnWriteArrayList<>();
        List<String> left = new CopyOnWriteArrayList<>();
        List<Thread> ts = new ArrayList<>();
        CuratorFramework[] cfs = {c1, c2};
        for (int i = 0; i < 2; i++) {
            final int k = i;
            ts.add(CompatCheck.daemon("double-barrier", () -> {
                DistributedDoubleBarrier db = new DistributedDoubleBarrier(cfs[k], d, 2);
                try {
                    if (db.enter(WAIT, TimeUnit.MILLISECONDS)) {
                        entered.add("m" + k);
                        if (db.leave(WAIT, TimeUnit.MILLISECONDS)) {
                            left.add("m" + k);
                        }
                    }
                } catch (Exception e) {
                    entered.add("error " + e);
                }
            }));
            if (i == 0) {
                CompatCheck.sleep(300);
                c.check("double barrier: single member waits in enter()", entered.isEmpty(), entered);
            }
        }
        for (Thread t2 : ts) {
            t2.join(WAIT * 2 + 1000);
        }
        List<String> e = new ArrayList<>(entered);
        List<String> l = new ArrayList<>(left);
        Collections.sort(e);
        Collections.sort(l);
        c.check("double barrier: both enter and leave", e.equals(List.of("m0", "m1")) && l.equals(List.of("m0", "m1")),
                e + " " + l);
    }

    static void queue() throws Exception {
        String p = base + "/queue";
        QueueSerializer<String> ser = new QueueSerializer<String>() {
            @Override
            public byte[] serialize(String item) {
                return b(item);
            }

            @Override
            public String deserialize(byte[] bytes) {
                return s(bytes);
            }
        };
        List<String> consumed = new CopyOnWriteArrayList<>();
        QueueConsumer<String> consumer = new QueueConsumer<String>() {
            @Override
            public void consumeMessage(String message) {
                consumed.add(message);
            }

            @Override
            public void stateChanged(CuratorFramework client, ConnectionState newState) {
            }
        };
        DistributedQueue<String> q1 = QueueBuilder.builder(c1, consumer, ser, p).lockPath(p + "-lock").buildQueue();
        DistributedQueue<String> q2 = QueueBuilder.builder(c2, consumer, ser, p).lockPath(p + "-lock").buildQueue();
        DistributedQueue<String> producer = QueueBuilder.builder(c2, null, ser, p).buildQueue();
        try {
            q1.start();
            q2.start();
            producer.start();
            List<String> want = new ArrayList<>();
            for (int i = 0; i < 10; i++) {
                producer.put("msg" + i);
                want.add("msg" + i);
            }
            c.check("all 10 messages consumed", CompatCheck.waitUntil(() -> consumed.size() >= 10, WAIT), consumed);
            CompatCheck.sleep(200);
            List<String> got = new ArrayList<>(consumed);
            Collections.sort(got);
            c.check("each message consumed exactly once (two consumers, lock path)", got.equals(want), got);
            c.check("queue node empty afterwards",
                    CompatCheck.waitUntil(() -> c1.getChildren().forPath(p).isEmpty(), WAIT));
        } finally {
            closeQuietly(q1);
            closeQuietly(q2);
            closeQuietly(producer);
        }
    }

    static void sharedCount() throws Exception {
        String p = base + "/sharedcount";
        SharedCount a = new SharedCount(c1, p, 0);
        SharedCount bb = new SharedCount(c2, p, 0);
        List<Integer> seen = new CopyOnWriteArrayList<>();
        try {
            a.start();
            bb.start();
            bb.addListener(new SharedCountListener() {
                @Override
                public void countHasChanged(SharedCountReader r, int newCount) {
                    seen.add(newCount);
                }

                @Override
                public void stateChanged(CuratorFramework client, ConnectionState newState) {
                }
            });
            a.setCount(5);
            c.check("other client sees new count via watch", CompatCheck.waitUntil(() -> bb.getCount() == 5
                    && seen.contains(5), WAIT), seen);
            VersionedValue<Integer> stale = bb.getVersionedValue();
            a.setCount(6);
            CompatCheck.waitUntil(() -> bb.getCount() == 6, WAIT);
            c.check("trySetCount with stale version fails", !bb.trySetCount(stale, 100));
            c.check("trySetCount with current version succeeds", bb.trySetCount(bb.getVersionedValue(), 7));
            c.check("first client sees 7", CompatCheck.waitUntil(() -> a.getCount() == 7, WAIT), a.getCount());
        } finally {
            closeQuietly(a);
            closeQuietly(bb);
        }
    }

    static void atomicLong() throws Exception {
        String p = base + "/atomic";
        DistributedAtomicLong x = new DistributedAtomicLong(c1, p, new RetryNTimes(100, 10));
        AtomicValue<Long> r = x.increment();
        c.check("first increment 0 -> 1", r.succeeded() && r.preValue() == 0 && r.postValue() == 1,
                r.preValue() + "->" + r.postValue());
        AtomicInteger failures = new AtomicInteger();
        List<Thread> ts = new ArrayList<>();
        for (CuratorFramework cf : List.of(c1, c2)) {
            ts.add(CompatCheck.daemon("atomic", () -> {
                DistributedAtomicLong y = new DistributedAtomicLong(cf, p, new RetryNTimes(100, 10));
                for (int i = 0; i < 20; i++) {
                    try {
                        if (!y.increment().succeeded()) {
                            failures.incrementAndGet();
                        }
                    } catch (Exception e) {
                        failures.incrementAndGet();
                    }
                }
            }));
        }
        for (Thread t : ts) {
            t.join(WAIT * 3);
        }
        AtomicValue<Long> v = x.get();
        c.check("40 concurrent increments from two sessions", failures.get() == 0 && v.postValue() == 41,
                "value=" + v.postValue() + " failures=" + failures);
        c.check("compareAndSet with right expected value", x.compareAndSet(41L, 100L).succeeded());
        c.check("compareAndSet with wrong expected value fails", !x.compareAndSet(41L, 5L).succeeded());
        c.check("add(-58) -> 42", x.add(-58L).postValue() == 42);
    }

    static void curatorCache() throws Exception {
        String p = base + "/cache";
        c1.create().forPath(p, b("root"));
        c1.create().forPath(p + "/pre", b("pre"));
        List<String> evs = new CopyOnWriteArrayList<>();
        CountDownLatch init = new CountDownLatch(1);
        CuratorCache cache = CuratorCache.build(c1, p);
        cache.listenable().addListener(CuratorCacheListener.builder()
                .forCreates(n -> evs.add("create " + n.getPath() + " " + s(n.getData())))
                .forChanges((o, n) -> evs.add("change " + n.getPath() + " " + s(o.getData()) + "->" + s(n.getData())))
                .forDeletes(o -> evs.add("delete " + o.getPath()))
                .forInitialized(init::countDown)
                .build());
        try {
            cache.start();
            c.check("initialized", init.await(WAIT, TimeUnit.MILLISECONDS));
            c.check("initial load reports existing nodes as creates",
                    evs.contains("create " + p + " root") && evs.contains("create " + p + "/pre pre"), evs);
            c2.create().forPath(p + "/a", b("A"));
            c2.create().forPath(p + "/a/b", b("B"));
            c2.create().forPath(p + "/a/b/c", b("C"));
            c.check("nested creates seen with correct paths", CompatCheck.waitUntil(() ->
                    evs.contains("create " + p + "/a A") && evs.contains("create " + p + "/a/b B")
                            && evs.contains("create " + p + "/a/b/c C"), WAIT), evs);
            c2.setData().forPath(p + "/a/b/c", b("C2"));
            c2.setData().forPath(p, b("root2"));
            c.check("nested change seen", CompatCheck.waitUntil(() -> evs.contains("change " + p + "/a/b/c C->C2"),
                    WAIT), evs);
            c.check("change of the root seen", CompatCheck.waitUntil(() -> evs.contains("change " + p + " root->root2"),
                    WAIT), evs);
            c.check("cache content updated", CompatCheck.waitUntil(() -> cache.get(p + "/a/b/c").isPresent()
                    && s(cache.get(p + "/a/b/c").get().getData()).equals("C2"), WAIT));
            c2.delete().forPath(p + "/a/b/c");
            c2.delete().forPath(p + "/a/b");
            c.check("nested deletes seen", CompatCheck.waitUntil(() -> evs.contains("delete " + p + "/a/b/c")
                    && evs.contains("delete " + p + "/a/b"), WAIT), evs);
            c.check("cache no longer holds deleted nodes", CompatCheck.waitUntil(() ->
                    !cache.get(p + "/a/b").isPresent() && cache.get(p + "/a").isPresent(), WAIT));
            c.check("cache size == 3 (root, pre, a)", CompatCheck.waitUntil(() -> cache.size() == 3, WAIT),
                    cache.size());
        } finally {
            closeQuietly(cache);
        }
    }

    static void persistentNode() throws Exception {
        String p = base + "/pnode";
        c1.create().forPath(p);
        PersistentNode pn = new PersistentNode(c1, CreateMode.EPHEMERAL, false, p + "/me", b("v1"));
        try {
            pn.start();
            c.check("initial create", pn.waitForInitialCreate(WAIT, TimeUnit.MILLISECONDS));
            // c2 may be served by another member of an ensemble, which applies the create a
            // moment later (ZooKeeper promises another session's write only after a sync).
            CompatCheck.waitUntil(() -> c2.checkExists().forPath(p + "/me") != null, WAIT);
            Stat st = c2.checkExists().forPath(p + "/me");
            c.check("node is an ephemeral of client 1", st != null && st.getEphemeralOwner() == sessionId(c1), st);
            c2.delete().forPath(p + "/me");
            c.check("recreated after being deleted by someone else",
                    CompatCheck.waitUntil(() -> c2.checkExists().forPath(p + "/me") != null, WAIT));
            pn.setData(b("v2"));
            c.check("setData propagates", CompatCheck.waitUntil(() -> s(c2.getData().forPath(p + "/me")).equals("v2"),
                    WAIT));
        } finally {
            closeQuietly(pn);
        }
        c.check("node removed on close", CompatCheck.waitUntil(() -> c2.checkExists().forPath(p + "/me") == null,
                WAIT));
    }

    static void persistentTtlNode() throws Exception {
        String p = base + "/ttlnode";
        c1.create().forPath(p);
        PersistentTtlNode tn = new PersistentTtlNode(c1, p + "/svc", 1000, b("payload"));
        try {
            tn.start();
            c.check("initial create", tn.waitForInitialCreate(WAIT, TimeUnit.MILLISECONDS));
            c.check("node has payload", CompatCheck.waitUntil(() -> s(c2.getData().forPath(p + "/svc"))
                    .equals("payload"), WAIT));
            CompatCheck.sleep(3000);
            c.check("kept alive while running (well past its 1 s TTL)", c2.checkExists().forPath(p + "/svc") != null);
        } finally {
            closeQuietly(tn);
        }
        boolean gone = CompatCheck.waitUntil(() -> c2.checkExists().forPath(p + "/svc") == null, REAP_TIMEOUT);
        c.check("node disappears after close (TTL child expires, container reaped)", gone);
    }

    static void transactions() throws Exception {
        String p = base + "/txn";
        c1.create().forPath(p, b("v0"));
        List<CuratorTransactionResult> res = c1.transaction().forOperations(
                c1.transactionOp().create().forPath(p + "/a", b("A")),
                c1.transactionOp().create().withMode(CreateMode.PERSISTENT_SEQUENTIAL).forPath(p + "/s-"),
                c1.transactionOp().setData().forPath(p, b("v1")),
                c1.transactionOp().check().withVersion(1).forPath(p),
                c1.transactionOp().delete().forPath(p + "/a"));
        c.check("5 results", res.size() == 5, res);
        c.check("result types and paths", res.size() == 5
                && res.get(0).getType() == OperationType.CREATE && res.get(0).getForPath().equals(p + "/a")
                && res.get(1).getResultPath().equals(p + "/s-0000000001")
                && res.get(2).getType() == OperationType.SET_DATA && res.get(2).getResultStat().getVersion() == 1
                && res.get(3).getType() == OperationType.CHECK
                && res.get(4).getType() == OperationType.DELETE, res);
        c.check("applied", s(c1.getData().forPath(p)).equals("v1") && !exists(p + "/a") && exists(p + "/s-0000000001"));
        Object err;
        try {
            c1.transaction().forOperations(
                    c1.transactionOp().create().forPath(p + "/b"),
                    c1.transactionOp().check().withVersion(99).forPath(p),
                    c1.transactionOp().create().forPath(p + "/c"));
            err = "no exception";
        } catch (KeeperException e) {
            err = e.code();
        }
        c.check("failing transaction throws BADVERSION", err == KeeperException.Code.BADVERSION, err);
        c.check("failing transaction applied nothing", !exists(p + "/b") && !exists(p + "/c"));
        res = c1.transaction().forOperations(
                c1.transactionOp().create().withMode(CreateMode.CONTAINER).forPath(p + "/cont"),
                c1.transactionOp().create().withTtl(600_000).withMode(CreateMode.PERSISTENT_WITH_TTL).forPath(p + "/ttl"));
        c.check("transaction creating CONTAINER and TTL nodes", res.size() == 2 && exists(p + "/cont")
                && exists(p + "/ttl"), res);
    }

    static KeeperException.Code codeOf(CompatCheck.Body body) {
        try {
            body.run();
            return KeeperException.Code.OK;
        } catch (KeeperException e) {
            return e.code();
        } catch (Exception e) {
            return KeeperException.Code.SYSTEMERROR;
        }
    }

    /** Curator's aclProvider + authorization, as Dubbo and Kafka configure them. */
    static void aclProvider() throws Exception {
        String p = base + "/aclp";
        ACLProvider acls = new ACLProvider() {
            @Override
            public List<ACL> getDefaultAcl() {
                return ZooDefs.Ids.CREATOR_ALL_ACL;
            }

            @Override
            public List<ACL> getAclForPath(String path) {
                return path.endsWith("/open") ? ZooDefs.Ids.READ_ACL_UNSAFE : ZooDefs.Ids.CREATOR_ALL_ACL;
            }
        };
        CuratorFramework erin = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(10_000)
                .connectionTimeoutMs(10_000)
                .retryPolicy(new RetryNTimes(3, 100))
                .aclProvider(acls)
                .authorization("digest", b("erin:pw"))
                .build();
        erin.start();
        try {
            c.check("authorized client connected", erin.blockUntilConnected(15, TimeUnit.SECONDS));
            erin.create().creatingParentsIfNeeded().forPath(p + "/x/y", b("deep"));
            Id me = new Id("digest", DigestAuthenticationProvider.generateDigest("erin:pw"));
            List<ACL> want = List.of(new ACL(ZooDefs.Perms.ALL, me));
            c.check("aclProvider's CREATOR_ALL_ACL on every parent created",
                    erin.getACL().forPath(p).equals(want) && erin.getACL().forPath(p + "/x").equals(want)
                    && erin.getACL().forPath(p + "/x/y").equals(want), erin.getACL().forPath(p + "/x"));
            c.check("the authorized client reads its node", s(erin.getData().forPath(p + "/x/y")).equals("deep"));
            c.check("another client -> NOAUTH",
                    codeOf(() -> c2.getData().forPath(p + "/x/y")) == KeeperException.Code.NOAUTH);
            erin.create().forPath(p + "/open", b("o"));
            c.check("getAclForPath per path: world-readable node",
                    erin.getACL().forPath(p + "/open").equals(ZooDefs.Ids.READ_ACL_UNSAFE)
                    && s(c2.getData().forPath(p + "/open")).equals("o"));
            c.check("... but not writable by the other client",
                    codeOf(() -> c2.setData().forPath(p + "/open", b("w"))) == KeeperException.Code.NOAUTH);
            c.check("explicit withACL overrides the provider",
                    codeOf(() -> erin.create().withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(p + "/x/free")) == KeeperException.Code.OK
                    && erin.getACL().forPath(p + "/x/free").equals(ZooDefs.Ids.OPEN_ACL_UNSAFE));
            erin.setACL().withACL(ZooDefs.Ids.OPEN_ACL_UNSAFE).forPath(p + "/x/y");
            c.check("setACL opens the node to the other client", s(c2.getData().forPath(p + "/x/y")).equals("deep"));
            c.check("the other client cannot create under the creator's node",
                    codeOf(() -> c2.create().forPath(p + "/x/z")) == KeeperException.Code.NOAUTH);
            erin.delete().deletingChildrenIfNeeded().forPath(p);
            c.check("the creator deletes its subtree", !exists(p));
        } finally {
            closeQuietly(erin);
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: CuratorSuite <host:port>");
            System.exit(2);
        }
        connect = args[0];
        c = new CompatCheck(CompatCheck.suiteTimeoutFromEnv(150));
        try {
            c1 = client();
            c2 = client();
            c.check("connect to " + connect, true);
        } catch (Exception e) {
            c.check("connect to " + connect, false, e.toString());
            c.finish(1);
        }
        base = String.format("/ferrozk-curator-%d-%d", ProcessHandle.current().pid(), System.nanoTime() % 1000000);
        c1.create().forPath(base);

        String only = System.getenv("ONLY");
        Object[][] groups = {
            {"basics", (CompatCheck.Body) CuratorSuite::basics},
            {"transactions", (CompatCheck.Body) CuratorSuite::transactions},
            {"acl-provider", (CompatCheck.Body) CuratorSuite::aclProvider},
            {"mutex", (CompatCheck.Body) CuratorSuite::mutex},
            {"semaphore", (CompatCheck.Body) CuratorSuite::semaphore},
            {"leader-latch", (CompatCheck.Body) CuratorSuite::leaderLatch},
            {"leader-selector", (CompatCheck.Body) CuratorSuite::leaderSelector},
            {"barriers", (CompatCheck.Body) CuratorSuite::barriers},
            {"queue", (CompatCheck.Body) CuratorSuite::queue},
            {"shared-count", (CompatCheck.Body) CuratorSuite::sharedCount},
            {"atomic-long", (CompatCheck.Body) CuratorSuite::atomicLong},
            {"curator-cache", (CompatCheck.Body) CuratorSuite::curatorCache},
            {"persistent-node", (CompatCheck.Body) CuratorSuite::persistentNode},
            {"persistent-ttl-node", (CompatCheck.Body) CuratorSuite::persistentTtlNode},
            {"parent-containers", (CompatCheck.Body) CuratorSuite::parentContainers},
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
            c1.delete().deletingChildrenIfNeeded().forPath(base);
            c.check("suite root removed", !exists(base));
        } catch (Exception e) {
            c.check("suite root removed", false, e.toString());
        }
        closeQuietly(c1);
        closeQuietly(c2);
        c.finish();
    }
}
