import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.LocalHBaseCluster;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Admin;
import org.apache.hadoop.hbase.client.ColumnFamilyDescriptorBuilder;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.client.TableDescriptorBuilder;
import org.apache.hadoop.hbase.master.HMaster;
import org.apache.hadoop.hbase.util.Bytes;
import org.apache.zookeeper.ZooKeeper;

/**
 * HBase 2 on an external ZooKeeper quorum: two HMasters (one active, one backup) and a
 * RegionServer in one JVM (LocalHBaseCluster, as the master's "start" does, but against the
 * given quorum instead of a ZooKeeper of its own), the data on the local file system.
 *
 * usage: HBaseCheck <zk-connect> <workdir> <unused-port> [kill-pid]
 *
 * Creates a table, puts and gets, then kills the active master (and kill-pid, a ZooKeeper
 * server of an ensemble, at the same moment) and checks that the backup master takes over
 * through /hbase/master and that the cluster keeps serving: reads, writes, a new table (which
 * needs the master), a table disabled and deleted. Each step prints its name and duration.
 */
public final class HBaseCheck extends AppCheck {
    final String connect;
    final Path work;
    final String parent = "/hbase-" + Long.toString(System.currentTimeMillis(), 36);
    ZooKeeper zk;

    HBaseCheck(String connect, Path work) {
        this.connect = connect;
        this.work = work;
    }

    List<String> children(String path) {
        try {
            return zk.getChildren(parent + path, false);
        } catch (Exception e) {
            return List.of();
        }
    }

    byte[] data(String path) {
        try {
            return zk.getData(parent + path, false, null);
        } catch (Exception e) {
            return null;
        }
    }

    /** The active master's name as /hbase/master holds it (protobuf after a magic prefix). */
    String activeMasterZnode() {
        byte[] d = data("/master");
        return d == null ? null : new String(d, StandardCharsets.ISO_8859_1);
    }

    Configuration conf() {
        Configuration c = HBaseConfiguration.create();
        // host:port entries: HBase takes the ports from the quorum string itself.
        c.set("hbase.zookeeper.quorum", connect);
        c.set("zookeeper.znode.parent", parent);
        c.setInt("zookeeper.session.timeout", 10000);
        c.setBoolean("hbase.cluster.distributed", true);
        c.set("hbase.rootdir", work.resolve("root").toUri().toString());
        c.set("hbase.tmp.dir", work.resolve("tmp").toString());
        c.setBoolean("hbase.unsafe.stream.capability.enforce", false);
        c.setBoolean("hbase.localcluster.assign.random.ports", true);
        c.setInt("hbase.master.info.port", -1);
        c.setInt("hbase.regionserver.info.port", -1);
        c.setInt("hbase.client.retries.number", 30);
        c.setInt("hbase.master.wait.on.regionservers.mintostart", 1);
        c.setInt("hbase.master.wait.on.regionservers.timeout", 1000);
        c.setInt("hbase.regionserver.msginterval", 1000);
        return c;
    }

    static void logTo(Path file) {
        Properties p = new Properties();
        p.setProperty("log4j.rootLogger", "INFO, f");
        p.setProperty("log4j.appender.f", "org.apache.log4j.FileAppender");
        p.setProperty("log4j.appender.f.File", file.toString());
        p.setProperty("log4j.appender.f.layout", "org.apache.log4j.PatternLayout");
        p.setProperty("log4j.appender.f.layout.ConversionPattern", "%d %p [%t] %c{1}: %m%n");
        org.apache.log4j.PropertyConfigurator.configure(p);
    }

