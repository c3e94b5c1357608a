package ramswap.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import ramswap.store.LocalPool;
import ramswap.sys.Posix;

/**
 * The room left before a charge to the daemon's memory cgroup must reclaim: the least, over that
 * cgroup and every ancestor with a limit below the machine's memory, of its limit minus its usage
 * (cgroup v1 {@code memory.limit_in_bytes} and {@code memory.usage_in_bytes}, v2 {@code
 * memory.max} and {@code memory.current}). A charge counts against every ancestor, so a parent's
 * limit (a systemd slice's {@code MemoryMax}, the cgroup of a container) stops it as its own
 * does. Read by the pool's grower only; the files stay open and are read with {@code pread} into
 * one buffer, so that a look allocates nothing the cgroup would charge (a kernfs file keeps its
 * read buffer while it is open).
 */
final class CgroupMargin implements LocalPool.MarginProbe {

    /** The limits change rarely: read again every this many looks. */
    private static final int LIMIT_EVERY = 256;

    private final Posix posix;
    private final int[] usageFds;
    private final int[] limitFds;
    private final long[] limits;
    private final byte[] buf = new byte[32];
    private int looks;

    private CgroupMargin(Posix posix, int[] usageFds, int[] limitFds, long[] limits) {
        this.posix = posix;
        this.usageFds = usageFds;
        this.limitFds = limitFds;
        this.limits = limits;
    }

    /**
     * The probe for this process's memory cgroup and its ancestors, or empty when none has a limit
     * below the machine's memory (then a charge meets the machine's shortage, not a cgroup's) or
     * their files cannot be read.
     */
    static Optional<LocalPool.MarginProbe> forThisProcess(Posix posix, long memTotalBytes) {
        return ownCgroup().flatMap(own -> forCgroups(posix, own, memTotalBytes));
    }

    /** The probe for the cgroups of {@code levels} whose limit is below {@code memTotalBytes}. */
    static Optional<LocalPool.MarginProbe> forCgroups(Posix posix, Levels levels, long memTotalBytes) {
        int max = levels.dirs().size();
        int[] usageFds = new int[max];
        int[] limitFds = new int[max];
        long[] limits = new long[max];
        byte[] buf = new byte[32];
        int n = 0;
        for (Path dir : levels.dirs()) {
            int usage = posix.open(dir.resolve(levels.usageFile()).toString(), Posix.O_RDONLY, 0);
            int limit = posix.open(dir.resolve(levels.limitFile()).toString(), Posix.O_RDONLY, 0);
            long l = limit < 0 ? -1 : readNumber(posix, limit, buf);
            if (usage >= 0 && readNumber(posix, usage, buf) >= 0 && l > 0 && l < memTotalBytes) {
                usageFds[n] = usage;
                limitFds[n] = limit;
                limits[n++] = l;
            } else {
                closeQuietly(posix, usage);
                closeQuietly(posix, limit);
            }
        }
        if (n == 0) {
            return Optional.empty();
        }
        return Optional.of(new CgroupMargin(
                posix, Arrays.copyOf(usageFds, n), Arrays.copyOf(limitFds, n), Arrays.copyOf(limits, n)));
    }

    /** Cgroup directories, innermost first, and the names of their usage and limit files. */
    record Levels(List<Path> dirs, String usageFile, String limitFile) {

        /** {@code path} (as /proc/self/cgroup gives it) under {@code root} and each ancestor below root. */
        static Levels of(Path root, String path, String usageFile, String limitFile) {
            List<Path> dirs = new ArrayList<>();
            Path rel = Path.of(path.startsWith("/") ? path.substring(1) : path);
            for (Path p = rel; p != null && !p.toString().isEmpty(); p = p.getParent()) {
                dirs.add(root.resolve(p));
            }
            return new Levels(dirs, usageFile, limitFile);
        }
    }

    /** This process's memory cgroup, v1 or v2, with its ancestors. */
    private static Optional<Levels> ownCgroup() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"), StandardCharsets.US_ASCII)) {
                String[] f = line.split(":", 3);
                if (f.length < 3) {
                    continue;
                }
                if (Arrays.asList(f[1].split(",")).contains("memory")) {
                    return Optional.of(Levels.of(
                            Path.of("/sys/fs/cgroup/memory"), f[2], "memory.usage_in_bytes", "memory.limit_in_bytes"));
                }
                Path v2 = Path.of("/sys/fs/cgroup");
                if (f[0].equals("0")
                        && f[1].isEmpty()
                        && Files.exists(v2.resolve(f[2].substring(1)).resolve("memory.max"))) {
                    return Optional.of(Levels.of(v2, f[2], "memory.current", "memory.max"));
                }
            }
        } catch (IOException | RuntimeException e) {
            // no cgroup to read: no probe
        }
        return Optional.empty();
    }

    @Override
    public long marginBytes() {
        boolean reread = ++looks % LIMIT_EVERY == 0;
        long least = UNKNOWN;
        for (int i = 0; i < limits.length; i++) {
            if (reread) {
                long l = readNumber(posix, limitFds[i], buf);
                limits[i] = l > 0 ? l : UNKNOWN; // "max" (v2) reads as -1
            }
            if (limits[i] == UNKNOWN) {
                continue;
            }
            long usage = readNumber(posix, usageFds[i], buf);
            if (usage < 0) {
                return UNKNOWN;
            }
            least = Math.min(least, Math.max(0, limits[i] - usage));
        }
        return least;
    }

    /** The decimal number at the start of a file, or -1 (unreadable, or "max"). */
    private static long readNumber(Posix posix, int fd, byte[] buf) {
        long n = posix.pread(fd, buf, buf.length, 0);
        if (n <= 0) {
            return -1;
        }
        long v = 0;
        int i = 0;
        for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++) {
            v = v * 10 + (buf[i] - '0');
        }
        return i == 0 ? -1 : v;
    }

    private static void closeQuietly(Posix posix, int fd) {
        if (fd >= 0) {
            posix.close(fd);
        }
    }
}
