package ramswap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.time.Duration;
import java.time.Instant;
import java.util.Arrays;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import ramswap.agent.Agents;
import ramswap.cluster.CallTier;
import ramswap.cluster.ClientControl;
import ramswap.cluster.ClusterClient;
import ramswap.cluster.ClusterException;
import ramswap.cluster.ClusterMember;
import ramswap.cluster.ClusterNode;
import ramswap.cluster.ClusterTier;
import ramswap.cluster.Lender;
import ramswap.cluster.LentPages;
import ramswap.cluster.NodeControls;
import ramswap.cluster.NodeLease;
import ramswap.cluster.StatsPublisher;
import ramswap.fuse.FuseMount;
import ramswap.fuse.SwapFileSystem;
import ramswap.move.Compactor;
import ramswap.move.Moves;
import ramswap.move.Remotifier;
import ramswap.move.Repairer;
import ramswap.move.Repatriator;
import ramswap.store.BlockCodec;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.LocalPool;
import ramswap.store.RefusalWatch;
import ramswap.store.SwapStore;
import ramswap.sys.Posix;
import sun.misc.Signal;

/**
 * The running ramswap: wires store, file system, cluster member and swap area in one place,
 * brings them up in order (cluster, mount, loop, swapon) and down in the reverse one
 * (swapoff, losetup -d, unmount, leave), whatever stops it: {@code ramswap down}, SIGTERM, SIGINT.
 */
final class Daemon {

    private static final Duration STATS_INTERVAL = Duration.ofSeconds(2);
    /** How long the pool's grower parks with nothing to do; the pool wakes it at once when it needs it. */
    private static final Duration GROWER_IDLE = Duration.ofMillis(100);
    /** How long a periodic agent (intervals of seconds) parks between looks at its clock: few wake-ups on a small machine. */
    private static final Duration PERIODIC_IDLE = Duration.ofMillis(500);

    private static final Duration SWAPOFF_TIMEOUT = Duration.ofMinutes(30);
    /** The least wait for a remote page while swapoff brings the pages back. */
    private static final Duration SWAPOFF_FETCH_TIMEOUT = Duration.ofSeconds(60);
    /** A hand-over that moves no page for this long gives up, and the daemon stays up. */
    static final Duration HANDOFF_STALL = Duration.ofSeconds(30);
    /** How long the remote movers and the flusher park with nothing to do. */
    private static final Duration REMOTE_IDLE = Duration.ofMillis(50);

    private static final Duration REPATRIATOR_IDLE = Duration.ofMillis(100);
    /** Bounds the deletion of this node's pages left from an earlier life (at start) or unneeded (at stop). */
    private static final Duration TIER_SWEEP = Duration.ofSeconds(10);

    private final DaemonConfig config;
    private final PrintWriter out;
    private final Instance instance;
    private final Semaphore stopRequests = new Semaphore(0);
    private final Instant started = Instant.now();

    private volatile String state = "starting";
    private volatile SwapArea area;
    /** Metaspace when swap went on: what is committed later was mapped while serving. */
    private java.lang.management.MemoryUsage metaspaceAtLive;

    private volatile String lastError = "";
    /** Run when a stop is asked for, before anything stops: false keeps the daemon up (a lender that could not hand over). */
    private java.util.function.BooleanSupplier handOff = () -> true;
    /** What turns sending on once the warm-up is done (--target); nothing without a target. */
    private Runnable startSending = () -> {};
    /** The hand-over's progress while it runs, for the status file; empty otherwise. */
    private volatile String handoffProgress = "";
    /** Stop requests refused so far: down compares it before and after its own request. */
    private final java.util.concurrent.atomic.AtomicInteger stopRefusals =
            new java.util.concurrent.atomic.AtomicInteger();

    private volatile ClusterNode member;
    /** The member's or client's own name for its role, asked once it is in: the status file's and nodes' words agree. */
    private volatile String roleLabel;

    private boolean createdMountDir;
    private volatile SwapStore store;
    private volatile long classImageUnlocked;
    private volatile ProcReader procReader;
    private volatile RefusalWatch refusals;
    private volatile SpareMemory spareMemory;
    private volatile StallWatch stallWatch;

    Daemon(DaemonConfig config, PrintWriter out) {
        this.config = config;
        this.out = out;
        this.instance = new Instance(config.mount());
    }

