import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.acl.AccessControlEntry;
import org.apache.kafka.common.acl.AccessControlEntryFilter;
import org.apache.kafka.common.acl.AclBinding;
import org.apache.kafka.common.acl.AclBindingFilter;
import org.apache.kafka.common.acl.AclOperation;
import org.apache.kafka.common.acl.AclPermissionType;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.resource.PatternType;
import org.apache.kafka.common.resource.ResourcePattern;
import org.apache.kafka.common.resource.ResourcePatternFilter;
import org.apache.kafka.common.resource.ResourceType;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.zookeeper.ZooKeeper;

/**
 * Kafka brokers in ZooKeeper mode on the ZooKeeper server(s) of a connect string, then their
 * migration to KRaft, driven the way a Kafka operator does it, with Kafka's own admin client,
 * producer and consumer. Each step prints its name and how long it took; the first failure
 * ends the run with a non-zero status and the tail of the logs involved.
 *
 * usage: KafkaCheck <zk-connect> <workdir> <port,port,port,controller-port> [kill-pid]
 *
 * The brokers and the KRaft controller are JVMs started with the classpath in $APP_CP.
 * kill-pid: a ZooKeeper server killed (SIGKILL) at the same moment as the Kafka controller,
 * so that the brokers' sessions fail over inside the ensemble while Kafka elects a new
 * controller. The Kafka metadata lives under a chroot (/kafka-<run>), as in most deployments.
 */
public final class KafkaCheck extends AppCheck {
    /** Unique per run, so that runs can share one ZooKeeper service. */
    static final String CHROOT = "/kafka-" + Long.toString(System.currentTimeMillis(), 36);
    static final int CONTROLLER_ID = 3000;
    static final int N = 3;

    final String zkConnect;
    final Path work;
    final int[] ports;
    final int controllerPort;
    final String cp = System.getenv("APP_CP");
    final Process[] brokers = new Process[N];
    Process controller;
    ZooKeeper zk;
    final Map<String, Integer> produced = new TreeMap<>();

    KafkaCheck(String zkConnect, Path work, int[] ports, int controllerPort) {
        this.zkConnect = zkConnect;
        this.work = work;
        this.ports = ports;
        this.controllerPort = controllerPort;
    }

    // ---- processes -------------------------------------------------------------------------

    String bootstrap() {
        StringBuilder sb = new StringBuilder();
        for (int p : ports) {
            sb.append(sb.length() == 0 ? "" : ",").append("127.0.0.1:").append(p);
        }
        return sb.toString();
    }

    /** The broker properties of each phase: "zk", "migrating" (ZooKeeper mode with the
     * migration on) and "kraft". */
    String brokerProps(int id, String phase) {
        StringBuilder p = new StringBuilder();
        p.append("listeners=PLAINTEXT://127.0.0.1:").append(ports[id]).append('\n');
        p.append("advertised.listeners=PLAINTEXT://127.0.0.1:").append(ports[id]).append('\n');
        p.append("log.dirs=").append(work.resolve("broker-" + id + "/data")).append('\n');
        p.append("num.partitions=1\noffsets.topic.replication.factor=1\n");
        p.append("transaction.state.log.replication.factor=1\ntransaction.state.log.min.isr=1\n");
        p.append("group.initial.rebalance.delay.ms=0\n");
        p.append("super.users=User:ANONYMOUS\n");
        if (phase.equals("kraft")) {
            p.append("process.roles=broker\nnode.id=").append(id).append('\n');
            p.append("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n");
        } else {
            p.append("broker.id=").append(id).append('\n');
            p.append("zookeeper.connect=").append(zkConnect).append(CHROOT).append('\n');
            p.append("zookeeper.session.timeout.ms=6000\n");
            p.append("authorizer.class.name=kafka.security.authorizer.AclAuthorizer\n");
        }
        if (!phase.equals("zk")) {
            p.append("listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n");
            p.append("controller.quorum.voters=").append(CONTROLLER_ID).append("@127.0.0.1:")
                    .append(controllerPort).append('\n');
            p.append("controller.listener.names=CONTROLLER\n");
        }
        if (phase.equals("migrating")) {
            p.append("inter.broker.protocol.version=3.9\nzookeeper.metadata.migration.enable=true\n");
        }
        return p.toString();
    }

