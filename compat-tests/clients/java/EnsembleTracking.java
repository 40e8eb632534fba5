import java.util.concurrent.TimeUnit;
import org.apache.curator.framework.CuratorFramework;
import org.apache.curator.framework.CuratorFrameworkFactory;
import org.apache.curator.retry.ExponentialBackoffRetry;

/**
 * Curator's EnsembleTracker on an ensemble being reconfigured: a client given one server
 * follows /zookeeper/config and, as reconfigurations add servers, its connect string comes to
 * list their client addresses; it then writes through whatever server it uses.
 *
 * usage: EnsembleTracking <host:port,...> <connect-string>
 *   the first argument lists the client addresses the connect string must come to hold
 */
public final class EnsembleTracking {
    public static void main(String[] args) throws Exception {
        String[] expected = args[0].split(",");
        String connect = args[1];
        CompatCheck c = new CompatCheck(CompatCheck.suiteTimeoutFromEnv(240));
        CuratorFramework cf = CuratorFrameworkFactory.builder()
                .connectString(connect)
                .sessionTimeoutMs(20000)
                .connectionTimeoutMs(10000)
                .retryPolicy(new ExponentialBackoffRetry(100, 10))
                .ensembleTracker(true)
                .build();
        cf.start();
        c.group("tracking", () -> {
            c.check("connected", cf.blockUntilConnected(30, TimeUnit.SECONDS));
            // Tells the test it may change the configuration once the tracker has read the
            // current one (the connect string it was given has grown to the whole ensemble).
            CompatCheck.waitUntil(
                    () -> !cf.getZookeeperClient().getCurrentConnectionString().equals(connect), 10000);
            String ready = System.getenv("FERROZK_TRACKING_READY");
            if (ready != null) {
                java.nio.file.Files.write(java.nio.file.Paths.get(ready), new byte[0]);
            }
            boolean learnt = CompatCheck.waitUntil(() -> {
                String now = cf.getZookeeperClient().getCurrentConnectionString();
                for (String e : expected) {
                    if (!now.contains(e)) {
                        return false;
                    }
                }
                return true;
            }, 200000);
            c.check("the connect string lists the servers added", learnt,
                    cf.getZookeeperClient().getCurrentConnectionString());
            boolean wrote = CompatCheck.waitUntil(() -> {
                cf.create().orSetData().forPath("/tracked", "x".getBytes());
                return cf.checkExists().forPath("/tracked") != null;
            }, 60000);
            c.check("a write after", wrote);
        });
        cf.close();
        c.finish();
    }
}