    int run() throws RamswapException {
        Root.require("ramswap up");
        prepareMountDir();
        for (String name : new String[] {"TERM", "INT", "HUP"}) {
            // our handler replaces the JVM's: no shutdown hook may unmount while swap is on
            Signal.handle(new Signal(name), s -> stopRequests.release());
        }
        Posix posix = Posix.load();
        if (config.protections()) {
            Protections.checkFits(config, true);
            // before any thread of ours starts, so that all inherit them (up has already applied
            // them to the whole JVM; this covers --foreground under a service manager)
            for (String failed : Protections.applyInheritable(posix)) {
                say("warning: protection not applied: " + failed);
            }
            Protections.lockMemory(posix);
        } else {
            say("warning: running without memory protections (--no-protections is for tests only)");
        }
        // up says it on the terminal; this puts it in the log, and before --foreground's user
        Protections.headroomAdvice().ifPresent(advice -> say("warning: " + advice));
        Protections.kernelAdvice(System.getProperty("os.version")).ifPresent(advice -> say("warning: " + advice));
        if (Runtime.getRuntime().maxMemory() < config.heapBytes() - (config.heapBytes() >> 4)) {
            say("warning: the heap is " + Sizes.human(Runtime.getRuntime().maxMemory()) + ", below the "
                    + Sizes.human(config.heapBytes())
                    + " this configuration needs (swap table" + (config.lendBytes() > 0 ? " and lend quota" : "")
                    + "); start it with ramswap up, which sizes the heap, or give -Xms and -Xmx yourself");
        }
        Counters counters = new Counters();
        Knobs knobs = new Knobs();
        say("starting: swap " + Sizes.human(config.sizeBytes()) + ", pool limit " + Sizes.human(config.poolLimitBytes())
                + ", pool reserve " + Sizes.human(config.poolReserveBytes()) + ", heap "
                + Sizes.human(Runtime.getRuntime().maxMemory())
                + ", mount " + config.mount() + ", pid "
                + ProcessHandle.current().pid());
        if (config.metrics().jmx()) {
            System.setProperty("hazelcast.jmx", "true"); // Hazelcast's MBeans beside ramswap's (--metrics-jmx)
        }
        // closed in reverse: the agents stop, then the member leaves, then the pool is unmapped, but only
        // once nothing can read it: an unmount that failed leaves it mapped until this process exits
        LocalPool.MarginProbe margin = cgroupMargin(posix);
        LocalPool pool = new LocalPool(
                posix,
                config.poolCapacityBytes(),
                config.poolLimitBytes(),
                config.poolReserveBytes(),
                config.protections(),
                margin);
        boolean poolUnread = true;
        // closed in reverse: the agents stop (the remotifier settles its batches in flight, the flusher
        // sends its deletes), then this node's pages left on lenders are deleted, then the lender stops
        // serving page calls and its store is unmapped, then the tier closes, then the member leaves
        try (ClusterNode m = joinCluster(knobs, counters);
                ClusterTier tier = config.swap() ? startTier(m, knobs, counters) : null;
                // a node that lends is always a member (DaemonConfig)
                LentPages lent =
                        config.lendBytes() > 0 ? new LentPages(posix, config.lendBytes(), config.protections()) : null;
                Lender lender = lent != null ? new Lender((ClusterMember) m, lent, knobs, counters) : null) {
            try (Agents agents = new Agents(() -> counters.increment(Counter.AGENT_ERRORS))) {
                store = new SwapStore(config.sizeBytes(), pool, counters);
                setKnob(knobs, Knob.POOL_MAX_BYTES, config.poolLimitBytes());
                counters.set(Counter.LEND_QUOTA_BYTES, config.lendBytes());
                if (config.targets() != null) {
                    setKnob(knobs, Knob.REMOTE_TARGET_NODENUM, config.targets());
                    // not yet: the warm-up's pages are punched out right after they are read back, and
                    // sending them would only load the network (and a slow machine's CPUs) while up waits
                    startSending = () -> knobs.set(Knob.PERS_REMOTIFY_ENABLE, 1);
                }
                knobs.onChange(Knob.POOL_MAX_BYTES, limit -> {
                    String refusal = config.poolLimitRefusal(limit);
                    if (refusal != null) {
                        throw new IllegalArgumentException("pool_max_bytes " + refusal);
                    }
                    pool.setLimitBytes(limit);
                });
                member = m;
                roleLabel = m.roleLabel();
                say("cluster: " + m.describe());
                refusals = new RefusalWatch(counters, this::say);
                procReader = new ProcReader(
                        counters, rss -> Protections.describe(config.protections(), classImageUnlocked, rss));
                agents.start(procReader, PERIODIC_IDLE);
                agents.start(pool.grower(), GROWER_IDLE);
                agents.start(refusals, PERIODIC_IDLE);
                agents.start(new StatsPublisher(m, this::snapshot, STATS_INTERVAL), PERIODIC_IDLE);
                if (m instanceof ClusterClient c) {
                    agents.start(new NodeLease(c), PERIODIC_IDLE); // the lenders keep its pages while it renews
                    // get/set --node from other machines; a member's executor answers those, a client's listener here
                    // (it lives with the client)
                    ClientControl.listen(c, new NodeControls(knobs, () -> snapshot(counters)));
                }
                Moves moves = new Moves(store);
                agents.start(new Compactor(moves), PERIODIC_IDLE);
                if (tier != null) {
                    // swapoff reads every remote page once, and a page it cannot read is lost for good: then a
                    // lender's hiccup is waited out rather than answered with EIO
                    store.useRemote(
                            tier,
                            () -> "stopping".equals(state)
                                    ? Math.max(knobs.get(Knob.REMOTE_TIMEOUT_MS), SWAPOFF_FETCH_TIMEOUT.toMillis())
                                    : knobs.get(Knob.REMOTE_TIMEOUT_MS));
                    for (org.agrona.concurrent.Agent a : tier.agents()) {
                        agents.start(a, REMOTE_IDLE);
                    }
                    agents.start(new Remotifier(moves, knobs, BlockCodec.BLOCK_SIZE), REMOTE_IDLE);
                    agents.start(new Repatriator(moves, knobs, spareMemory = new SpareMemory(knobs)), REPATRIATOR_IDLE);
                    agents.start(new Repairer(moves, knobs, BlockCodec.BLOCK_SIZE), REPATRIATOR_IDLE);
                }
                if (lender != null) {
                    agents.start(lender.agent(), REPATRIATOR_IDLE);
                    handOff = () -> handOff(lender, knobs);
                }
                SwapFileSystem fs = new SwapFileSystem(store, knobs, this::statusText);
                FuseMount mount = mount(fs);
                poolUnread = false;
                watchForStalls(agents, fs, posix);
                MetricsExport export = null;
                try {
                    export = MetricsExport.start(
                            config.metrics(), metrics(counters, knobs, fs), a -> agents.start(a, PERIODIC_IDLE));
                    serve(mount, posix);
                } finally {
                    if (export != null) {
                        export.close();
                    }
                    unmount(mount);
                    poolUnread = true;
                }
                // nothing reads the store any more: send nothing more, and let the agents settle what is in flight as
                // they stop
                knobs.set(Knob.PERS_REMOTIFY_ENABLE, 0);
            }
            if (tier != null && counters.get(Counter.REMOTE_PERS_PAGES) > 0) {
                // swapoff brought back every page a process still had; the rest are freed slots
                say("deleting the " + counters.get(Counter.REMOTE_PERS_PAGES)
                        + " pages this node still had on other nodes");
                tier.deleteAllPages(TIER_SWEEP);
            }
        } finally {
            if (poolUnread) {
                pool.close();
            } else {
                say("the pool stays mapped: the file system may still serve from it until this process exits");
            }
        }
        say("stopped: nothing left mounted, no loop device, no swap area");
        return 0;
    }