    void run(Long killPid) throws Exception {
        logTo(work.resolve("hbase.log"));
        step("connect a ZooKeeper client", () -> zk = connectZooKeeper(connect));
        Configuration conf = conf();
        LocalHBaseCluster cluster = new LocalHBaseCluster(conf, 2, 1);
        try {
            step("two masters and a region server start; one master is active, one backup", () -> {
                cluster.startup();
                waitFor("an active master", 120000, () -> cluster.getActiveMaster() != null
                        && cluster.getActiveMaster().isInitialized());
                waitFor("the region server under /rs", 60000, () -> children("/rs").size() == 1);
                waitFor("the backup master under /backup-masters", 60000,
                        () -> children("/backup-masters").size() == 1);
                check(activeMasterZnode() != null, "/master");
                check(data("/meta-region-server") != null, "/meta-region-server");
            });
            try (Connection c = ConnectionFactory.createConnection(conf)) {
                TableName t = TableName.valueOf("ferrozk_check");
                step("create a table, put and get", () -> {
                    try (Admin a = c.getAdmin()) {
                        a.createTable(TableDescriptorBuilder.newBuilder(t)
                                .setColumnFamily(ColumnFamilyDescriptorBuilder.of("f")).build());
                    }
                    put(c, t, 0, 200);
                    get(c, t, 200);
                });
                HMaster old = cluster.getActiveMaster();
                String[] before = {activeMasterZnode()};
                String oldName = old.getServerName().toString();
                step("kill the active master" + (killPid != null ? " and a ZooKeeper server" : "")
                        + "; the backup takes over", () -> {
                    if (killPid != null) {
                        ProcessHandle.of(killPid).ifPresent(ProcessHandle::destroyForcibly);
                        System.out.println("  killed the ZooKeeper server with pid " + killPid);
                    }
                    old.abort("killed by the check");
                    waitFor("a new active master", 120000, () -> {
                        HMaster m = cluster.getActiveMaster();
                        return m != null && m != old && m.isInitialized();
                    });
                    waitFor("/master naming the new master", 60000, () -> {
                        String z = activeMasterZnode();
                        return z != null && !z.equals(before[0]);
                    });
                    System.out.println("  master " + oldName + " -> " + cluster.getActiveMaster().getServerName());
                });
                step("the cluster keeps serving: reads, writes, a new table, a table deleted", () -> {
                    get(c, t, 200);
                    put(c, t, 200, 100);
                    get(c, t, 300);
                    TableName t2 = TableName.valueOf("ferrozk_after");
                    try (Admin a = c.getAdmin()) {
                        a.createTable(TableDescriptorBuilder.newBuilder(t2)
                                .setColumnFamily(ColumnFamilyDescriptorBuilder.of("f")).build());
                        put(c, t2, 0, 10);
                        get(c, t2, 10);
                        a.disableTable(t2);
                        a.deleteTable(t2);
                        check(!a.tableExists(t2), "table deleted");
                    }
                });
            }
        } finally {
            cluster.shutdown();
            cluster.join();
        }
    }

    static void put(Connection c, TableName t, int from, int n) throws Exception {
        try (Table table = c.getTable(t)) {
            for (int i = from; i < from + n; i++) {
                table.put(new Put(Bytes.toBytes("row" + i)).addColumn(Bytes.toBytes("f"), Bytes.toBytes("q"),
                        Bytes.toBytes("value" + i)));
            }
        }
    }

    static void get(Connection c, TableName t, int n) throws Exception {
        try (Table table = c.getTable(t)) {
            for (int i = 0; i < n; i++) {
                Result r = table.get(new Get(Bytes.toBytes("row" + i)));
                check(("value" + i).equals(Bytes.toString(r.getValue(Bytes.toBytes("f"), Bytes.toBytes("q")))),
                        t + " row" + i);
            }
        }
        System.out.println("  read back " + n + " rows of " + t);
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: HBaseCheck <zk-connect> <workdir> <unused-port> [kill-pid]");
            System.exit(2);
        }
        HBaseCheck h = new HBaseCheck(args[0], Path.of(args[1]));
        Long killPid = args.length > 3 ? Long.parseLong(args[3]) : null;
        int status = 0;
        try {
            h.run(killPid);
            h.passed("HBASE");
        } catch (Throwable e) {
            status = 1;
            List<String> lines = List.of();
            try {
                lines = Files.readAllLines(h.work.resolve("hbase.log"));
            } catch (Exception ignored) {
                // no log yet
            }
            System.out.println("---- last lines of hbase.log");
            for (String l : lines.subList(Math.max(0, lines.size() - 40), lines.size())) {
                System.out.println(l);
            }
        } finally {
            if (h.zk != null) {
                h.zk.close();
            }
        }
        // HBase leaves non-daemon threads behind.
        Runtime.getRuntime().halt(status);
    }
}
