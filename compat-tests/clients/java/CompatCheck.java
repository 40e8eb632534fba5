import java.io.PrintStream;

/**
 * Minimal check bookkeeping shared by the Java compatibility suites.
 *
 * One line per check ("PASS: group: name" / "FAIL: group: name -- detail"),
 * a final "N passed, M failed" line, exit status 0 only if all passed.
 * A watchdog thread ends the process (status 1) if the suite overruns.
 */
public final class CompatCheck {
    public interface Body {
        void run() throws Exception;
    }

    /** A condition that may throw; throwing counts as "not yet". */
    public interface Cond {
        boolean get() throws Exception;
    }

    private final PrintStream out = System.out;
    private int passed;
    private int failed;
    private volatile String group = "setup";

    public CompatCheck(long suiteTimeoutSeconds) {
        Thread wd = new Thread(() -> {
            try {
                Thread.sleep(suiteTimeoutSeconds * 1000L);
            } catch (InterruptedException e) {
                return;
            }
            group = "suite";
            check("finished within " + suiteTimeoutSeconds + "s", false, "watchdog fired");
            finish(1);
        }, "compat-watchdog");
        wd.setDaemon(true);
        wd.start();
    }

    public static long suiteTimeoutFromEnv(long dflt) {
        String s = System.getenv("SUITE_TIMEOUT");
        if (s == null || s.isEmpty()) {
            return dflt;
        }
        return Long.parseLong(s.trim());
    }

    public synchronized boolean check(String name, boolean ok, Object detail) {
        if (ok) {
            passed++;
            out.println("PASS: " + group + ": " + name);
        } else {
            failed++;
            String d = detail == null ? "" : String.valueOf(detail);
            out.println("FAIL: " + group + ": " + name + (d.isEmpty() ? "" : " -- " + d));
        }
        out.flush();
        return ok;
    }

    public boolean check(String name, boolean ok) {
        return check(name, ok, null);
    }

    /** Run one group of checks; an exception counts as one failed check. */
    public void group(String name, Body body) {
        group = name;
        long t0 = System.nanoTime();
        try {
            body.run();
        } catch (Throwable t) {
            check("no unexpected exception", false, t.toString());
            t.printStackTrace(System.err);
        }
        System.err.printf("  (%s took %.1fs)%n", name, (System.nanoTime() - t0) / 1e9);
    }

    public void setGroup(String name) {
        group = name;
    }

    /** Prints the summary and ends the process without waiting for client threads. */
    public synchronized void finish(int forcedCode) {
        out.println(passed + " passed, " + failed + " failed");
        out.flush();
        System.err.flush();
        int code = forcedCode >= 0 ? forcedCode : (failed == 0 && passed > 0 ? 0 : 1);
        Runtime.getRuntime().halt(code);
    }

    public void finish() {
        finish(-1);
    }

    /** Poll pred until true or timeout; exceptions count as false. */
    public static boolean waitUntil(Cond pred, long timeoutMs) {
        long deadline = System.nanoTime() + timeoutMs * 1_000_000L;
        while (true) {
            try {
                if (pred.get()) {
                    return true;
                }
            } catch (Exception e) {
                // treat as not yet
            }
            if (System.nanoTime() >= deadline) {
                return false;
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                return false;
            }
        }
    }

    public static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public static Thread daemon(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }
}
