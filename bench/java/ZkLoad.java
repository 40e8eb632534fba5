// An independent load generator on Apache ZooKeeper's own Java client (async API), so that
// no benchmark figure rests on ferrozk-bench alone. Pipelines `inflight` requests per
// session; prints one JSON line like ferrozk-bench's.
//   java -cp <zookeeper jars>:. ZkLoad <host:port> <sessions> <inflight> <get|set> <seconds> <size> <keys> <prefix>
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.zookeeper.AsyncCallback;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class ZkLoad {
    static final class Lat {
        long[] v = new long[1 << 16];
        int n;
        synchronized void add(long x) {
            if (n == v.length) v = Arrays.copyOf(v, n * 2);
            v[n++] = x;
        }
    }

    public static void main(String[] a) throws Exception {
        String hosts = a[0];
        int sessions = Integer.parseInt(a[1]);
        int inflight = Integer.parseInt(a[2]);
        boolean set = a[3].equals("set");
        double seconds = Double.parseDouble(a[4]);
        byte[] data = new byte[Integer.parseInt(a[5])];
        Arrays.fill(data, (byte) 'j');
        int keys = Integer.parseInt(a[6]);
        String prefix = a[7];

        ZooKeeper[] zks = new ZooKeeper[sessions];
        for (int i = 0; i < sessions; i++) {
            CountDownLatch up = new CountDownLatch(1);
            zks[i] = new ZooKeeper(hosts, 30000, e -> {
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) up.countDown();
            });
            if (!up.await(30, TimeUnit.SECONDS)) throw new RuntimeException("no session");
        }
        try {
            zks[0].create(prefix, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) { }
        for (int k = 0; k < keys; k++) {
            try {
                zks[0].create(prefix + "/k" + k, data, ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            } catch (KeeperException.NodeExistsException e) { }
        }

        AtomicBoolean measuring = new AtomicBoolean(false);
        AtomicBoolean stop = new AtomicBoolean(false);
        AtomicLong ops = new AtomicLong(), errors = new AtomicLong(), outstanding = new AtomicLong();
        Lat lat = new Lat();
        java.util.Random rnd = new java.util.Random(1);

        final class Driver {
            final ZooKeeper zk;
            Driver(ZooKeeper zk) { this.zk = zk; }
            void issue() {
                if (stop.get()) return;
                outstanding.incrementAndGet();
                String path = prefix + "/k" + (keys <= 1 ? 0 : java.util.concurrent.ThreadLocalRandom.current().nextInt(keys));
                long t0 = System.nanoTime();
                boolean m = measuring.get();
                if (set) {
                    zk.setData(path, data, -1, (AsyncCallback.StatCallback) (rc, p, ctx, stat) -> done(rc, t0, m), null);
                } else {
                    zk.getData(path, false, (AsyncCallback.DataCallback) (rc, p, ctx, d, stat) -> done(rc, t0, m), null);
                }
            }
            void done(int rc, long t0, boolean m) {
                if (m) {
                    lat.add((System.nanoTime() - t0) / 1000);
                    ops.incrementAndGet();
                    if (rc != 0) errors.incrementAndGet();
                }
                outstanding.decrementAndGet();
                issue();
            }
        }
        for (ZooKeeper zk : zks) {
            Driver d = new Driver(zk);
            for (int i = 0; i < inflight; i++) d.issue();
        }
        Thread.sleep(2000); // warm-up (the JIT compiles the client too)
        measuring.set(true);
        long t0 = System.nanoTime();
        Thread.sleep((long) (seconds * 1000));
        stop.set(true);
        double secs = (System.nanoTime() - t0) / 1e9;
        while (outstanding.get() > 0) Thread.sleep(5);
        for (ZooKeeper zk : zks) zk.close();
        long[] v;
        synchronized (lat) { v = Arrays.copyOf(lat.v, lat.n); }
        Arrays.sort(v);
        java.util.function.DoubleFunction<String> q = p -> v.length == 0 ? "0" :
            String.format(java.util.Locale.ROOT, "%.3f", v[Math.min(v.length - 1, (int) Math.floor(p * v.length))] / 1000.0);
        System.out.printf(java.util.Locale.ROOT,
            "{\"mode\":\"java-%s\",\"settings\":{\"sessions\":%d,\"inflight\":%d,\"size\":%d,\"keys\":%d},\"seconds\":%.3f,\"ops\":%d,\"ops_per_sec\":%.1f,\"failed\":%d,\"latency_ms\":{\"%s\":{\"p50\":%s,\"p90\":%s,\"p99\":%s,\"p99.9\":%s,\"max\":%s}}}%n",
            set ? "set" : "get", sessions, inflight, data.length, keys, secs, ops.get(), ops.get() / secs, errors.get(),
            set ? "set" : "get", q.apply(0.5), q.apply(0.9), q.apply(0.99), q.apply(0.999), q.apply(0.99999999));
    }
}
