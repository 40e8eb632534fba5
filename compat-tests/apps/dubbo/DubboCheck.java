import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.dubbo.config.ApplicationConfig;
import org.apache.dubbo.config.ConfigCenterConfig;
import org.apache.dubbo.config.MetadataReportConfig;
import org.apache.dubbo.config.ProtocolConfig;
import org.apache.dubbo.config.ReferenceConfig;
import org.apache.dubbo.config.RegistryConfig;
import org.apache.dubbo.config.ServiceConfig;
import org.apache.dubbo.config.bootstrap.DubboBootstrap;
import org.apache.zookeeper.ZooKeeper;

/**
 * Dubbo 3 with everything on ZooKeeper (the registry, the config center and the metadata
 * report), as a Dubbo shop runs it: providers in JVMs of their own, one consumer calling them.
 *
 * usage: DubboCheck <zk-connect> <workdir> <port,port> [kill-pid]
 *        DubboCheck provider <zk-connect> <port> <name>     (a provider, until killed)
 *
 * The check starts provider "a", calls it, starts provider "b" and waits until calls reach it,
 * kills "a" (SIGKILL) and waits until the consumer stops seeing it (its ephemeral registration
 * goes when its session expires), then kills kill-pid (a ZooKeeper server of an ensemble) and
 * keeps calling, and finally restarts "a" and sees it come back. Each step prints its name and
 * duration; the first failure ends the run with status 1.
 */
public final class DubboCheck extends AppCheck {
    /** The service, called by its interface name across JVMs. */
    public interface Greeter {
        String greet(String who);
    }

    public static final class NamedGreeter implements Greeter {
        private final String name;

        NamedGreeter(String name) {
            this.name = name;
        }

        @Override
        public String greet(String who) {
            return "hello " + who + " from " + name;
        }
    }

    static final String IFACE = Greeter.class.getName();
    /** The registry's node of the interface: its name URL-encoded. */
    static final String REG = "/dubbo/" + java.net.URLEncoder.encode(IFACE, StandardCharsets.UTF_8);
    static final int SESSION_MS = 6000;

    /** zookeeper://first?backup=others: Dubbo's form of a connect string. */
    static String address(String connect) {
        String[] hosts = connect.split(",");
        StringBuilder sb = new StringBuilder("zookeeper://").append(hosts[0]);
        if (hosts.length > 1) {
            sb.append("?backup=").append(String.join(",", java.util.Arrays.copyOfRange(hosts, 1, hosts.length)));
        }
        return sb.toString();
    }

    static DubboBootstrap bootstrap(String app, String connect) {
        ApplicationConfig a = new ApplicationConfig(app);
        a.setQosEnable(false);
        // Dubbo's ZooKeeper clients take the session timeout from the address parameter
        // "session" (60 s by default; "zk.session.expire" in older releases); connection
        // timeout 15 s.
        java.util.Map<String, String> session = java.util.Map.of("session", Integer.toString(SESSION_MS),
                "zk.session.expire", Integer.toString(SESSION_MS));
        RegistryConfig r = new RegistryConfig(address(connect));
        r.setTimeout(15000);
        r.setSession(SESSION_MS);
        r.setParameters(session);
        ConfigCenterConfig cc = new ConfigCenterConfig();
        cc.setAddress(address(connect));
        cc.setTimeout(15000L);
        cc.setParameters(session);
        MetadataReportConfig mr = new MetadataReportConfig(address(connect));
        mr.setTimeout(15000);
        mr.setParameters(session);
        return DubboBootstrap.newInstance().application(a).registry(r).configCenter(cc).metadataReport(mr);
    }

    static void provider(String connect, int port, String name) throws Exception {
        ServiceConfig<Greeter> s = new ServiceConfig<>();
        s.setInterface(Greeter.class);
        s.setRef(new NamedGreeter(name));
        // Dubbo refuses to register a loopback address (DUBBO_IP_TO_REGISTRY=127.x is an
        // error, and a loopback host is replaced): the provider registers, and listens on,
        // the machine's own address, on the port the test chose.
        ProtocolConfig p = new ProtocolConfig("dubbo", port);
        bootstrap("ferrozk-greeter", connect).protocol(p).service(s).start();
        System.out.println("provider " + name + " serving on " + port);
        System.out.flush();
        new CountDownLatch(1).await();
    }

    // ---- the check -------------------------------------------------------------------------

    final String connect;
    final Path work;
    final int[] ports;
    final Process[] providers = new Process[2];
    ZooKeeper zk;
    Greeter greeter;

    DubboCheck(String connect, Path work, int[] ports) {
        this.connect = connect;
        this.work = work;
        this.ports = ports;
    }