    /** Swap on, wait for stop requests, swap off; returns only once every loop device is gone. */
    private void serve(FuseMount mount, Posix posix) throws RamswapException {
        if (!config.swapArea()) {
            serveWithoutSwap(mount);
            return;
        }
        long t0 = System.nanoTime();
        int requests = WarmUp.run(posix, mount.swapFile(), config.sizeBytes(), config.poolLimitBytes());
        say("warmed up: " + requests + " requests through the swap file, every block read back intact, in "
                + String.format(Locale.ROOT, "%.1f s", (System.nanoTime() - t0) / 1e9)
                + "; taken by the serving threads " + Arrays.toString(mount.requestsTakenByEachThread()));
        if (config.protections()) {
            MetaspaceReserve.commit().ifPresent(reserve -> {
                say(reserve.describe());
                if (!reserve.held()) {
                    say("warning: the metaspace reserve was uncommitted again (a JVM without"
                            + " -XX:MetaspaceReclaimPolicy=none?): a thread that runs new code while swap is live"
                            + " may map memory and fault");
                }
            });
            Protections.lockLaterMappingsOnFault(posix);
        }
        metaspaceAtLive = MetaspaceReserve.usage();
        startSending.run();
        area = SwapArea.open(mount.swapFile(), config.sizeBytes(), config.loops(), config.priority(), this::say);
        state = "live";
        say("live: " + String.join(" ", area.devices()) + " are swap with priority " + config.priority()
                + " and discard");
        String bait = LockBait.setIfAsked(posix, mount.swapFile());
        if (bait != null) {
            say(bait);
        }
        if (config.protections()) {
            classImageUnlocked = Protections.unlockClassImage(posix);
            if (classImageUnlocked > 0) {
                say("unlocked the JDK's class image (" + Sizes.human(classImageUnlocked)
                        + "): PR_SET_IO_FLUSHER holds, so a fault on it cannot wait on swap");
            }
        }
        while (true) {
            stopRequests.acquireUninterruptibly();
            java.util.List<String> others = usersOf(mount);
            others.removeAll(area.devices());
            if (!others.isEmpty()) {
                refuseStop(notStopping(others, mount)); // before swapoff: swap stays on as it was
                continue;
            }
            if (!handOff.getAsBoolean()) {
                continue;
            }
            state = "stopping";
            java.lang.management.MemoryUsage metaspace = MetaspaceReserve.usage();
            say("stopping: swapoff brings " + usedMiB() + " MiB back into RAM; metaspace committed "
                    + Sizes.human(metaspace.getCommitted() - metaspaceAtLive.getCommitted()) + " more while live (used "
                    + Sizes.human(metaspace.getUsed() - metaspaceAtLive.getUsed()) + " more)");
            Counters c = store.counters();
            long remoteFailed = c.get(Counter.REMOTE_FAILED_REQUESTS);
            Thread progress = progressReporter();
            try {
                area.close(SWAPOFF_TIMEOUT, this::say);
                long lost = c.get(Counter.REMOTE_FAILED_REQUESTS) - remoteFailed;
                if (lost > 0) {
                    say("warning: " + lost + " requests for remote pages failed during swapoff (remote_get_missing "
                            + c.get(Counter.REMOTE_GET_MISSING) + ", remote_get_timeouts "
                            + c.get(Counter.REMOTE_GET_TIMEOUTS)
                            + ", remote_get_unauthentic " + c.get(Counter.REMOTE_GET_UNAUTHENTIC)
                            + "): the processes that owned those pages get SIGBUS when they touch them");
                }
                return;
            } catch (RamswapException e) {
                state = "live";
                refuseStop(e.getMessage());
            } finally {
                progress.interrupt();
            }
        }
    }

