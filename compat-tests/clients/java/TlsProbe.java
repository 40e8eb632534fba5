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
 * One TLS client of the x509 checks: connects over TLS with a client certificate (the Netty
 * socket, zookeeper.client.secure) and prints, one fact per line, what the server makes of it:
 * its whoAmI identities and the answers to ACL operations. The same run against Apache
 * ZooKeeper and against ferrozk must print the same lines.
 *
 * usage: TlsProbe host:port keystore.p12 truststore role
 *   role owner: creates /x509 (ACL: its own x509 id with all rights, anyone may read), a node
 *               with the auth ACL, and tries invalid x509 ACL ids.
 *   role other: reads and tries to write /x509 as another identity.
 *   role super: writes /x509 and deletes what owner made, as the x509 super user.
 */
public class TlsProbe {
    static void out(String s) {
        System.out.println(s);
    }

    static String code(Runnable r) {
        try {
            r.run();
            return "OK";
        } catch (RuntimeException e) {
            if (e.getCause() instanceof KeeperException) {
                return ((KeeperException) e.getCause()).code().name();
            }
            throw e;
        }
    }

    interface Op {
        void run() throws Exception;
    }

    static Runnable op(Op o) {
        return () -> {
            try {
                o.run();
            } catch (KeeperException e) {
                throw new RuntimeException(e);
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        };
    }

    public static void main(String[] args) throws Exception {
        String hosts = args[0], keyStore = args[1], trustStore = args[2], role = args[3];
        ZKClientConfig c = new ZKClientConfig();
        c.setProperty("zookeeper.client.secure", "true");
        c.setProperty("zookeeper.clientCnxnSocket", "org.apache.zookeeper.ClientCnxnSocketNetty");
        c.setProperty("zookeeper.ssl.keyStore.location", keyStore);
        c.setProperty("zookeeper.ssl.keyStore.password", "secret");
        c.setProperty("zookeeper.ssl.trustStore.location", trustStore);
        c.setProperty("zookeeper.ssl.trustStore.password", "secret");
        c.setProperty("zookeeper.ssl.protocol", "TLSv1.3");
        CountDownLatch up = new CountDownLatch(1);
        // Each failed connection attempt (a refused certificate) gives a Disconnected event;
        // three in a row without a SyncConnected is a refusal, not a slow server.
        java.util.concurrent.atomic.AtomicInteger failed = new java.util.concurrent.atomic.AtomicInteger();
        java.util.concurrent.atomic.AtomicBoolean connected = new java.util.concurrent.atomic.AtomicBoolean();
        ZooKeeper zk = new ZooKeeper(hosts, 10000, e -> {
            if (e.getState() == Watcher.Event.KeeperState.SyncConnected) {
                connected.set(true);
                up.countDown();
            } else if (e.getState() == Watcher.Event.KeeperState.Disconnected
                    && failed.incrementAndGet() >= 3) {
                up.countDown();
            }
        }, c);
        if (!up.await(20, TimeUnit.SECONDS) || !connected.get()) {
            out("CONNECT failed");
            zk.close();
            System.exit(3);
        }
        out("CONNECT ok");
        out(Probes.whoAmI(zk));
        String me = Probes.user(zk, "x509");
        switch (role) {
            case "owner": {
                List<ACL> acl = new ArrayList<>();
                acl.add(new ACL(ZooDefs.Perms.ALL, new Id("x509", me)));
                acl.add(new ACL(ZooDefs.Perms.READ, ZooDefs.Ids.ANYONE_ID_UNSAFE));
                out("create /x509 " + code(op(() -> zk.create("/x509", "v".getBytes(), acl, CreateMode.PERSISTENT))));
                out("getACL /x509 " + Probes.acls(zk.getACL("/x509", new Stat())));
                out("create /x509/auth " + code(op(() -> zk.create("/x509/auth", new byte[0],
                        ZooDefs.Ids.CREATOR_ALL_ACL, CreateMode.PERSISTENT))));
                out("getACL /x509/auth " + Probes.acls(zk.getACL("/x509/auth", new Stat())));
                for (String bad : new String[] {"not a name", "CN=ok", ""}) {
                    List<ACL> b = Collections.singletonList(new ACL(ZooDefs.Perms.ALL, new Id("x509", bad)));
                    out("create with x509 id '" + bad + "' "
                            + code(op(() -> zk.create("/x509-bad", new byte[0], b, CreateMode.EPHEMERAL))));
                    code(op(() -> zk.delete("/x509-bad", -1)));
                }
                out("setData /x509 " + code(op(() -> zk.setData("/x509", "w".getBytes(), -1))));
                break;
            }
            case "other":
                out("getData /x509 " + code(op(() -> zk.getData("/x509", false, null))));
                out("setData /x509 " + code(op(() -> zk.setData("/x509", "o".getBytes(), -1))));
                out("create /x509/o " + code(op(() -> zk.create("/x509/o", new byte[0],
                        ZooDefs.Ids.OPEN_ACL_UNSAFE, CreateMode.PERSISTENT))));
                out("addAuth x509 " + code(op(() -> zk.addAuthInfo("x509", new byte[0]))));
                break;
            case "super":
                out("setData /x509 " + code(op(() -> zk.setData("/x509", "s".getBytes(), -1))));
                out("delete /x509/auth " + code(op(() -> zk.delete("/x509/auth", -1))));
                out("delete /x509 " + code(op(() -> zk.delete("/x509", -1))));
                break;
            default:
                throw new IllegalArgumentException(role);
        }
        zk.close();
        out("DONE");
    }
}
