package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One ramswap daemon of a multi-node test: its own mount, node number and ports, in the test's
 * own cluster. {@link #close} takes it down and removes what it left, whatever state it is in
 * (stopped by a signal, hung): down, then down --abort if down did not finish.
 */
final class Node implements AutoCloseable {

    private static final Duration UP = Duration.ofMinutes(4);
    private static final Duration DOWN = Duration.ofMinutes(10);
    private static final Pattern MEMBER = Pattern.compile("member ([0-9.]+:[0-9]+)");
    private static final Pattern DAEMON_PID = Pattern.compile("daemon pid ([0-9]+)");

    final int number;
    final Path mount;
    private final long pid;

    private Node(int number, Path mount, long pid) {
        this.number = number;
        this.mount = mount;
        this.pid = pid;
    }

    /** Starts node {@code number} of cluster {@code cluster} with {@code args} added to up's. */
    static Node up(String cluster, int number, String... args) {
        return up(List.of(), cluster, number, args);
    }

    /** Starts node {@code number} in its network namespace of {@code net}, bound to its address there. */
    static Node upIn(NetNs net, String cluster, int number, String... args) {
        List<String> all = new ArrayList<>(List.of("--bind", net.address(number)));
        all.addAll(Arrays.asList(args));
        return up(net.prefix(number), cluster, number, all.toArray(String[]::new));
    }

    private static Node up(List<String> prefix, String cluster, int number, String... args) {
        Path mount = Path.of("/run/ramswap-" + cluster + "-n" + number);
        List<String> cmd = new ArrayList<>(List.of(
                "up", "--node", Integer.toString(number), "--mount", mount.toString(), "--cluster-name", cluster));
        cmd.addAll(Arrays.asList(args));
        Host.Run r;
        try {
            r = Host.ramswap(prefix, UP, cmd.toArray(String[]::new));
        } catch (AssertionError timedOut) { // up did not return; its daemon may still be starting
            takeDown(mount, daemonPid(timedOut.getMessage()));
            throw timedOut;
        }
        if (r.exitCode() != 0) { // up gave up waiting, say, while its daemon goes on
            takeDown(mount, daemonPid(r.output()));
            throw new AssertionError("node " + number + " did not come up (exit " + r.exitCode() + "):\n" + r.output());
        }
        Map<String, String> status = status(mount);
        return new Node(number, mount, Long.parseLong(status.get("pid")));
    }

    /** The pid up announced for its daemon ("daemon pid N"), or -1 when it did not get that far. */
    private static long daemonPid(String upOutput) {
        Matcher m = DAEMON_PID.matcher(upOutput == null ? "" : upOutput);
        return m.find() ? Long.parseLong(m.group(1)) : -1;
    }

    /**
     * Takes down the daemon of {@code mount} (pid {@code pid}, -1 if unknown) whatever state it is
     * in: down, then SIGTERM and SIGKILL to that pid if it still runs (one that never mounted cannot
     * be reached by down), then down --abort if the mount is still there; then removes the leftovers.
     */
    private static void takeDown(Path mount, long pid) {
        if (Host.mounts().contains(" " + mount + " ")) {
            Host.Run down;
            try {
                down = Host.ramswap(DOWN, "down", "--mount", mount.toString());
            } catch (AssertionError timedOut) {
                down = new Host.Run(1, timedOut.getMessage());
            }
            if (down.exitCode() != 0 && Host.mounts().contains(" " + mount + " ")) {
                Host.ramswap(Duration.ofMinutes(2), "down", "--abort", "--mount", mount.toString());
            }
        }
        ProcessHandle daemon = pid > 0 ? ProcessHandle.of(pid).orElse(null) : null;
        if (daemon != null && daemon.isAlive()) {
            System.out.println("the daemon of " + mount + " (pid " + pid + ") still runs: SIGTERM");
            daemon.destroy();
            try {
                daemon.onExit().get(2, java.util.concurrent.TimeUnit.MINUTES);
            } catch (Exception notYet) {
                System.out.println("the daemon of " + mount + " (pid " + pid + ") did not stop: SIGKILL");
                daemon.destroyForcibly();
            }
            if (Host.mounts().contains(" " + mount + " ")) {
                Host.ramswap(Duration.ofMinutes(2), "down", "--abort", "--mount", mount.toString());
            }
        }
        Host.removeLeftovers(mount);
    }

    long pid() {
        return pid;
    }

    Map<String, Long> counters() {
        return Host.counters(mount);
    }

    long counter(String name) {
        Long v = counters().get(name);
        if (v == null) {
            throw new AssertionError("node " + number + " has no counter " + name);
        }
        return v;
    }

    /** Lenders this node has seen leave the cluster: it grows once a killed or cut-off lender is removed. */
    long lendersSeenGone() {
        return lendersSeenGone(counters());
    }

    /** {@link #lendersSeenGone()} in a snapshot {@code c} of a node's counters. */
    static long lendersSeenGone(Map<String, Long> c) {
        return c.get("remote_lenders_left");
    }

    /** The sum of counter {@code name} over {@code nodes}. */
    static long sum(Iterable<Node> nodes, String name) {
        long sum = 0;
        for (Node n : nodes) {
            sum += n.counter(name);
        }
        return sum;
    }

    /** True for a node connected as a Hazelcast client (it lends nothing and joined others): it has no member address. */
    boolean client() {
        return status(mount).getOrDefault("cluster", "").contains("(client)");
    }

    /** The member address others join, from the status file's cluster line. */
    String memberAddress() {
        String cluster = status(mount).get("cluster");
        Matcher m = MEMBER.matcher(cluster == null ? "" : cluster);
        if (!m.find()) {
            throw new AssertionError("no member address in node " + number + "'s status: " + cluster);
        }
        return m.group(1);
    }

    void set(String knob, String value) {
        Host.Run r = Host.ramswap(Duration.ofMinutes(1), "set", knob, value, "--mount", mount.toString());
        assertEquals(0, r.exitCode(), "set " + knob + " " + value + " on node " + number + ":\n" + r.output());
    }

    Host.Run ramswap(Duration timeout, String... args) {
        List<String> cmd = new ArrayList<>(Arrays.asList(args));
        cmd.add("--mount");
        cmd.add(mount.toString());
        return Host.ramswap(timeout, cmd.toArray(String[]::new));
    }

    /** Sends a signal to this node's daemon (only this test's own daemon, by pid). */
    void signal(String name) {
        Host.exec(Duration.ofSeconds(10), Map.of(), List.of("kill", "-" + name, Long.toString(pid)));
    }

    boolean alive() {
        return ProcessHandle.of(pid).map(ProcessHandle::isAlive).orElse(false);
    }

    static Map<String, String> status(Path mount) {
        Map<String, String> m = new java.util.LinkedHashMap<>();
        for (String line : Host.read(mount.resolve("status").toString()).split("\n")) {
            int colon = line.indexOf(": ");
            if (colon > 0) {
                m.put(line.substring(0, colon), line.substring(colon + 2));
            }
        }
        return m;
    }

    /**
     * Closes {@code nodes} in this order, nulls skipped, each even when one before it failed (the
     * first failure is thrown at the end). Borrowers go first: their swapoff reads their pages back
     * from the lenders.
     */
    static void closeInOrder(Iterable<Node> nodes) {
        Throwable first = null;
        for (Node n : nodes) {
            if (n == null) {
                continue;
            }
            try {
                n.close();
            } catch (RuntimeException | Error e) {
                if (first == null) {
                    first = e;
                } else {
                    first.addSuppressed(e);
                }
            }
        }
        if (first instanceof RuntimeException r) {
            throw r;
        }
        if (first != null) {
            throw (Error) first;
        }
    }

    @Override
    public void close() {
        if (alive()) {
            signal("CONT"); // a test that stopped it and failed before it went on
        }
        takeDown(mount, pid);
    }

    /**
     * Starts every node of {@code starts} at once and waits for all of them; when any failed, takes
     * down those that came up and throws the first failure, so that a start that fails half way
     * leaves no daemon behind. The nodes come in the order of {@code starts}.
     */
    static List<Node> upAll(List<java.util.function.Supplier<Node>> starts) {
        // a thread each, not the common pool: they must start at the same instant, and that pool may have one thread
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(starts.size());
        List<java.util.concurrent.CompletableFuture<Node>> ups = new ArrayList<>();
        for (java.util.function.Supplier<Node> start : starts) {
            ups.add(java.util.concurrent.CompletableFuture.supplyAsync(start, threads));
        }
        List<Node> up = new ArrayList<>();
        Throwable failed = null;
        try {
            for (java.util.concurrent.CompletableFuture<Node> f : ups) {
                try {
                    up.add(f.join()); // bounded: each up is (UP, then its teardown)
                } catch (java.util.concurrent.CompletionException e) {
                    if (failed == null) {
                        failed = e.getCause();
                    } else {
                        failed.addSuppressed(e.getCause());
                    }
                }
            }
        } finally {
            threads.shutdown();
        }
        if (failed != null) {
            closeAll(up);
            throw failed instanceof AssertionError a ? a : new AssertionError(failed);
        }
        return up;
    }

    /** Closes {@code nodes} in parallel (each down hands its pages to the others), each even when another failed. */
    static void closeAll(List<Node> nodes) {
        if (nodes.isEmpty()) {
            return;
        }
        java.util.concurrent.ExecutorService threads = java.util.concurrent.Executors.newFixedThreadPool(nodes.size());
        List<java.util.concurrent.CompletableFuture<Void>> downs = new ArrayList<>();
        for (Node n : nodes) {
            downs.add(java.util.concurrent.CompletableFuture.runAsync(n::close, threads));
        }
        try {
            for (java.util.concurrent.CompletableFuture<Void> f : downs) {
                try {
                    f.join();
                } catch (java.util.concurrent.CompletionException e) {
                    System.out.println("a node's teardown failed: " + e.getCause());
                }
            }
        } finally {
            threads.shutdown();
        }
    }
}
