package ramswap.cli;

import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import ramswap.cluster.ClusterSettings;

@Command(
        mixinStandardHelpOptions = true,
        name = "up",
        sortOptions = false,
        description =
                "Start ramswap and turn its swap on: mount the swap file system, attach a loop device with direct I/O, mkswap, swapon --discard, and join (or form) the cluster. Returns once swap is live; the daemon keeps running in the background (see --foreground). Needs root.")
final class UpCommand implements Callable<Integer> {

    /**
     * How long up waits for the swap to be live. A slow machine takes minutes (a software-emulated
     * guest joins a cluster in about 50 s and warms up for 2 to 3 minutes); a daemon that hangs
     * is found by this bound.
     */
    private static final Duration READY_TIMEOUT = Duration.ofMinutes(10);
    /** How often up says what the daemon is doing while it waits. */
    private static final Duration PROGRESS_EVERY = Duration.ofSeconds(30);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Option(
            names = "--size",
            paramLabel = "SIZE",
            converter = Sizes.class,
            description =
                    "Size of the swap area, e.g. 2G (a multiple of 4 KiB). Default: the machine's RAM (MemTotal). "
                            + "An area larger than what will be swapped costs 12 bytes of table per 4 KiB and spares the kernel "
                            + "rewriting pages when swap runs more than half full.")
    Long size;

    @Option(
            names = "--loops",
            defaultValue = "8",
            description =
                    "Loop devices the swap file is striped over, each a swap area of the same priority; "
                            + "the kernel spreads pages over them so that several requests are in flight (default: ${DEFAULT-VALUE}).")
    int loops;

    @Option(
            names = "--priority",
            defaultValue = "100",
            description = "swapon priority; higher is used first (default: ${DEFAULT-VALUE}, above disk swap).")
    int priority;

    @Option(
            names = "--pool-max",
            paramLabel = "SIZE",
            converter = Sizes.class,
            description =
                    "Most memory the local compressed pool may take (default: swap size + 32 MiB, enough if no page compressed; "
                            + "the knob pool_max_bytes changes it live). Less needs --pool-overcommit.")
    Long poolMax;

    @Option(
            names = "--pool-overcommit",
            description =
                    "Allow a --pool-max (or a pool_max_bytes) below what the swap area may need, counting on compression. "
                            + "When the pool is full, swap writes are refused: the kernel keeps those pages in RAM and retries them without end, "
                            + "processes that need memory stall, and status says the pool is full until the limit is raised.")
    boolean poolOvercommit;

    @Option(
            names = "--pool-reserve",
            paramLabel = "SIZE",
            converter = Sizes.class,
            description = "Pool memory mapped and touched at start, kept for writes that come when memory is short "
                    + "(default: 1/64 of the swap, 16-256 MiB).")
    Long poolReserve;

    @Option(
            names = "--no-protections",
            hidden = true,
            description =
                    "For tests only: run without mlockall, pre-touched heap, pool reserve, PR_SET_IO_FLUSHER, oom_score_adj and nice.")
    boolean noProtections;

    @Option(
            names = "--cluster-name",
            defaultValue = "ramswap",
            description = "Hazelcast cluster to join (default: ${DEFAULT-VALUE}).")
    String clusterName;

    @Option(
            names = "--node",
            defaultValue = "0",
            description = "This node's number in the cluster, as RAMster's node numbers (default: ${DEFAULT-VALUE}).")
    int node;

    @Option(
            names = "--bind",
            defaultValue = "127.0.0.1",
            description = "Address the cluster member binds to (default: ${DEFAULT-VALUE}).")
    String bind;

    @Option(
            names = "--port",
            defaultValue = "5701",
            description = "First cluster port to try; the next free one is taken (default: ${DEFAULT-VALUE}).")
    int port;

    @Option(
            names = "--join",
            split = ",",
            paramLabel = "HOST[:PORT]",
            description = "Members to join (default: the --bind address)."
                    + " A node that lends nothing connects to them as a client (see --member).")
    List<String> join;

