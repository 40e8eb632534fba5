import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.apache.zookeeper.CreateMode;
import org.apache.zookeeper.KeeperException;
import org.apache.zookeeper.Watcher;
import org.apache.zookeeper.ZooDefs;
import org.apache.zookeeper.ZooKeeper;
import org.apache.zookeeper.client.ZKClientConfig;
import org.apache.zookeeper.data.ACL;
import org.apache.zookeeper.data.Id;
import org.apache.zookeeper.data.Stat;

/**
 * One SASL client of the SASL checks: the Java client logging in with the JAAS section it is
 * given (DIGEST-MD5 through the JAAS Client section, as Kafka brokers do), printing one fact per
 * line: the connection states it sees, its whoAmI identities and the answers to ACL operations.
 * The same run against Apache ZooKeeper and against ferrozk must print the same lines.
 *
 * usage: SaslProbe host:port section role
 *   (the JAAS file is -Djava.security.auth.login.config; section "none" connects without SASL)
 *   role owner: creates /sasl-j (ALL for its own sasl id, READ for anyone) and a node with the
 *               auth ACL, and tries invalid sasl ids.
 *   role other: reads and tries to write /sasl-j.
 *   role plain: one read, to see what an unauthenticated client gets.
 */
public class SaslProbe {
    static void out(String s) {
        System.out.println(s);
    }

    interface Op {
        void run() throws Exception;
    }

    static String code(Op o) {
        try {
            o.run();
            return "OK";
        } catch (KeeperException e) {
            return e.code().name();
        } catch (Exception e) {
            return e.getClass().getSimpleName();
        }
    }

    public static void main(String[] args) throws Exception {
        String hosts = args[0], section = args[1], role = args[2];
        ZKClientConfig c = new ZKClientConfig();
        if (section.equals("none")) {
            c.setProperty(ZKClientConfig.ENABLE_CLIENT_SASL_KEY, "false");
        } else {
            c.setProperty(ZKClientConfig.LOGIN_CONTEXT_NAME_KEY, section);
        }
        List<String> states = Collections.synchronizedList(new ArrayList<>());
        CountDownLatch settled = new CountDownLatch(1);
        ZooKeeper zk = new ZooKeeper(hosts, 10000, e -> {
            if (e.getType() == Watcher.Event.EventType.None) {
                states.add(e.getState().name());
                Watcher.Event.KeeperState s = e.getState();
                if (s == Watcher.Event.KeeperState.SaslAuthenticated
                        || s == Watcher.Event.KeeperState.AuthFailed
                        || (section.equals("none") && s == Watcher.Event.KeeperState.SyncConnected)) {
                    settled.countDown();
                }
            }
        }, c);
        boolean ok = settled.await(20, TimeUnit.SECONDS);
        Thread.sleep(300);
        out("STATES " + String.join(",", states) + (ok ? "" : " (timed out)"));
        if (states.contains("AuthFailed")) {
            out("getData / " + code(() -> zk.getData("/", false, null)));
            zk.close();
            out("DONE");
            return;
        }
        out(Probes.whoAmI(zk));
        String me = Probes.user(zk, "sasl");
        final String self = me;
        switch (role) {
            case "owner": {
                List<ACL> acl = new ArrayList<>();
                acl.add(new ACL(ZooDefs.Perms.ALL, new Id("sasl", self)));
                acl.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
                out("create /sasl-j " + code(() -> zk.create("/sasl-j", "v".getBytes(), acl, CreateMode.PERSISTENT)));
                out("getACL /sasl-j " + Probes.acls(zk.getACL("/sasl-j", new Stat())));
                out("create /sasl-j/auth " + code(() -> zk.create("/sasl-j/auth", new byte[0],
                        ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT)));
                out("getACL /sasl-j/auth " + Probes.acls(zk.getACL("/sasl-j/auth", new Stat())));
                for (String bad : new String[] {"a@b@c", "a/b/c@R", "svc/h@R", "x@"}) {
                    List<ACL> b = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("sasl", bad)));
                    out("create with sasl id '" + bad + "' "
                            + code(() -> zk.create("/sasl-bad", new byte[0], b, CreateMode.EPHEMERAL)));
                    code(() -> zk.delete("/sasl-bad", -1));
                }
                out("setData /sasl-j " + code(() -> zk.setData("/sasl-j", "w".getBytes(), -1)));
                break;
            }
            case "other":
                out("getData /sasl-j " + code(() -> zk.getData("/sasl-j", false, null)));
                // As Kafka's sensitive nodes with zookeeper.set.acl: only their creator reads.
                out("getData /sasl-j/auth " + code(() -> zk.getData("/sasl-j/auth", false, null)));
                out("setData /sasl-j " + code(() -> zk.setData("/sasl-j", "o".getBytes(), -1)));
                out("create /sasl-j/o " + code(() -> zk.create("/sasl-j/o", new byte[0],
                        ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT)));
                out("delete /sasl-j/auth " + code(() -> zk.delete("/sasl-j/auth", -1)));
                break;
            case "plain":
                out("getData / " + code(() -> zk.getData("/", false, null)));
                break;
            default:
                throw new IllegalArgumentException(role);
        }
        zk.close();
        out("DONE");
    }
}
