import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

/**
 * A Java-client writer for an ensemble losing servers: creates distinct znodes for a while
 * through the whole connect string and prints "ACK <path>" for each create the server
 * acknowledged (and "ERR <path> <code>" for each that failed), then "DONE <acks> <errs>".
 * The client fails over between servers by itself; its session must survive.
 *
 * usage: EnsembleLoad <seconds> <root> <connect-string>
 */
public final class EnsembleLoad {
    public static void main(String[] args) throws Exception {
        long seconds = Long.parseLong(args[0]);
        String root = args[1];
        String connect = args[2];
        CountDownLatch up = new CountDownLatch(1);
        boolean[] expired = {false};
        ZooKeeper zk = new ZooKeeper(connect, 10000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                up.countDown();
            } else if (e.getState() == Watcher.Event.KeeperState.Expired) {
                expired[0] = true;
            }
        });
        if (!up.await(30, TimeUnit.SECONDS)) {
            System.out.println("FAIL: not connected");
            System.exit(1);
        }
        long session = zk.getSessionId();
        try {
            zk.create(root, new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException.NodeExistsException e) {
            // a second run
        }
        long end = System.nanoTime() + seconds * 1_000_000_000L;
        int i = 0;
        int acks = 0;
        int errs = 0;
        while (System.nanoTime() < end) {
            String path = String.format("%s/j%06d", root, i++);
            try {
                zk.create(path, "v".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
                acks++;
                System.out.println("ACK " + path);
            } catch (KeeperException e) {
                errs++;
                System.out.println("ERR " + path + " " + e.code());
                Thread.sleep(50);
            }
        }
        System.out.println("SESSION " + (zk.getSessionId() == session && !expired[0] ? "kept" : "lost"));
        System.out.println("DONE " + acks + " " + errs);
        System.out.flush();
        zk.close();
        Runtime.getRuntime().halt(0);
    }
}