    @Option(
            names = "--member",
            description = "With --lend 0 and --join: join as a lite member instead of a client. A client takes no part"
                    + " in membership, so the cluster can never drop it, and it goes on through the members it still reaches when one is cut off;"
                    + " a lite member can be removed by the master, and its remote pages are then unreadable until it merges back."
                    + " Other nodes can --join a lite member, not a client.")
    boolean member;

    @Option(
            names = "--lend",
            paramLabel = "SIZE",
            defaultValue = "0",
            description =
                    "Memory this node lends to other nodes for their pages, e.g. 4G (default: ${DEFAULT-VALUE}). 0: it holds no one's pages; "
                            + "it connects to the --join members as a client, or is a lite member when alone or with --member. More: a data member that keeps other nodes' pages off its heap, "
                            + "in memory mapped and locked as they arrive, up to SIZE; up refuses a SIZE this machine could not hold.")
    String lend;

    @Option(
            names = "--no-swap",
            description = "Only lend: no swap area, no loop device, no swapon; the mount and its control files "
                    + "(status, ramster/, stats/) stay, with a swap file of 1 MiB that is never swap. Needs --lend.")
    boolean noSwap;

    @Option(
            names = "--no-swapon",
            hidden = true,
            description = "For tests only: the swap file of --size, served, but given to no loop device and no swapon.")
    boolean noSwapon;

    @Option(
            names = "--target",
            paramLabel = "LIST",
            description =
                    "Nodes that take this node's cold pages, tried in order, e.g. 1 or 2,1: "
                            + "sets remote_target_nodenum to LIST at start, and pers_remotify_enable to 1 once the warm-up is done.")
    String target;

    @Option(
            names = "--foreground",
            description = "Stay in the foreground (for service managers); stop with SIGTERM or Ctrl-C.")
    boolean foreground;

    @Option(
            names = "--log",
            paramLabel = "FILE",
            description = "Daemon log when running in the background (default: DIR.log beside the mount).")
    Path log;

    @Option(
            names = "--metrics-dir",
            paramLabel = "DIR",
            description = "Write every counter, knob and latency histogram in Prometheus's text format to"
                    + " DIR/ramswap-CLUSTER-nodeN.prom every 5 s, for node_exporter's textfile collector"
                    + " (its --collector.textfile.directory); the file is removed at stop. Default: off.")
    Path metricsDir;

    @Option(
            names = "--metrics-port",
            paramLabel = "PORT",
            description =
                    "Answer GET http://127.0.0.1:PORT/metrics with the same metrics (loopback only). Default: off.")
    Integer metricsPort;

    @Option(
            names = "--metrics-jmx",
            description = "Register the counters and knobs as the MBean ramswap:type=Node in the JVM's MBean"
                    + " server, and turn on Hazelcast's own MBeans beside them. Default: off.")
    boolean metricsJmx;

    @Override
    public Integer call() throws RamswapException {
        DaemonConfig config = config();
        PrintWriter out = spec.commandLine().getOut();
        if (foreground) {
            return new Daemon(config, out).run();
        }
        return startInBackground(config, out);
    }

    DaemonConfig config() throws RamswapException {
        long lendBytes = parseLend(lend);
        if (noSwap && (size != null || poolMax != null || poolReserve != null)) {
            throw new RamswapException(
                    RamswapException.USAGE,
                    "--no-swap has no swap area: --size, --pool-max and --pool-reserve do not apply");
        }
        // --no-swap: a swap file of the least size the store takes, never given to swapon, so that
        // the mount and its control files work as on every node
        long swapBytes = noSwap ? DaemonConfig.MIN_SIZE : size != null ? size : memTotal() / 4096 * 4096;
        int stripes = noSwap ? 1 : loops;
        long capacity = DaemonConfig.capacityFor(swapBytes);
        long limit = poolMax != null ? poolMax : capacity;
        // without protections there is no reserve either: the serving thread maps slabs itself
        long reserve = noProtections || noSwap
                ? 0
                : poolReserve != null ? poolReserve : DaemonConfig.defaultReserve(swapBytes, limit);
        Path mount = mountOption.mount.toAbsolutePath().normalize();
        Path logFile = log != null ? log : Path.of(mount + ".log");
        List<String> members = join != null && !join.isEmpty() ? join : List.of(bind);
        DaemonConfig config;
        try {
            ClusterSettings cluster = new ClusterSettings(clusterName, node, bind, port, members, lendBytes == 0);
            config = new DaemonConfig(
                    mount,
                    swapBytes,
                    stripes,
                    priority,
                    limit,
                    capacity,
                    reserve,
                    poolOvercommit,
                    !noProtections,
                    cluster,
                    logFile,
                    lendBytes,
                    !noSwap,
                    target,
                    !noSwapon,
                    lendBytes == 0 && join != null && !join.isEmpty() && !member,
                    new MetricsSettings(metricsDir, metricsPort, metricsJmx));
        } catch (IllegalArgumentException e) {
            throw new RamswapException(RamswapException.USAGE, e.getMessage(), e);
        }
        return config;
    }