    /** --no-swap: the mount and the member serve; the swap file is never swap. Stops at the first request that finds no loop device on it. */
    private void serveWithoutSwap(FuseMount mount) {
        startSending.run();
        state = "live";
        say(
                config.swap()
                        ? "live: no swap area (--no-swapon): the swap file is served for tests to drive"
                        : "live: no swap area (--no-swap); this node lends " + Sizes.human(config.lendBytes()));
        while (true) {
            stopRequests.acquireUninterruptibly();
            java.util.List<String> users = usersOf(mount);
            if (users.isEmpty()) {
                if (!handOff.getAsBoolean()) {
                    continue;
                }
                state = "stopping";
                return;
            }
            refuseStop(notStopping(users, mount));
        }
    }

    /** Loop devices over the swap file, read from sysfs. */
    private static java.util.List<String> usersOf(FuseMount mount) {
        return new java.util.ArrayList<>(SwapDevice.loopsBackedBy(mount.swapFile()));
    }

    private static String notStopping(java.util.List<String> users, FuseMount mount) {
        return "not stopping: loop devices " + users + " still use " + mount.swapFile()
                + "; detach them first (sudo losetup -d " + String.join(" ", users) + "), then run down again";
    }

    /**
     * A lending node about to stop hands the pages it holds to the other lenders, or back to their
     * owners when no lender takes them: it announces that it leaves, and the senders' repair moves
     * their pages off it. Waits while the count falls; after {@link #HANDOFF_STALL} without progress
     * it withdraws and refuses to stop, unless {@code handoff_on_stop} is 0 (ramswap down --force).
     */
    private boolean handOff(Lender lender, Knobs knobs) {
        if (knobs.get(Knob.HANDOFF_ON_STOP) == 0) {
            return true;
        }
        long held = lender.heldOfPresentNodes();
        if (held == 0) {
            return true;
        }
        lender.announceLeaving();
        say("handing over: " + held + " pages of other nodes held here go to other lenders, or back to their owners");
        long last = held;
        long lastProgress = System.nanoTime();
        long t0 = lastProgress;
        try {
            while (true) {
                sleepQuietly(1000);
                if (knobs.get(Knob.HANDOFF_ON_STOP) == 0) {
                    say("handing over: stopped by handoff_on_stop 0 (down --force) with " + lender.heldOfPresentNodes()
                            + " pages of other nodes still here; those with no other copy are lost");
                    return true;
                }
                long left = lender.heldOfPresentNodes();
                handoffProgress =
                        (held - left) + " of " + held + " pages of other nodes handed over, " + left + " left";
                if (left == 0) {
                    say(String.format(
                            Locale.ROOT,
                            "handed over: %d pages of other nodes in %.1f s",
                            held,
                            (System.nanoTime() - t0) / 1e9));
                    return true;
                }
                if (left < last) {
                    last = left;
                    lastProgress = System.nanoTime();
                } else if (System.nanoTime() - lastProgress > HANDOFF_STALL.toNanos()) {
                    lender.stayAfterAll();
                    refuseStop(
                            "not stopping: " + left + " of " + held
                                    + " pages of other nodes held here found no other lender with"
                                    + " room and could not go back to their owners within " + HANDOFF_STALL.toSeconds()
                                    + " s (their owners' pools"
                                    + " are full, or they do not answer); give the other lenders room or their owners memory, or run"
                                    + " ramswap down --force: pages with no other copy are then lost, and their processes die of SIGBUS");
                    return false;
                }
            }
        } finally {
            handoffProgress = "";
        }
    }