    String controllerProps(boolean migrating) {
        StringBuilder p = new StringBuilder();
        p.append("process.roles=controller\nnode.id=").append(CONTROLLER_ID).append('\n');
        p.append("controller.quorum.voters=").append(CONTROLLER_ID).append("@127.0.0.1:")
                .append(controllerPort).append('\n');
        p.append("controller.listener.names=CONTROLLER\n");
        p.append("listeners=CONTROLLER://127.0.0.1:").append(controllerPort).append('\n');
        p.append("listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT\n");
        p.append("log.dirs=").append(work.resolve("controller/data")).append('\n');
        p.append("authorizer.class.name=org.apache.kafka.metadata.authorizer.StandardAuthorizer\n");
        p.append("super.users=User:ANONYMOUS\n");
        if (migrating) {
            p.append("zookeeper.metadata.migration.enable=true\n");
            p.append("zookeeper.connect=").append(zkConnect).append(CHROOT).append('\n');
            p.append("zookeeper.session.timeout.ms=6000\n");
            p.append("inter.broker.listener.name=PLAINTEXT\n");
        }
        return p.toString();
    }

    Process jvm(String name, String mainClass, String... args) throws Exception {
        Path dir = work.resolve(name);
        Files.createDirectories(dir);
        Path log4j = dir.resolve("log4j.properties");
        Files.writeString(log4j, "log4j.rootLogger=INFO, out\n"
                + "log4j.appender.out=org.apache.log4j.ConsoleAppender\n"
                + "log4j.appender.out.layout=org.apache.log4j.PatternLayout\n"
                + "log4j.appender.out.layout.ConversionPattern=[%d] %p %m (%c)%n\n"
                + "log4j.logger.org.apache.zookeeper=INFO\nlog4j.logger.kafka.request.logger=WARN\n");
        List<String> cmd = new ArrayList<>(List.of("java", "-Xmx384m", "-XX:+UseSerialGC",
                "-XX:TieredStopAtLevel=1", "-Djava.awt.headless=true",
                "-Dlog4j.configuration=file:" + log4j, "-cp", cp, mainClass));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("server.log").toFile()));
        Process p = pb.start();
        System.out.println("  started " + name + " (pid " + p.pid() + ")");
        return p;
    }

    void startBroker(int id, String phase) throws Exception {
        Path props = work.resolve("broker-" + id + "/server.properties");
        Files.createDirectories(props.getParent());
        Files.writeString(props, brokerProps(id, phase));
        brokers[id] = jvm("broker-" + id, "kafka.Kafka", props.toString());
    }

    void stopBroker(int id, boolean kill) throws Exception {
        Process p = brokers[id];
        if (kill) {
            p.destroyForcibly();
        } else {
            p.destroy();
        }
        check(p.waitFor(120, TimeUnit.SECONDS), "broker " + id + " did not stop");
        System.out.println("  broker " + id + (kill ? " killed" : " stopped") + " (exit " + p.exitValue() + ")");
    }

    String log(String name) {
        try {
            return Files.readString(work.resolve(name + "/server.log"));
        } catch (Exception e) {
            return "";
        }
    }

    void stopAll() {
        for (Process p : brokers) {
            if (p != null) {
                p.destroyForcibly();
            }
        }
        if (controller != null) {
            controller.destroyForcibly();
        }
    }

    // ---- ZooKeeper (read with the ZooKeeper client Kafka ships) ----------------------------

    List<String> children(String path) {
        try {
            return zk.getChildren(CHROOT + path, false);
        } catch (Exception e) {
            return List.of();
        }
    }

    String data(String path) {
        try {
            zk.sync(CHROOT + path, null, null);
            return new String(zk.getData(CHROOT + path, false, null), StandardCharsets.UTF_8);
        } catch (Exception e) {
            return null;
        }
    }

    boolean exists(String path) {
        try {
            return zk.exists(CHROOT + path, false) != null;
        } catch (Exception e) {
            return false;
        }
    }

    int zkController() {
        String d = data("/controller");
        if (d == null) {
            return -1;
        }
        int at = d.indexOf("\"brokerid\":");
        if (at < 0) {
            return -1;
        }
        return Integer.parseInt(d.substring(at + 11).split("[,}]")[0].trim());
    }

    // ---- Kafka clients ---------------------------------------------------------------------

    Admin admin(String bootstrap) {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 60000);
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 20000);
        return Admin.create(p);
    }

    void produce(String topic, int count) throws Exception {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ProducerConfig.ACKS_CONFIG, "all");
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 120000);
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        int from = produced.getOrDefault(topic, 0);
        try (KafkaProducer<String, String> prod = new KafkaProducer<>(p)) {
            List<java.util.concurrent.Future<?>> sent = new ArrayList<>();
            for (int i = from; i < from + count; i++) {
                sent.add(prod.send(new ProducerRecord<>(topic, "k" + i, topic + "-" + i)));
            }
            for (java.util.concurrent.Future<?> f : sent) {
                f.get(120, TimeUnit.SECONDS);
            }
        }
        produced.put(topic, from + count);
        System.out.println("  produced " + count + " to " + topic + " (acks=all), " + (from + count) + " in all");
    }

    /** Reads every partition of the topic from the start (no consumer group: the offsets
     * topic is not what is under test): exactly the messages produced. */
    void consumeAll(String topic) throws Exception {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        int want = produced.getOrDefault(topic, 0);
        Set<String> seen = new HashSet<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p)) {
            List<TopicPartition> parts = new ArrayList<>();
            for (org.apache.kafka.common.PartitionInfo pi : c.partitionsFor(topic, Duration.ofSeconds(60))) {
                parts.add(new TopicPartition(topic, pi.partition()));
            }
            c.assign(parts);
            c.seekToBeginning(parts);
            long end = System.currentTimeMillis() + 90000;
            while (seen.size() < want && System.currentTimeMillis() < end) {
                for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(500))) {
                    check(r.value().equals(topic + "-" + r.key().substring(1)), "record " + r);
                    seen.add(r.value());
                }
            }
        }
        check(seen.size() == want, topic + ": consumed " + seen.size() + " distinct of " + want);
        for (int i = 0; i < want; i++) {
            check(seen.contains(topic + "-" + i), topic + ": message " + i + " missing");
        }
        System.out.println("  consumed all " + want + " messages of " + topic);
    }

    static Map<String, TopicDescription> describe(Admin a, Collection<String> topics) throws Exception {
        return a.describeTopics(topics).allTopicNames().get();
    }

    static String config(Admin a, ConfigResource r, String key) throws Exception {
        Config c = a.describeConfigs(List.of(r)).all().get().get(r);
        ConfigEntry e = c.get(key);
        return e == null ? null : e.value();
    }

    static AclBinding aliceAcl() {
        return new AclBinding(new ResourcePattern(ResourceType.TOPIC, "orders", PatternType.LITERAL),
                new AccessControlEntry("User:alice", "*", AclOperation.READ, AclPermissionType.ALLOW));
    }

    static Collection<AclBinding> acls(Admin a) throws Exception {
        return a.describeAcls(new AclBindingFilter(
                new ResourcePatternFilter(ResourceType.TOPIC, "orders", PatternType.LITERAL),
                AccessControlEntryFilter.ANY)).values().get();
    }

    void waitInSync(Admin a, String topic, int replicas) throws Exception {
        waitFor(topic + " fully in sync on " + replicas + " replicas", 120000, () -> {
            try {
                for (TopicPartitionInfo pi : describe(a, List.of(topic)).get(topic).partitions()) {
                    if (pi.isr().size() != replicas || pi.leader() == null) {
                        return false;
                    }
                }
                return true;
            } catch (Exception e) {
                return false;
            }
        });
    }

    // ---- the scenario ----------------------------------------------------------------------

    void zookeeperMode(Long killPid) throws Exception {
        step("connect a ZooKeeper client and make the chroot", () -> {
            zk = connectZooKeeper(zkConnect);
            if (zk.exists(CHROOT, false) == null) {
                zk.create(CHROOT, new byte[0], org.apache.zookeeper.ZooDefs.Ids.OPEN_ACL_UNSAFE,
                        org.apache.zookeeper.CreateMode.PERSISTENT);
            }
        });
        step("one broker registers and becomes the controller", () -> {
            startBroker(0, "zk");
            waitFor("/brokers/ids/0", 90000, () -> exists("/brokers/ids/0"));
            waitFor("/controller naming broker 0", 60000, () -> zkController() == 0);
            check(data("/cluster/id") != null, "/cluster/id written");
        });
        try (Admin a = admin(bootstrap())) {
            step("create, produce and consume on one broker", () -> {
                a.createTopics(List.of(new NewTopic("solo", 3, (short) 1))).all().get();
                check(describe(a, List.of("solo")).get("solo").partitions().size() == 3, "3 partitions");
                check(exists("/brokers/topics/solo"), "/brokers/topics/solo");
                produce("solo", 300);
                consumeAll("solo");
            });
            step("two more brokers join", () -> {
                startBroker(1, "zk");
                startBroker(2, "zk");
                waitFor("three brokers under /brokers/ids", 90000, () -> children("/brokers/ids").size() == 3);
                waitFor("the admin client sees three brokers", 60000,
                        () -> {
                            try {
                                return a.describeCluster().nodes().get().size() == 3;
                            } catch (Exception e) {
                                return false;
                            }
                        });
            });
            step("create a replicated topic with a config", () -> {
                NewTopic t = new NewTopic("orders", 6, (short) 3)
                        .configs(Map.of("min.insync.replicas", "2"));
                a.createTopics(List.of(t)).all().get();
                waitInSync(a, "orders", 3);
                String cfg = data("/config/topics/orders");
                check(cfg != null && cfg.contains("min.insync.replicas"), "/config/topics/orders: " + cfg);
            });
            step("alter topics: more partitions, a dynamic topic config", () -> {
                a.createPartitions(Map.of("orders", NewPartitions.increaseTo(8))).all().get();
                waitFor("8 partitions", 60000, () -> {
                    try {
                        return describe(a, List.of("orders")).get("orders").partitions().size() == 8;
                    } catch (Exception e) {
                        return false;
                    }
                });
                // The new partitions have leaders and every replica before anything is
                // produced to them (once, on ZooKeeper 3.8.0, a new partition took longer
                // than the producer's two minutes).
                waitInSync(a, "orders", 3);
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, "orders");
                a.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(
                        new ConfigEntry("retention.ms", "86400000"), AlterConfigOp.OpType.SET)))).all().get();
                check("86400000".equals(config(a, r, "retention.ms")), "retention.ms read back");
                check(data("/config/topics/orders").contains("86400000"), "retention.ms in ZooKeeper");
            });
            step("dynamic broker configs, cluster-wide and per broker", () -> {
                ConfigResource all = new ConfigResource(ConfigResource.Type.BROKER, "");
                ConfigResource b1 = new ConfigResource(ConfigResource.Type.BROKER, "1");
                a.incrementalAlterConfigs(Map.of(
                        all, List.of(new AlterConfigOp(new ConfigEntry("log.cleaner.threads", "2"),
                                AlterConfigOp.OpType.SET)),
                        b1, List.of(new AlterConfigOp(new ConfigEntry("log.cleaner.backoff.ms", "16000"),
                                AlterConfigOp.OpType.SET)))).all().get();
                check(data("/config/brokers/<default>").contains("log.cleaner.threads"), "cluster default in ZooKeeper");
                check(data("/config/brokers/1").contains("log.cleaner.backoff.ms"), "broker 1's config in ZooKeeper");
                waitFor("broker 1 applies its dynamic config", 60000, () -> {
                    try {
                        return "16000".equals(config(a, b1, "log.cleaner.backoff.ms"));
                    } catch (Exception e) {
                        return false;
                    }
                });
            });
            step("ACLs through the ZooKeeper-backed authorizer, seen by every broker", () -> {
                a.createAcls(List.of(aliceAcl())).all().get();
                check(exists("/kafka-acl/Topic/orders"), "/kafka-acl/Topic/orders");
                for (int b = 0; b < N; b++) {
                    try (Admin one = admin("127.0.0.1:" + ports[b])) {
                        final int broker = b;
                        waitFor("broker " + broker + " sees the ACL", 60000, () -> {
                            try {
                                return acls(one).contains(aliceAcl());
                            } catch (Exception e) {
                                return false;
                            }
                        });
                    }
                }
            });
            step("produce and consume with acks=all on three replicas", () -> {
                produce("orders", 2000);
                consumeAll("orders");
            });
            int[] old = new int[1];
            step("kill the controller broker" + (killPid != null ? " and a ZooKeeper server" : "")
                    + "; another broker takes over", () -> {
                old[0] = zkController();
                check(old[0] >= 0, "a controller before");
                if (killPid != null) {
                    ProcessHandle.of(killPid).ifPresent(ProcessHandle::destroyForcibly);
                    System.out.println("  killed the ZooKeeper server with pid " + killPid);
                }
                stopBroker(old[0], true);
                waitFor("a new controller", 90000, () -> {
                    int c = zkController();
                    return c >= 0 && c != old[0];
                });
                System.out.println("  controller moved from broker " + old[0] + " to " + zkController());
                waitFor("/brokers/ids/" + old[0] + " gone", 60000, () -> !exists("/brokers/ids/" + old[0]));
            });
            step("topics keep serving on two brokers", () -> {
                produce("orders", 500);
                consumeAll("orders");
            });
            step("the killed broker restarts, re-registers and catches up", () -> {
                startBroker(old[0], "zk");
                waitFor("/brokers/ids/" + old[0], 90000, () -> exists("/brokers/ids/" + old[0]));
                waitInSync(a, "orders", 3);
            });
            step("delete a topic", () -> {
                a.createTopics(List.of(new NewTopic("doomed", 2, (short) 2))).all().get();
                produce("doomed", 10);
                a.deleteTopics(List.of("doomed")).all().get();
                waitFor("doomed gone", 60000, () -> {
                    try {
                        return !a.listTopics().names().get().contains("doomed") && !exists("/brokers/topics/doomed")
                                && children("/admin/delete_topics").isEmpty();
                    } catch (Exception e) {
                        return false;
                    }
                });
                produced.remove("doomed");
            });
        }
    }

    /** A rolling restart into `phase`, as operators do it: the next broker goes down only
     * once every partition of "orders" is fully replicated again. */
    void roll(String phase) throws Exception {
        try (Admin a = admin(bootstrap())) {
            for (int b = 0; b < N; b++) {
                stopBroker(b, false);
                startBroker(b, phase);
                final int id = b;
                if (!phase.equals("kraft")) {
                    waitFor("/brokers/ids/" + id, 90000, () -> exists("/brokers/ids/" + id));
                }
                waitInSync(a, "orders", 3);
            }
        }
    }

    void migration() throws Exception {
        String clusterId = data("/cluster/id").replaceAll(".*\"id\":\"([^\"]+)\".*", "$1");
        step("format and start a KRaft controller in migration mode", () -> {
            Path props = work.resolve("controller/controller.properties");
            Files.createDirectories(props.getParent());
            Files.writeString(props, controllerProps(true));
            // One argument with '=': a cluster id may begin with '-' (base64url), which the
            // tool's parser would take for an option (failed once in CI: "expected one argument").
            Process fmt = jvm("controller-format", "kafka.tools.StorageTool", "format",
                    "--cluster-id=" + clusterId, "-c", props.toString());
            check(fmt.waitFor(120, TimeUnit.SECONDS) && fmt.exitValue() == 0,
                    "storage format: " + log("controller-format"));
            controller = jvm("controller", "kafka.Kafka", props.toString());
        });
        step("roll the brokers into migration mode; the controller copies the metadata", () -> {
            roll("migrating");
            waitFor("the controller's migration", 180000,
                    () -> log("controller").contains("Completed migration of metadata from ZooKeeper to KRaft"));
            check(data("/migration") != null, "/migration written");
        });
        try (Admin a = admin(bootstrap())) {
            step("dual writes: a topic made through KRaft appears in ZooKeeper", () -> {
                a.createTopics(List.of(new NewTopic("dual", 4, (short) 3))).all().get();
                waitFor("/brokers/topics/dual", 60000, () -> exists("/brokers/topics/dual"));
                produce("dual", 400);
                consumeAll("dual");
                consumeAll("orders");
            });
        }
        step("roll the brokers into KRaft mode", () -> roll("kraft"));
        step("finalize: the controller leaves ZooKeeper", () -> {
            controller.destroy();
            check(controller.waitFor(120, TimeUnit.SECONDS), "controller stopped");
            Files.writeString(work.resolve("controller/controller.properties"), controllerProps(false));
            controller = jvm("controller", "kafka.Kafka", work.resolve("controller/controller.properties").toString());
        });
        try (Admin a = admin(bootstrap())) {
            step("every topic, message, config and ACL survived the migration", () -> {
                waitFor("three KRaft brokers", 120000, () -> {
                    try {
                        return a.describeCluster().nodes().get().size() == 3;
                    } catch (Exception e) {
                        return false;
                    }
                });
                Set<String> names = a.listTopics().names().get();
                for (String t : produced.keySet()) {
                    check(names.contains(t), "topic " + t + " after the migration: " + names);
                }
                check(!names.contains("doomed"), "deleted topic stays deleted");
                check(describe(a, List.of("orders")).get("orders").partitions().size() == 8, "orders: 8 partitions");
                ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, "orders");
                check("86400000".equals(config(a, r, "retention.ms")), "retention.ms after the migration");
                check("2".equals(config(a, r, "min.insync.replicas")), "min.insync.replicas after the migration");
                check(acls(a).contains(aliceAcl()), "alice's ACL after the migration");
                for (String t : produced.keySet()) {
                    consumeAll(t);
                }
                produce("orders", 100);
                consumeAll("orders");
            });
        }
    }

    public static void main(String[] args) throws Exception {
        if (args.length < 3) {
            System.err.println("usage: KafkaCheck <zk-connect> <workdir> <p0,p1,p2,controller> [kill-pid]");
            System.exit(2);
        }
        String[] ps = args[2].split(",");
        int[] ports = new int[N];
        for (int i = 0; i < N; i++) {
            ports[i] = Integer.parseInt(ps[i]);
        }
        KafkaCheck k = new KafkaCheck(args[0], Path.of(args[1]), ports, Integer.parseInt(ps[N]));
        Long killPid = args.length > 3 ? Long.parseLong(args[3]) : null;
        check(k.cp != null, "APP_CP is set");
        int status = 0;
        try {
            k.zookeeperMode(killPid);
            k.migration();
            k.passed("KAFKA");
        } catch (Throwable e) {
            status = 1;
            for (String name : new String[] {"broker-0", "broker-1", "broker-2", "controller"}) {
                String l = k.log(name);
                String[] lines = l.split("\n");
                System.out.println("---- last lines of " + name + "/server.log");
                for (int i = Math.max(0, lines.length - 30); i < lines.length; i++) {
                    System.out.println(lines[i]);
                }
            }
        } finally {
            k.stopAll();
            if (k.zk != null) {
                k.zk.close();
            }
        }
        System.exit(status);
    }
}
