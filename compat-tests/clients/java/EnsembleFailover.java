import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.framework.recipes.locks.InterProcessMutex;
import org.apache.curator.framework.state.ConnectionState;
import org.apache.curator.retry.ExponentialBackoffRetry;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;

/**
 * Clients on an ensemble losing a server: the Java client and Curator keep their sessions
 * (and an ephemeral node, and a held lock) when the server the Java client is connected to is
 * killed, reconnect to another server of the connect string, and go on.
 *
 * usage: EnsembleFailover <port=pid,port=pid,...> <connect-string>
 */
public final class EnsembleFailover {
    public static void main(String[] args) throws Exception {
        java.util.Map<Integer, Long> pids = new java.util.HashMap<>();
        for (String kv : args[0].split(",")) {
            String[] p = kv.split("=");
            pids.put(Integer.parseInt(p[0]), Long.parseLong(p[1]));
        }
        String connect = args[1];
        CompatCheck c = new CompatCheck(CompatCheck.suiteTimeoutFromEnv(120));
        List<Watcher.Event.KeeperState> states = new CopyOnWriteArrayList<>();
        CountDownLatch connected = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(connect, 10000, e -> {
            if (e.getType() == Watcher.Event.EventType.None) {
                states.add(e.getState());
                if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                    connected.countDown();
                }
            }
        });
        CuratorFramework cf = CuratorFrameworkFactory.newClient(connect, 10000, 5000,
                new ExponentialBackoffRetry(100, 10));
        List<ConnectionState> curatorStates = new CopyOnWriteArrayList<>();
        cf.getConnectionStateListenable().addListener((client, s) -> curatorStates.add(s));
        cf.start();
        c.group("before", () -> {
            c.check("java client connected", connected.await(30, TimeUnit.SECONDS));
            c.check("curator connected", cf.blockUntilConnected(30, TimeUnit.SECONDS));
            zk.create("/fo-eph", "x".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.EPHEMERAL);
            c.check("ephemeral created", zk.exists("/fo-eph", false) != null);
        });
        long session = zk.getSessionId();
        long curatorSession = cf.getZookeeperClient().getZooKeeper().getSessionId();
        InterProcessMutex lock = new InterProcessMutex(cf, "/fo-lock");
        c.group("lock", () -> c.check("lock acquired", lock.acquire(10, TimeUnit.SECONDS)));
        c.group("failover", () -> {
            // ZooKeeper.toString names the server the client is connected to.
            String desc = zk.toString();
            int at = desc.indexOf("remoteserver:");
            String remote = at < 0 ? "" : desc.substring(at).split(" ")[0];
            int port = Integer.parseInt(remote.substring(remote.lastIndexOf(':') + 1));
            Long pid = pids.get(port);
            c.check("connected to a known server", pid != null, desc);
            System.err.println("killing the server on port " + port + ", pid " + pid);
            Process kill = new ProcessBuilder("kill", "-9", Long.toString(pid)).inheritIO().start();
            c.check("server killed", kill.waitFor() == 0);
            boolean back = CompatCheck.waitUntil(() -> {
                zk.sync("/", null, null);
                return zk.getState().isConnected() && zk.exists("/fo-eph", false) != null;
            }, 60000);
            c.check("java client connected again", back, states);
            c.check("java client saw the disconnection", states.contains(Watcher.Event.KeeperState.Disconnected), states);
            c.check("java session kept", zk.getSessionId() == session);
            c.check("java session never expired", !states.contains(Watcher.Event.KeeperState.Expired), states);
            zk.create("/fo-after", "y".getBytes(), ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT);
            c.check("write after failover", zk.exists("/fo-after", false) != null);
            boolean curatorBack = CompatCheck.waitUntil(
                    () -> cf.getZookeeperClient().isConnected() && cf.checkExists().forPath("/fo-after") != null, 60000);
            c.check("curator connected again", curatorBack, curatorStates);
            c.check("curator session kept",
                    cf.getZookeeperClient().getZooKeeper().getSessionId() == curatorSession);
            c.check("curator never lost its session", !curatorStates.contains(ConnectionState.LOST), curatorStates);
            c.check("lock still held", lock.isAcquiredInThisProcess());
            lock.release();
            c.check("lock released", !lock.isAcquiredInThisProcess());
        });
        cf.close();
        zk.close();
        c.finish();
    }
}
