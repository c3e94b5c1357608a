package ramswap.cli;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import ramswap.sys.Posix;

/**
 * What keeps a swap daemon alive when memory is short: it is called exactly then, and if it needs
 * memory or I/O itself to answer, the machine locks up (the swap-over-NBD lesson).
 *
 * <ul>
 * <li>PR_SET_IO_FLUSHER: allocations of the daemon never wait on I/O in reclaim (which could be
 *     swap to itself) and are not throttled as a writer. Per thread, inherited across fork and exec.</li>
 * <li>oom_score_adj -1000: the OOM killer never picks the process that holds other processes' pages.</li>
 * <li>nice -20: every swap request waits on the daemon, it must not queue behind the swapping processes.</li>
 * <li>mlockall (current and future, populated now; once warm, later mappings locked on first touch):
 *     the daemon's memory is never swapped, least of all to itself.</li>
 * <li>a fixed, pre-touched heap and a pre-touched pool reserve (JVM flags and {@code LocalPool}).</li>
 * </ul>
 *
 * The first three are inherited, so {@code up} applies them to itself just before it starts the
 * daemon: then every thread of the daemon's JVM has them, its own service threads included.
 */
final class Protections {

    static final int NICE = -20;
    private static final int PF_MEMALLOC_NOIO = 0x00080000;

    private Protections() {}

