// Drives the real Apache ZooKeeper Java client (3.8) through a scripted sequence so that
// capture.py can record golden wire bytes. Usage:
//   java -cp <zookeeper.jar:...:.> GoldenClient <host:port> <drop-file>
// Creating <drop-file> makes capture.py's proxy cut the TCP connection, so the client
// reconnects, re-attaches its session and re-sends its watches (setWatches/setWatches2).
// Every step prints a line "STEP <name>" so the capture can be matched to the script.
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.AddWatchMode;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Op;
import org.apache.zookeeper.OpResult;
import org.apache.zookeeper.WatchedEvent;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.data.Stat;

public class GoldenClient {
    static final LinkedBlockingQueue<WatchedEvent> events = new LinkedBlockingQueue<>();

    static void step(String s) throws InterruptedException {
        Thread.sleep(150); // keep steps apart in the capture timeline
        System.out.println("STEP " + s);
    }

    static void waitState(Watcher.Event.KeeperState st) throws Exception {
        long end = System.currentTimeMillis() + 20000;
        while (System.currentTimeMillis() < end) {
            WatchedEvent e = events.poll(200, TimeUnit.MILLISECONDS);
            if (e != null) {
                System.out.println("EVENT " + e);
                if (e.getType() == Watcher.Event.EventType.None && e.getState() == st) {
                    return;
                }
            }
        }
        throw new RuntimeException("timeout waiting for " + st);
    }

    static void drop(String dropFile) throws Exception {
        Files.write(Paths.get(dropFile), new byte[0]);
        waitState(Watcher.Event.KeeperState.Disconnected);
        waitState(Watcher.Event.KeeperState.SyncConnected);
    }

    public static void main(String[] args) throws Exception {
        String hp = args[0];
        String dropFile = args[1];
        ZooKeeper zk = new ZooKeeper(hp, 6000, e -> events.add(e));
        waitState(Watcher.Event.KeeperState.SyncConnected);
        Stat st = new Stat();

        step("create /golden (op 1, world:anyone)");
        zk.create("/golden", "hello".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        step("create2 /golden/c2 (op 15, with Stat)");
        zk.create("/golden/c2", "v".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT, st);
        step("create2 ephemeral sequential /golden/es-");
        zk.create("/golden/es-", "e".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL_SEQUENTIAL, st);
        step("getData /golden watch=true");
        zk.getData("/golden", true, st);
        step("setData /golden version 0 (fires NodeDataChanged)");
        zk.setData("/golden", "world".getBytes(), 0);
        step("getChildren2 /golden watch=true");
        zk.getChildren("/golden", true, st);
        step("getChildren /golden");
        zk.getChildren("/golden", false);
        step("exists /golden/missing (NONODE, header-only reply)");
        zk.exists("/golden/missing", false);
        step("exists /golden/missing2 watch=true");
        zk.exists("/golden/missing2", true);
        step("getData /golden/c2 watch=true");
        zk.getData("/golden/c2", true, st);
        step("multi ok");
        zk.multi(Arrays.asList(
            Op.create("/golden/m1", "m".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
            Op.setData("/golden", "multi".getBytes(), -1),
            Op.check("/golden", 2),
            Op.delete("/golden/m1", -1)));
        step("multi failing (check version 99 in the middle)");
        try {
            zk.multi(Arrays.asList(
                Op.create("/golden/m2", "m".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT),
                Op.check("/golden", 99),
                Op.delete("/golden/c2", -1)));
        } catch (KeeperException e) {
            System.out.println("expected " + e);
        }
        step("multiRead (getData + getChildren)");
        List<OpResult> rr = zk.multi(Arrays.asList(Op.getData("/golden"), Op.getChildren("/golden"), Op.getData("/golden/nope")));
        step("getACL /golden");
        zk.getACL("/golden", st);
        step("setACL /golden version 0");
        zk.setACL("/golden", ZooDefs.Ids.OPEN_ACL_UNSAFE, 0);
        step("create container /golden/ctr (op 19)");
        zk.create("/golden/ctr", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.CONTAINER);
        step("create TTL /golden/ttl (op 21)");
        zk.create("/golden/ttl", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT_WITH_TTL, st, 600000);
        step("sync /golden");
        final CountDownLatch synced = new CountDownLatch(1);
        zk.sync("/golden", (rc, path, ctx) -> synced.countDown(), null);
        synced.await(10, TimeUnit.SECONDS);
        step("getEphemerals /");
        zk.getEphemerals("/");
        step("getAllChildrenNumber /golden");
        zk.getAllChildrenNumber("/golden");
        step("whoAmI");
        zk.whoAmI();
        step("addauth digest u1:p1");
        zk.addAuthInfo("digest", "u1:p1".getBytes());
        zk.exists("/golden", false); // make sure the auth packet went out before the next step
        step("reconnect with one-shot watches only -> setWatches (101)");
        drop(dropFile);
        zk.exists("/golden", false);
        step("addWatch /golden PERSISTENT_RECURSIVE");
        zk.addWatch("/golden", AddWatchMode.PERSISTENT_RECURSIVE);
        step("addWatch /golden/c2 PERSISTENT");
        zk.addWatch("/golden/c2", AddWatchMode.PERSISTENT);
        step("create /golden/c3 (recursive watch fires NodeCreated)");
        zk.create("/golden/c3", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        step("idle 5 s (pings)");
        Thread.sleep(5000);
        step("reconnect with persistent watches -> setWatches2 (105)");
        drop(dropFile);
        zk.exists("/golden", false);
        step("checkWatches via removeWatches(local=false) /golden/c2 Any");
        try {
            zk.removeAllWatches("/golden/c2", Watcher.WatcherType.Any, false);
        } catch (KeeperException e) {
            System.out.println("removeAllWatches: " + e);
        }
        step("checkWatches (op 17) via removeWatches(path, watcher, Data, local=false)");
        Watcher mine = e -> System.out.println("MINE " + e);
        zk.getData("/golden/c3", mine, st);
        zk.removeWatches("/golden/c3", mine, Watcher.WatcherType.Data, false);
        step("create existing /golden/c3 (NODEEXISTS, header-only reply)");
        try {
            zk.create("/golden/c3", new byte[0], ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
        } catch (KeeperException e) {
            System.out.println("expected " + e);
        }
        step("delete /golden/c3 version 7 (BADVERSION)");
        try {
            zk.delete("/golden/c3", 7);
        } catch (KeeperException e) {
            System.out.println("expected " + e);
        }
        step("delete /golden/c3");
        zk.delete("/golden/c3", -1);
        step("close (closeSession)");
        zk.close();
        System.out.println("DONE");
    }
}
