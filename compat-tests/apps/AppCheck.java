import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooKeeper;

/**
 * What every Java application check (KafkaCheck, DubboCheck, HBaseCheck) shares: steps that
 * print their name and duration, checks that end the run, and bounded waits.
 * compat-tests/apps/run-java-check.sh compiles it beside the check.
 */
public class AppCheck {
    protected final long started = System.nanoTime();

    public interface Body {
        void run() throws Exception;
    }

    /** Runs one step: "STEP name ...", then "  ok name (s)", or "FAIL name" and rethrows. */
    public void step(String name, Body body) throws Exception {
        long t0 = System.nanoTime();
        System.out.println("STEP " + name + " ...");
        System.out.flush();
        try {
            body.run();
        } catch (Throwable e) {
            System.out.printf("FAIL %s after %.1f s: %s%n", name, (System.nanoTime() - t0) / 1e9, e);
            e.printStackTrace(System.out);
            throw e;
        }
        System.out.printf("  ok %s (%.1f s, %.0f s in all)%n", name, (System.nanoTime() - t0) / 1e9,
                (System.nanoTime() - started) / 1e9);
        System.out.flush();
    }

    /** The line the tests look for: "<WHAT> CHECK PASSED in N s". */
    public void passed(String what) {
        System.out.printf("%s CHECK PASSED in %.0f s%n", what, (System.nanoTime() - started) / 1e9);
    }

    /** A ZooKeeper client of the application's own ZooKeeper library, connected (30 s bound),
     * for the check to read what the application wrote. */
    public static ZooKeeper connectZooKeeper(String connect) throws Exception {
        CountDownLatch up = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, 15000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            }
        });
        check(up.await(30, TimeUnit.SECONDS), "a ZooKeeper client connected to " + connect);
        return zk;
    }

    public static void check(boolean ok, String what) {
        if (!ok) {
            throw new AssertionError(what);
        }
    }

    /** Polls `cond` every 250 ms (an exception counts as false) until it holds or `ms` pass. */
    public static void waitFor(String what, long ms, BooleanSupplier cond) throws InterruptedException {
        long end = System.currentTimeMillis() + ms;
        while (true) {
            boolean ok;
            try {
                ok = cond.getAsBoolean();
            } catch (RuntimeException e) {
                ok = false;
            }
            if (ok) {
                return;
            }
            if (System.currentTimeMillis() > end) {
                throw new AssertionError("timed out after " + ms + " ms waiting for " + what);
            }
            Thread.sleep(250);
        }
    }
}