    /**
     * Refuses a lend quota this machine cannot hold, before the daemon's JVM takes its heap. Not
     * asked again in the daemon: its heap is already resident there, and Protections.checkFits
     * counts the rest.
     */
    static void refuseUnholdableLend(DaemonConfig config) throws RamswapException {
        String refusal = config.lendRefusal(Protections.meminfo("MemTotal:"), Protections.meminfo("MemAvailable:"));
        if (refusal != null) {
            throw new RamswapException(RamswapException.USAGE, refusal);
        }
    }

    /** --lend: 0, or a size as --size takes it. */
    static long parseLend(String text) throws RamswapException {
        if (text.strip().equals("0")) {
            return 0;
        }
        try {
            return Sizes.parse(text);
        } catch (CommandLine.TypeConversionException e) {
            throw new RamswapException(RamswapException.USAGE, "--lend: " + e.getMessage());
        }
    }

    /** Starts this same command with --foreground as a detached process and waits until its swap is live. */
    private int startInBackground(DaemonConfig config, PrintWriter out) throws RamswapException {
        refuseUnholdableLend(config);
        Root.require("ramswap up");
        Instance instance = new Instance(config.mount());
        Daemon.refuseOccupied(instance); // the daemon checks again; this answers at once
        if (config.protections()) {
            Protections.checkFits(config, false);
            // inherited by the daemon's process and every one of its threads
            for (String failed : Protections.applyInheritable(ramswap.sys.Posix.load())) {
                out.println("ramswap: warning: protection not applied: " + failed);
            }
        }
        Protections.headroomAdvice().ifPresent(advice -> out.println("ramswap: warning: " + advice));
        Protections.kernelAdvice(System.getProperty("os.version"))
                .ifPresent(advice -> out.println("ramswap: warning: " + advice));
        List<String> cmd = new ArrayList<>();
        cmd.add("setsid");
        cmd.add(ProcessHandle.current().info().command().orElse("java"));
        cmd.addAll(jvmOptions(config));
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(Main.class.getName());
        cmd.addAll(spec.commandLine().getParseResult().originalArgs()); // starts with "up"
        cmd.add("--foreground");
        Process daemon;
        try {
            Files.createDirectories(config.log().toAbsolutePath().getParent());
            ProcessBuilder builder = new ProcessBuilder(cmd);
            builder.environment().putAll(mallocEnvironment(config));
            daemon = builder.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
                    .redirectOutput(
                            ProcessBuilder.Redirect.appendTo(config.log().toFile()))
                    .redirectErrorStream(true)
                    .start();
        } catch (IOException e) {
            throw new RamswapException(RamswapException.FAILED, "cannot start the daemon: " + e.getMessage(), e);
        }
        out.println("ramswap: starting "
                + (config.swap() ? Sizes.human(config.sizeBytes()) + " of swap" : "a node without swap")
                + (config.lendBytes() > 0
                        ? ", lending " + Sizes.human(config.lendBytes()) + " (heap " + Sizes.human(config.heapBytes())
                                + ")"
                        : "")
                + " at " + config.mount()
                + " (daemon pid " + daemon.pid() + ", log " + config.log() + ")");
        out.flush();
        long started = System.nanoTime();
        long deadline = started + READY_TIMEOUT.toNanos();
        long nextProgress = started + PROGRESS_EVERY.toNanos();
        while (true) {
            if (!daemon.isAlive()) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "the daemon stopped before swap was live (exit " + daemon.exitValue() + "):\n"
                                + tail(config.log(), 15));
            }
            if (instance.state() == Instance.State.LIVE) {
                Map<String, String> status;
                try {
                    status = instance.status();
                } catch (RamswapException busy) {
                    status = Map.of(); // did not answer this time (busy warming up): ask again until the deadline
                }
                if ("live".equals(status.get("state"))) {
                    out.println("ramswap: up: "
                            + (config.swapArea()
                                    ? status.get("swap_devices") + " swap at priority " + status.get("priority")
                                    : "swap " + status.get("swap"))
                            + "; " + status.get("role") + "; " + status.get("cluster"));
                    return 0;
                }
            }
            if (System.nanoTime() > nextProgress) {
                nextProgress += PROGRESS_EVERY.toNanos();
                out.println("ramswap:   not live yet after " + (System.nanoTime() - started) / 1_000_000_000L
                        + " s; the daemon's last word: " + tail(config.log(), 1).replaceFirst("^\\S+Z ramswap: ", ""));
                out.flush();
            }
            if (System.nanoTime() > deadline) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "swap was not live after " + READY_TIMEOUT.toSeconds() + " s; the daemon (pid " + daemon.pid()
                                + ") keeps trying, see " + config.log() + ":\n" + tail(config.log(), 15));
            }
            sleep(200);
        }
    }

    /**
     * glibc's malloc settings for the daemon. glibc gives each thread that mallocs an arena of its
     * own, up to {@code MALLOC_ARENA_MAX}, then shares them. Shared is a hang: a thread growing its
     * arena holds the arena's lock while its page faults reclaim and wait on a swap write to this
     * daemon; if that arena is also the serving thread's (libfuse mallocs each request's
     * bookkeeping), the write is never served (docs/memory-pressure.md). So a node with swap gets
     * enough arenas for every thread. A node without swap serves no swap write, so its threads share
     * a few: each arena keeps its peak (locked pages cannot be given back), and one arena per thread
     * kept about 60 MiB of an idle lender (docs/memory.md). Either keeps what it freed instead of
     * returning it to the kernel: a page given back is a page to fault in again, maybe in the
     * middle of a shortage.
     */
    static Map<String, String> mallocEnvironment(DaemonConfig config) {
        return Map.of(
                "MALLOC_ARENA_MAX",
                Integer.toString(config.swap() ? MALLOC_ARENAS : MALLOC_ARENAS_WITHOUT_SWAP),
                "MALLOC_TRIM_THRESHOLD_",
                Long.toString(1L << 30),
                "MALLOC_MMAP_THRESHOLD_",
                Long.toString(32L << 20));
    }

    /** More than the daemon's threads (about 45), so that the serving thread's malloc arena is its own. */
    static final int MALLOC_ARENAS = 128;

    /** Arenas for a node without swap (a lender with {@code --no-swap}): as the JVM advises for small containers. */
    static final int MALLOC_ARENAS_WITHOUT_SWAP = 2;

    /**
     * The JIT's code memory, committed (and so locked) whole at start. A node's compiled code, at
     * the end of the benchmark workload: 6.9-7.6 MiB swapping locally, 8.5 MiB for a borrower
     * sending every page away, 7.8 MiB for its lender (JDK 17, cold code kept). When it is full,
     * JDK 17 stops compiling until its sweeper frees code made not entrant; JDK 20 and later free
     * code at collections.
     */
    static final int CODE_CACHE_MIB = 16;

    /** A fixed heap sized from the swap, not from the machine; small thread stacks; no JIT tiers that only cost memory. */
    static List<String> jvmOptions(DaemonConfig config) {
        long heapMiB = (config.heapBytes() + (1 << 20) - 1) >> 20;
        List<String> options = new ArrayList<>(List.of(
                "-Xms" + heapMiB + "m",
                "-Xmx" + heapMiB + "m",
                "-XX:+UseSerialGC",
                "-Xss256k",
                "-XX:MaxMetaspaceSize=128m",
                "-XX:ReservedCodeCacheSize=" + CODE_CACHE_MIB + "m",
                "-XX:MaxDirectMemorySize=64m",
                "-Djava.util.concurrent.ForkJoinPool.common.parallelism=2",
                // In a memory cgroup the JVM reads the cgroup's files many times a second (the
                // compiler threads ask for the memory left, Hazelcast's metrics for the limit).
                // Each read allocates kernel memory charged to the cgroup, and when that is full,
                // the reader reclaims, writes swap to this daemon and waits: seen with the VM thread
                // at a safepoint, which the serving thread then waits on. The heap is fixed anyway.
                "-XX:-UseContainerSupport",
                "-XX:-UseDynamicNumberOfCompilerThreads",
                // A safepoint stops the serving thread until every thread reaches it, and a thread
                // that is committing memory in a full cgroup may be waiting on a swap write that
                // only the serving thread can complete (docs/memory-pressure.md). So, while serving:
                // no safepoint every second to clean inline caches (they are cleaned when full), and
                // (below) code memory committed up front instead of in 64 KiB steps by the compiler
                // threads, in the middle of a shortage.
                "-XX:+UnlockDiagnosticVMOptions",
                "-XX:GuaranteedSafepointInterval=0",
                // Compiled code checks for null with a compare, not by letting a load from address 0
                // fault: such a fault is on no mapping, so the kernel looks for one under mmap_lock,
                // and a serving thread that meets its first null on a path the warm-up did not take
                // (a remote page's fetch) would wait for that lock (seen in RemoteSwapIT's trace).
                "-XX:-ImplicitNullChecks",
                // Hazelcast asks for these to use its fast internal paths instead of fallbacks. (It
                // also asks for --add-modules java.se, which a class-path application on Java 11+
                // resolves anyway, and which the daemon's cut-down runtime does not have.)
                "--add-exports",
                "java.base/jdk.internal.ref=ALL-UNNAMED",
                "--add-opens",
                "java.base/java.lang=ALL-UNNAMED",
                "--add-opens",
                "java.base/sun.nio.ch=ALL-UNNAMED",
                "--add-opens",
                "java.management/sun.management=ALL-UNNAMED",
                "--add-opens",
                "jdk.management/com.sun.management.internal=ALL-UNNAMED"));
        if (config.swap()) {
            // committed whole at start, so that no compiler thread commits it in a shortage; a node
            // without swap serves no swap write, and commits it as its code grows (idle, about a
            // third of it)
            options.add("-XX:InitialCodeCacheSize=" + CODE_CACHE_MIB + "m");
        }
        if (config.protections()) {
            options.add("-XX:+AlwaysPreTouch"); // the whole heap resident before the first request
        }
        if (Runtime.version().feature() < 20) {
            // JDK 17's sweeper evicts compiled code it has not seen on a stack at a safepoint for a
            // few sweeps. This daemon avoids safepoints (above), so its hot code looks cold: with
            // eviction on, a borrower recompiled its hot paths all through the benchmark workload
            // (6,638 compilations, C2 17% of the machine's CPU) against 3,515 without
            // (docs/memory.md, "Compiled code kept")
            options.add("-XX:NmethodSweepActivity=0");
        }
        if (Runtime.version().feature() < 21) {
            // free metaspace stays committed, so the reserve committed at start stays (MetaspaceReserve);
            // JDK 21 removed the option
            options.add("-XX:MetaspaceReclaimPolicy=none");
        }
        return options;
    }

    static long memTotal() throws RamswapException {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
                }
            }
        } catch (IOException | NumberFormatException e) {
            throw new RamswapException(
                    RamswapException.FAILED, "cannot read MemTotal from /proc/meminfo; give --size", e);
        }
        throw new RamswapException(RamswapException.FAILED, "no MemTotal in /proc/meminfo; give --size");
    }

    static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(no log at " + file + ")";
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