    private static void sleepQuietly(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void refuseStop(String why) {
        lastError = why;
        stopRefusals.incrementAndGet();
        say("cannot stop: " + why + "; ramswap stays up and keeps serving its pages");
    }

    private Thread progressReporter() {
        Thread progress = new Thread(
                () -> {
                    try {
                        while (!Thread.currentThread().isInterrupted()) {
                            Thread.sleep(2000);
                            say("stopping: " + usedMiB() + " MiB still in swap");
                        }
                    } catch (InterruptedException e) {
                        // swapoff ended
                    }
                },
                "ramswap-swapoff-progress");
        progress.setDaemon(true);
        progress.start();
        return progress;
    }

    /** Started before swap is on, like every thread of the daemon: see {@link StallWatch}. */
    private void watchForStalls(Agents agents, SwapFileSystem fs, Posix posix) {
        java.util.OptionalInt connection = instance.fuseConnection();
        StallWatch watch = connection.isPresent()
                ? StallWatch.open(posix, connection.getAsInt(), fs::requestsTaken, this::say, config.mount())
                : null;
        if (watch == null) {
            say(
                    "warning: cannot read the FUSE connection's waiting requests (fusectl): a stall of the serving path would not be reported");
            return;
        }
        stallWatch = watch;
        agents.start(watch, PERIODIC_IDLE);
    }

    private FuseMount mount(SwapFileSystem fs) throws RamswapException {
        try {
            return FuseMount.mount(fs, config.mount(), config.borrows() ? config.loops() : 1);
        } catch (IOException | RuntimeException e) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "cannot mount the swap file system on " + config.mount() + ": " + e.getMessage()
                            + (Files.exists(java.nio.file.Path.of("/dev/fuse"))
                                    ? ""
                                    : " (/dev/fuse is missing: modprobe fuse)"),
                    e);
        }
    }

    private void unmount(FuseMount mount) throws RamswapException {
        // Exiting now would take their pages with us, and the pool, closed after this, must never be
        // unmapped under a mount that still serves: wait for the operator to detach them and ask again.
        for (java.util.List<String> users = usersOf(mount); !users.isEmpty(); users = usersOf(mount)) {
            refuseStop(notStopping(users, mount));
            stopRequests.acquireUninterruptibly();
        }
        try {
            mount.close();
            say("unmounted " + config.mount());
            if (createdMountDir) {
                Files.deleteIfExists(config.mount()); // leave the machine as we found it
            }
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED, "cannot unmount " + config.mount() + ": " + e.getMessage(), e);
        }
    }

    /** A knob the daemon sets at start: a refusal means the configuration and the store disagree. */
    private static void setKnob(Knobs knobs, Knob knob, long value) throws RamswapException {
        setKnob(knobs, knob, Long.toString(value));
    }

    private static void setKnob(Knobs knobs, Knob knob, String value) throws RamswapException {
        String refusal = knobs.set(knob, value);
        if (refusal != null) {
            throw new RamswapException(RamswapException.FAILED, "cannot start: " + refusal);
        }
    }

    /**
     * Joins with this node's role announced, and its knobs and counters in reach of the cluster's
     * control calls; a node that only borrows from the members of --join connects as a client.
     */
    private ClusterNode joinCluster(Knobs knobs, Counters counters) throws RamswapException {
        try {
            if (config.client()) {
                return ClusterClient.connect(config.cluster(), ClusterClient.CONNECT_TIMEOUT);
            }
            return ClusterMember.join(
                    config.cluster(), config.role(), new NodeControls(knobs, () -> snapshot(counters)), this::say);
        } catch (ClusterException e) {
            throw new RamswapException(RamswapException.FAILED, "cannot join the cluster: " + e.getMessage(), e);
        }
    }

    /** This node's remote tier; its incarnation is random, so that no page of an earlier life authenticates. */
    private ClusterTier startTier(ClusterNode m, Knobs knobs, Counters counters) {
        long incarnation = new java.security.SecureRandom().nextLong();
        return CallTier.start(m, knobs, counters, incarnation, TIER_SWEEP);
    }

    /** Refuses a mount directory where a live ramswap or somebody else's file system is mounted. */
    static void refuseOccupied(Instance instance) throws RamswapException {
        switch (instance.state()) {
            case LIVE ->
                throw new RamswapException(
                        RamswapException.FAILED,
                        "ramswap is already running at " + instance.dir() + " (see: ./ramswap status --mount "
                                + instance.dir() + ")");
            case FOREIGN ->
                throw instance.foreign(
                        RamswapException.FAILED, "; it is left alone: choose another directory with --mount");
            case HUNG -> throw instance.hung();
            case STALE, ABSENT -> {}
        }
    }

    private void prepareMountDir() throws RamswapException {
        refuseOccupied(instance);
        instance.cleanStale(out);
        try {
            if (Files.isDirectory(config.mount())) {
                try (var entries = Files.list(config.mount())) {
                    if (entries.findAny().isPresent()) {
                        throw new RamswapException(
                                RamswapException.FAILED,
                                config.mount()
                                        + " is not empty; ramswap mounts only on an empty directory: choose another with --mount");
                    }
                }
            } else if (Files.exists(config.mount())) {
                throw new RamswapException(RamswapException.FAILED, config.mount() + " exists and is not a directory");
            } else {
                createdMountDir = true;
            }
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED, "cannot inspect " + config.mount() + ": " + e.getMessage(), e);
        }
    }

    // ================================================================ what it shows

    /** What the metrics export renders: every counter and knob, the fetch times and the serving threads' times. */
    private Metrics metrics(Counters counters, Knobs knobs, SwapFileSystem fs) {
        SwapStore s = store;
        return new Metrics(
                config.cluster().clusterName(),
                member.nodeNumber(),
                counters,
                knobs,
                s::refreshGauges,
                s.fetchTimes(),
                fs.readTimes(),
                fs.writeTimes());
    }

    private java.util.Map<String, Long> snapshot() {
        return snapshot(store.counters());
    }

    /** Every counter, gauges refreshed once the store exists (a control call may come before). */
    private java.util.Map<String, Long> snapshot(Counters counters) {
        SwapStore s = store;
        if (s != null) {
            s.refreshGauges();
        }
        return counters.snapshot();
    }

    private String statusText() {
        SwapStore s = store;
        Counters c = s.counters();
        s.refreshGauges();
        long zpages = c.get(Counter.PERS_ZPAGES);
        long zbytes = c.get(Counter.PERS_ZBYTES);
        long stored = c.get(Counter.STORED_PAGES);
        ClusterNode m = member;
        StringBuilder b = new StringBuilder();
        line(b, "state", state);
        StallWatch stall = stallWatch;
        String stalled = stall == null ? null : stall.stall();
        if (stalled != null) {
            line(b, "stalled", stalled);
        }
        line(b, "pid", ProcessHandle.current().pid());
        line(b, "mount", config.mount());
        SwapArea a = area;
        line(b, "swap_devices", a == null ? "-" : String.join(" ", a.devices()));
        line(b, "size_bytes", config.sizeBytes());
        line(b, "priority", config.priority());
        line(b, "stored_pages", stored);
        line(b, "stored_bytes", stored * 4096);
        line(b, "pool_bytes", c.get(Counter.POOL_BYTES));
        line(b, "compression_ratio", zbytes == 0 ? "-" : String.format(Locale.ROOT, "%.2f", zpages * 4096.0 / zbytes));
        line(
                b,
                "swap",
                config.swapArea()
                        ? "on"
                        : config.swap()
                                ? "none (--no-swapon: the swap file is served, no swap area uses it)"
                                : "none (--no-swap: this node only lends; its 1 MiB swap file is never swap)");
        String role = roleLabel;
        line(b, "role", role == null ? config.role().name() : role);
        line(b, "lend_bytes", config.lendBytes());
        line(b, "heap_bytes", Runtime.getRuntime().maxMemory());
        line(b, "cluster", m == null ? "-" : m.describe());
        line(b, "cluster_name", config.cluster().clusterName());
        java.util.List<String> members = m == null ? java.util.List.of() : m.memberAddresses();
        // a member's own address first, for the CLI to connect to; a client node has none
        line(b, "member_address", m == null || m.client() || members.isEmpty() ? "-" : members.get(0));
        line(b, "cluster_members", members.isEmpty() ? "-" : String.join(" ", members));
        line(b, "started", started);
        line(b, "log", config.log() == null ? "-" : config.log());
        line(b, "pool_reserve_bytes", config.poolReserveBytes());
        for (String p : procReader.lines()) {
            b.append(p).append('\n');
        }
        RefusalWatch r = refusals;
        if (r != null && !r.status().isEmpty()) {
            line(b, "pool_full", r.status());
        }
        SpareMemory spare = spareMemory;
        if (spare != null && !spare.lastRefusal().isEmpty() && c.get(Counter.REMOTE_PERS_PAGES) > 0) {
            line(b, "selfshrink_waiting", spare.lastRefusal());
        }
        if (!handoffProgress.isEmpty()) {
            line(b, "handoff", handoffProgress);
        }
        if (!lastError.isEmpty()) {
            line(b, "last_error", lastError);
        }
        line(b, "stop_refusals", stopRefusals.get());
        return b.toString();
    }

    private static void line(StringBuilder b, String name, Object value) {
        b.append(name).append(": ").append(value).append('\n');
    }

    private long usedMiB() {
        SwapArea a = area;
        return a == null ? 0 : a.usedBytes() >> 20;
    }

    private void say(String message) {
        out.println(Instant.now() + " ramswap: " + message);
        out.flush();
    }

    /**
     * The room of the daemon's memory cgroup, when the daemon runs in one with a limit below the
     * machine's memory and keeps a reserve: then the pool's grower backs slabs from that room only
     * (LocalPool's grower, docs/memory-pressure.md). None otherwise.
     */
    private LocalPool.MarginProbe cgroupMargin(Posix posix) {
        if (!config.protections() || config.poolReserveBytes() == 0) {
            return LocalPool.MarginProbe.NONE;
        }
        long memTotal;
        try {
            memTotal = UpCommand.memTotal();
        } catch (RamswapException e) {
            return LocalPool.MarginProbe.NONE;
        }
        return CgroupMargin.forThisProcess(posix, memTotal)
                .map(m -> {
                    say("memory cgroup with a limit: the pool grows only from the room the cgroup has free");
                    return m;
                })
                .orElse(LocalPool.MarginProbe.NONE);
    }
}