    /** The inherited ones, on the calling thread and process; returns what failed, empty when all held. */
    static List<String> applyInheritable(Posix posix) {
        List<String> failed = new ArrayList<>();
        if (posix.prctl(Posix.PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) {
            failed.add("PR_SET_IO_FLUSHER: " + Posix.describe(Posix.lastErrno())
                    + " (needs Linux 5.6+ and CAP_SYS_RESOURCE); reclaim inside the daemon may wait on swap I/O");
        }
        try {
            Files.writeString(Path.of("/proc/self/oom_score_adj"), "-1000");
        } catch (IOException e) {
            failed.add("oom_score_adj -1000: " + e.getMessage()
                    + " (needs CAP_SYS_RESOURCE); the OOM killer may pick the daemon");
        }
        if (posix.setpriority(Posix.PRIO_PROCESS, 0, NICE) != 0) {
            failed.add("nice " + NICE + ": " + Posix.describe(Posix.lastErrno()));
        }
        return failed;
    }

    /** Locks what is mapped now and everything mapped later, as it is first touched. */
    static void lockMemory(Posix posix) throws RamswapException {
        // not MCL_ONFAULT yet: a page first touched while serving a request (a deeper stack frame)
        // would be a fault that can wait in reclaim on this very daemon; lockLaterMappingsOnFault
        // turns it on once the warm-up has touched what serving touches
        if (posix.mlockall(Posix.MCL_CURRENT | Posix.MCL_FUTURE) != 0) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "mlockall failed: " + Posix.describe(Posix.lastErrno())
                            + "; the daemon's memory could be swapped out, even to itself. Run as root, or raise the memlock limit (ulimit -l)");
        }
    }

    /**
     * Once the daemon is warm, just before its swap goes on: what is resident stays locked, and
     * whatever is mapped from then on is locked as it is first touched, not populated whole
     * inside the {@code mmap} or {@code mprotect} that maps it. Under {@code MCL_FUTURE} alone a
     * thread started late (Hazelcast's, the common pool's, the process reaper) has its stack
     * populated inside {@code mprotect}, with the process's {@code mmap_lock} held for writing;
     * in a memory cgroup the daemon shares with its swappers that populate reclaims, writes swap
     * to this daemon and waits for it, and every thread that maps or faults in the process waits
     * behind it (seen in CI, docs/memory-pressure.md). On fault, a page is charged by the thread
     * that touches it, in a fault that holds only that mapping's lock. The serving thread's stack
     * and everything it touches were mapped, populated and touched by the warm-up, so it still
     * faults on nothing.
     */
    static void lockLaterMappingsOnFault(Posix posix) throws RamswapException {
        if (posix.mlockall(Posix.MCL_CURRENT | Posix.MCL_FUTURE | Posix.MCL_ONFAULT) != 0) {
            throw new RamswapException(
                    RamswapException.FAILED, "mlockall(MCL_ONFAULT) failed: " + Posix.describe(Posix.lastErrno()));
        }
    }

    /**
     * Takes the runtime's class image ({@code lib/modules}: 15 MiB cut down, 123 MiB for the whole JDK; the daemon reads a
     * few) out of the lock once the daemon is live, but only where PR_SET_IO_FLUSHER holds: then a
     * thread that faults a page of it back in reclaims without waiting on swap I/O, so the fault
     * is slow at worst and can never wait on this daemon. Without the flag (no CAP_SYS_RESOURCE)
     * such a fault could wait on a page being swapped to us, so everything stays locked.
     * Returns the bytes taken out of the lock, or 0.
     */
    static long unlockClassImage(Posix posix) {
        if (posix.prctl(Posix.PR_GET_IO_FLUSHER, 0, 0, 0, 0) != 1) {
            return 0;
        }
        Path image = Path.of(System.getProperty("java.home"), "lib", "modules");
        try {
            image = image.toRealPath(); // /proc/self/maps names the real path
        } catch (IOException e) {
            return 0;
        }
        long unlocked = 0;
        for (String line : read("/proc/self/maps").split("\n")) {
            // start-end perms offset dev inode path
            String[] f = line.split("\\s+", 6);
            if (f.length == 6
                    && f[1].startsWith("r")
                    && !f[1].contains("w")
                    && Path.of(f[5]).equals(image)) {
                String[] range = f[0].split("-");
                long start = Long.parseUnsignedLong(range[0], 16);
                long length = Long.parseUnsignedLong(range[1], 16) - start;
                if (posix.munlock(start, length) == 0) {
                    unlocked += length;
                }
            }
        }
        return unlocked;
    }

    /**
     * Refuses a configuration that cannot hold before anything starts. In the daemon itself the
     * heap is already resident (pre-touched at JVM start), so it is not asked for again.
     */
    static void checkFits(DaemonConfig config, boolean heapResident) throws RamswapException {
        long need = config.lockedBytes() - (heapResident ? config.heapBytes() : 0);
        long available = meminfo("MemAvailable:");
        if (available >= 0 && need > available) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "not enough memory: the daemon keeps " + Sizes.human(need)
                            + " locked in RAM (heap " + Sizes.human(config.heapBytes()) + ", pool reserve "
                            + Sizes.human(config.poolReserveBytes())
                            + ", JVM and cluster " + Sizes.human(DaemonConfig.RUNTIME_BYTES) + ") but only "
                            + Sizes.human(available)
                            + " is available; choose a smaller --size or --pool-reserve");
        }
        if (!hasCapability(14 /* CAP_IPC_LOCK */)) {
            long limit = memlockLimit();
            if (limit >= 0 && limit < need) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "the memlock limit (" + Sizes.human(limit) + ") is below the " + Sizes.human(need)
                                + " the daemon locks; run as root or raise it (ulimit -l, LimitMEMLOCK= in a systemd unit)");
            }
        }
    }

    /** Below this the kernel's free-page reserve may not hold the swap-out path's own allocations. */
    static final long MIN_FREE_KIB_ADVISED = 16384;

    /**
     * The loop device and FUSE allocate a little kernel memory for every page written, at the same
     * watermark as the processes that fault; when free memory hits it, the write that would free
     * memory waits for ever (a 512 MiB guest with the default 2.8 MiB hung so; with 16 MiB it
     * passes, docs/memory-pressure.md). Not set by ramswap: it is the machine's setting.
     */
    static Optional<String> headroomAdvice() {
        String v = readSysctl("vm/min_free_kbytes");
        if (!v.matches("[0-9]+") || Long.parseLong(v) >= MIN_FREE_KIB_ADVISED) {
            return Optional.empty();
        }
        return Optional.of(
                "vm.min_free_kbytes is " + v + " KiB: when memory runs out, the swap-out path itself may find "
                        + "no free page and hang; " + MIN_FREE_KIB_ADVISED
                        + " or more is advised (sysctl -w vm.min_free_kbytes="
                        + MIN_FREE_KIB_ADVISED + " vm.watermark_scale_factor=500)");
    }

    /** The first kernel whose page faults take a lock of the mapping they hit instead of the process's. */
    static final int[] PER_VMA_LOCKS = {6, 4};

    /**
     * Advice when the kernel takes the process's {@code mmap_lock} for every page fault (before
     * per-VMA fault locks, Linux 6.4): then any thread of the daemon that faults while memory is
     * short holds that lock through its reclaim, a thread that maps memory queues behind it, and
     * every later fault of the process, the JVM's own and the serving threads' safepoint polls
     * among them, queues behind that (seen in a 512 MiB guest on 6.1, docs/memory-pressure.md).
     */
    static Optional<String> kernelAdvice(String osVersion) {
        java.util.regex.Matcher m =
                java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)").matcher(osVersion);
        if (!m.find()) {
            return Optional.empty();
        }
        int major = Integer.parseInt(m.group(1));
        int minor = Integer.parseInt(m.group(2));
        if (major > PER_VMA_LOCKS[0] || (major == PER_VMA_LOCKS[0] && minor >= PER_VMA_LOCKS[1])) {
            return Optional.empty();
        }
        return Optional.of("kernel " + osVersion + " takes the process-wide mmap_lock on every page fault (per-VMA"
                + " fault locks came with Linux 6.4): when this machine runs short of memory, a thread of the daemon"
                + " that faults in reclaim can hold up the threads that serve swap until nothing moves; use Linux"
                + " 6.4 or later where the daemon shares the shortage (a small machine, a memory cgroup)");
    }

    /** This process's resident memory (VmRSS), in bytes; 0 when /proc does not say. */
    static long residentBytes() {
        return statusKib("VmRSS:") << 10;
    }

    /** One status line per protection: on or off, with the figure that shows it; {@code rssBytes} as just read. */
    static List<String> describe(boolean enabled, long classImageUnlocked, long rssBytes) {
        List<String> lines = new ArrayList<>();
        long locked = statusKib("VmLck:");
        lines.add("protection_mlock: "
                + (locked == 0
                        ? "off"
                        : "on (RSS " + Sizes.human(rssBytes) + ", "
                                + (classImageUnlocked == 0
                                        ? "all of it locked)"
                                        : "all locked but the JDK's class image of " + (classImageUnlocked >> 20)
                                                + " MiB: with PR_SET_IO_FLUSHER its faults cannot wait on swap)")));
        boolean pretouch =
                ManagementFactory.getRuntimeMXBean().getInputArguments().contains("-XX:+AlwaysPreTouch");
        lines.add("protection_heap_pretouch: " + (pretouch ? "on" : "off") + " (heap "
                + (Runtime.getRuntime().maxMemory() >> 20) + " MiB fixed)");
        int[] flusher = ioFlusherThreads();
        lines.add("protection_io_flusher: " + (flusher[0] == flusher[1] ? "on" : flusher[0] == 0 ? "off" : "partial")
                + " (" + flusher[0] + " of " + flusher[1] + " threads)");
        String adj = read("/proc/self/oom_score_adj");
        lines.add("protection_oom_score_adj: " + ("-1000".equals(adj) ? "on" : "off") + " (" + adj + ")");
        lines.add("protection_enabled: " + (enabled ? "yes" : "no (--no-protections, for tests only)"));
        return lines;
    }

    private static int[] ioFlusherThreads() {
        int with = 0;
        int all = 0;
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                String stat = read(t.resolve("stat").toString());
                // fields after the ")" of comm: state ppid pgrp session tty tpgid flags ...
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                if (f.length > 6) {
                    all++;
                    if ((Long.parseLong(f[6]) & PF_MEMALLOC_NOIO) != 0) {
                        with++;
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            return new int[] {0, 0};
        }
        return new int[] {with, all};
    }

    static long meminfo(String key) {
        for (String line : read("/proc/meminfo").split("\n")) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        return -1;
    }

    private static long statusKib(String key) {
        for (String line : read("/proc/self/status").split("\n")) {
            if (line.startsWith(key)) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    private static boolean hasCapability(int cap) {
        for (String line : read("/proc/self/status").split("\n")) {
            if (line.startsWith("CapEff:")) {
                return (Long.parseUnsignedLong(line.substring(7).strip(), 16) & (1L << cap)) != 0;
            }
        }
        return false;
    }

    private static long memlockLimit() {
        for (String line : read("/proc/self/limits").split("\n")) {
            if (line.startsWith("Max locked memory")) {
                String soft =
                        line.substring("Max locked memory".length()).strip().split("\\s+")[0];
                return soft.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(soft);
            }
        }
        return -1;
    }

    /**
     * A sysctl's value, read in one call: the kernel answers a read at a non-zero offset with end
     * of file, and Files.readString reads a zero-sized file one byte first.
     */
    static String readSysctl(String name) {
        try (var in = Files.newInputStream(Path.of("/proc/sys", name))) {
            byte[] buf = new byte[256];
            int n = in.read(buf);
            return n <= 0 ? "" : new String(buf, 0, n, java.nio.charset.StandardCharsets.US_ASCII).strip();
        } catch (IOException e) {
            return "";
        }
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path)).strip();
        } catch (IOException e) {
            return "";
        }
    }
}
