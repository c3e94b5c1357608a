package ramswap.cli;

import java.nio.file.Path;
import ramswap.sys.Posix;

/**
 * For tests only ({@code -Dramswap.test.lockBait=true}): maps the first page of the daemon's own
 * swap file, private and read-only, and makes it not resident, neither in the daemon's page
 * table nor in the page cache. A reader of /proc/PID/mem at that address then holds the daemon's
 * mmap_lock while it waits for the daemon to answer the read, which lets a test make a daemon
 * stuck on its own mmap_lock at will, as reclaim did by chance (docs/memory-pressure.md).
 */
final class LockBait {

    static final String PROPERTY = "ramswap.test.lockBait";
    private static final int PAGE = 4096;

    private LockBait() {}

    /** Maps the page when the property asks for it; returns a line for the log, or null. */
    static String setIfAsked(Posix posix, Path swapFile) {
        if (!Boolean.getBoolean(PROPERTY)) {
            return null;
        }
        int fd = posix.open(swapFile.toString(), Posix.O_RDONLY, 0);
        if (fd < 0) {
            return "test: lock bait: cannot open " + swapFile + ": " + Posix.describe(Posix.lastErrno());
        }
        try {
            // under mlockall(MCL_FUTURE) the mapping is populated now, through the serving thread
            long addr = posix.mmap(null, PAGE, Posix.PROT_READ, Posix.MAP_PRIVATE, fd, 0);
            if (addr == Posix.MAP_FAILED || addr == 0) {
                return "test: lock bait: mmap failed: " + Posix.describe(Posix.lastErrno());
            }
            posix.munlock(addr, PAGE);
            posix.madvise(addr, PAGE, Posix.MADV_DONTNEED);
            int advice = posix.posix_fadvise(fd, 0, PAGE, Posix.POSIX_FADV_DONTNEED);
            return "test: lock bait: page 0 of the swap file mapped at 0x" + Long.toHexString(addr) + ", not resident"
                    + (advice == 0 ? "" : " (posix_fadvise: " + Posix.describe(advice) + ")");
        } finally {
            posix.close(fd);
        }
    }
}