    void startProvider(int i) throws Exception {
        String name = i == 0 ? "a" : "b";
        Path log = work.resolve("provider-" + name + ".log");
        List<String> cmd = List.of("java", "-Xmx256m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn", "-cp", System.getProperty("java.class.path"),
                "DubboCheck", "provider", connect, Integer.toString(ports[i]), name);
        providers[i] = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile())).start();
        System.out.println("  started provider " + name + " (pid " + providers[i].pid() + ")");
    }

    void killProvider(int i) throws Exception {
        providers[i].destroyForcibly();
        check(providers[i].waitFor(30, TimeUnit.SECONDS), "provider stopped");
    }

    /** Which providers answer among `calls` calls (each must answer correctly). */
    Set<String> answering(int calls) {
        Set<String> who = new HashSet<>();
        for (int i = 0; i < calls; i++) {
            String r = greeter.greet("ferrozk" + i);
            check(r.startsWith("hello ferrozk" + i + " from "), "answer " + r);
            who.add(r.substring(r.lastIndexOf(' ') + 1));
        }
        return who;
    }

    List<String> children(String path) {
        try {
            return zk.getChildren(path, false);
        } catch (Exception e) {
            return List.of();
        }
    }

    String data(String path) {
        try {
            return new String(zk.getData(path, false, null), StandardCharsets.UTF_8);
        } catch (Exception e) {
            return null;
        }
    }

    void run(Long killPid) throws Exception {
        step("connect a ZooKeeper client", () -> zk = connectZooKeeper(connect));
        step("provider a registers in the registry, config center and metadata report", () -> {
            startProvider(0);
            waitFor(REG + "/providers", 90000, () -> children(REG + "/providers").size() == 1);
            waitFor("the application instance under /services", 30000,
                    () -> children("/services/ferrozk-greeter").size() == 1);
            waitFor("the service-to-application mapping", 30000, () -> {
                String m = data("/dubbo/mapping/" + IFACE);
                return m != null && m.contains("ferrozk-greeter");
            });
            waitFor("the service's metadata", 30000, () -> data("/dubbo/metadata"
                    + REG.substring("/dubbo".length()) + "/provider/ferrozk-greeter") != null);
        });
        DubboBootstrap consumer = bootstrap("ferrozk-greeter-client", connect);
        step("a consumer finds provider a and calls it", () -> {
            ReferenceConfig<Greeter> ref = new ReferenceConfig<>();
            ref.setInterface(Greeter.class);
            ref.setTimeout(5000);
            ref.setRetries(2);
            ref.setCheck(false);
            consumer.reference(ref).start();
            greeter = ref.get();
            waitFor("a call answered", 60000, () -> answering(1).equals(Set.of("a")));
            check(answering(20).equals(Set.of("a")), "only a answers");
            waitFor("the consumer registered", 30000,
                    () -> !children(REG + "/consumers").isEmpty());
        });
        step("a second provider appears to the consumer", () -> {
            startProvider(1);
            waitFor("calls reaching b", 90000, () -> answering(10).contains("b"));
            check(children(REG + "/providers").size() == 2, "two providers registered");
        });
        step("provider a killed disappears within the session timeout", () -> {
            killProvider(0);
            long t0 = System.currentTimeMillis();
            waitFor("a's registration gone", SESSION_MS + 20000,
                    () -> children(REG + "/providers").size() == 1);
            // Calls may fail over from a to b meanwhile (retries); once a is gone, only b answers.
            waitFor("only b answering", 20000, () -> answering(20).equals(Set.of("b")));
            System.out.printf("  a gone from the consumer after %.1f s (session %d ms)%n",
                    (System.currentTimeMillis() - t0) / 1e3, SESSION_MS);
        });
        step("the consumer keeps working" + (killPid != null ? " while a ZooKeeper server dies" : ""), () -> {
            AtomicInteger ok = new AtomicInteger();
            AtomicReference<Throwable> failed = new AtomicReference<>();
            Thread caller = new Thread(() -> {
                try {
                    long end = System.currentTimeMillis() + 10000;
                    while (System.currentTimeMillis() < end) {
                        check(answering(1).equals(Set.of("b")), "b answers");
                        ok.incrementAndGet();
                        Thread.sleep(20);
                    }
                } catch (Throwable e) {
                    failed.set(e);
                }
            });
            caller.start();
            if (killPid != null) {
                Thread.sleep(1000);
                ProcessHandle.of(killPid).ifPresent(ProcessHandle::destroyForcibly);
                System.out.println("  killed the ZooKeeper server with pid " + killPid);
            }
            caller.join();
            check(failed.get() == null, "calls while the ZooKeeper server died: " + failed.get());
            System.out.println("  " + ok.get() + " calls answered meanwhile");
        });
        step("provider a restarts and comes back", () -> {
            startProvider(0);
            waitFor("calls reaching a again", 90000, () -> answering(10).contains("a"));
            check(children(REG + "/providers").size() == 2, "two providers registered");
        });
        consumer.destroy();
    }

    public static void main(String[] args) throws Exception {
        if (args.length >= 4 && args[0].equals("provider")) {
            provider(args[1], Integer.parseInt(args[2]), args[3]);
            return;
        }
        if (args.length < 3) {
            System.err.println("usage: DubboCheck <zk-connect> <workdir> <port,port> [kill-pid]");
            System.exit(2);
        }
        String[] ps = args[2].split(",");
        DubboCheck d = new DubboCheck(args[0], Path.of(args[1]),
                new int[] {Integer.parseInt(ps[0]), Integer.parseInt(ps[1])});
        Long killPid = args.length > 3 ? Long.parseLong(args[3]) : null;
        int status = 0;
        try {
            d.run(killPid);
            d.passed("DUBBO");
        } catch (Throwable e) {
            status = 1;
            for (String name : new String[] {"provider-a", "provider-b"}) {
                List<String> lines = new ArrayList<>();
                try {
                    lines = Files.readAllLines(d.work.resolve(name + ".log"));
                } catch (Exception ignored) {
                    // no log: the provider never started
                }
                System.out.println("---- last lines of " + name + ".log");
                for (String l : lines.subList(Math.max(0, lines.size() - 30), lines.size())) {
                    System.out.println(l);
                }
            }
        } finally {
            for (Process p : d.providers) {
                if (p != null) {
                    p.destroyForcibly();
                }
            }
            if (d.zk != null) {
                d.zk.close();
            }
        }
        System.exit(status);
    }
}
