package ramswap.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import ramswap.store.LocalPool;
import ramswap.sys.Posix;

/**
 * The room left in the daemon's own memory cgroup before a charge there must reclaim: its limit
 * minus its usage (cgroup v1 {@code memory.limit_in_bytes} and {@code memory.usage_in_bytes}, v2
 * {@code memory.max} and {@code memory.current}). Read by the pool's grower only; the files stay
 * open and are read with {@code pread} into one buffer, so that a look allocates nothing the
 * cgroup would charge (a kernfs file keeps its read buffer while it is open).
 */
final class CgroupMargin implements LocalPool.MarginProbe {

    /** The limit changes rarely: read again every this many looks. */
    private static final int LIMIT_EVERY = 256;

    private final Posix posix;
    private final int usageFd;
    private final int limitFd;
    private final byte[] buf = new byte[32];
    private long limit;
    private int looks;

    private CgroupMargin(Posix posix, int usageFd, int limitFd) {
        this.posix = posix;
        this.usageFd = usageFd;
        this.limitFd = limitFd;
        this.limit = readNumber(limitFd);
    }

    /**
     * The probe for this process's memory cgroup, or empty when it has no limit below the
     * machine's memory (then a charge meets the machine's shortage, not the cgroup's) or its files
     * cannot be read.
     */
    static Optional<LocalPool.MarginProbe> forThisProcess(Posix posix, long memTotalBytes) {
        Optional<Path[]> files = files();
        if (files.isEmpty()) {
            return Optional.empty();
        }
        int usage = posix.open(files.get()[0].toString(), Posix.O_RDONLY, 0);
        int limitFd = posix.open(files.get()[1].toString(), Posix.O_RDONLY, 0);
        if (usage < 0 || limitFd < 0) {
            closeQuietly(posix, usage);
            closeQuietly(posix, limitFd);
            return Optional.empty();
        }
        CgroupMargin m = new CgroupMargin(posix, usage, limitFd);
        if (m.limit <= 0 || m.limit >= memTotalBytes || m.readNumber(usage) < 0) {
            closeQuietly(posix, usage);
            closeQuietly(posix, limitFd);
            return Optional.empty();
        }
        return Optional.of(m);
    }

    /** The usage and limit files of this process's memory cgroup, v1 or v2. */
    private static Optional<Path[]> files() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/cgroup"), StandardCharsets.US_ASCII)) {
                String[] f = line.split(":", 3);
                if (f.length < 3) {
                    continue;
                }
                boolean memoryV1 = java.util.Arrays.asList(f[1].split(",")).contains("memory");
                if (memoryV1) {
                    Path dir = Path.of("/sys/fs/cgroup/memory" + f[2]);
                    return Optional.of(
                            new Path[] {dir.resolve("memory.usage_in_bytes"), dir.resolve("memory.limit_in_bytes")});
                }
                Path v2 = Path.of("/sys/fs/cgroup" + f[2]);
                if (f[0].equals("0") && f[1].isEmpty() && Files.exists(v2.resolve("memory.max"))) {
                    return Optional.of(new Path[] {v2.resolve("memory.current"), v2.resolve("memory.max")});
                }
            }
        } catch (IOException | RuntimeException e) {
            // no cgroup to read: no probe
        }
        return Optional.empty();
    }

    @Override
    public long marginBytes() {
        if (++looks % LIMIT_EVERY == 0) {
            long l = readNumber(limitFd);
            limit = l > 0 ? l : UNKNOWN; // "max" (v2) reads as -1
        }
        long usage = readNumber(usageFd);
        if (usage < 0 || limit == UNKNOWN) {
            return UNKNOWN;
        }
        return Math.max(0, limit - usage);
    }

    /** The decimal number at the start of a file, or -1 (unreadable, or "max"). */
    private long readNumber(int fd) {
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
