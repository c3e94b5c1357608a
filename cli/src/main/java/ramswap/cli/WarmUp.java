package ramswap.cli;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import ramswap.sys.Posix;

/**
 * Runs the serving path (FUSE, codec, pool) before swap is on, through the mounted swap file, so
 * that the JIT compiles it while memory is plentiful. Compiled later, under pressure, the compiler
 * would allocate in the middle of a shortage, and a compiler thread waiting in reclaim can hold
 * up the safepoint the serving thread waits at (seen in the 512 MiB guest). Every block written
 * is read back and compared, so this is also a self-check of the whole path; the region is
 * punched afterwards, leaving the store empty.
 *
 * <p>A write the pool refuses (ENOSPC: its reserve empty while the grower refills it) is written
 * again after a pause, as the kernel would, for a bounded time; the region is at most half the
 * pool's limit, so that a small pool is not filled by the warm-up itself.
 */
final class WarmUp {

    static final long REGION_OFFSET = 1L << 20;
    static final int REGION_BLOCKS = 4096; // 16 MiB
    static final int ROUNDS = 6; // about 18,000 requests: past the JIT's thresholds for the per-request code
    private static final int BLOCK = 4096;
    private static final int RUN_BLOCKS = 8; // the loop driver sends runs of a few blocks
    private static final int ENOSPC = 28;
    private static final long RETRY_PAUSE_MS = 5;
    private static final long RETRY_FOR_NANOS = 30_000_000_000L;

    private WarmUp() {}

    /** Returns the number of requests made; throws when a block comes back different. */
    static int run(Posix posix, Path swapFile, long sizeBytes, long poolLimitBytes) throws RamswapException {
        long region = Math.min(Math.min((long) REGION_BLOCKS * BLOCK, poolLimitBytes / 2), sizeBytes - REGION_OFFSET)
                / (RUN_BLOCKS * BLOCK)
                * (RUN_BLOCKS * BLOCK);
        if (region <= 0) {
            return 0;
        }
        int fd = posix.open(swapFile.toString(), Posix.O_RDWR, 0);
        if (fd < 0) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "warm-up: cannot open " + swapFile + ": " + Posix.describe(Posix.lastErrno()));
        }
        int requests = 0;
        try {
            byte[] run = new byte[RUN_BLOCKS * BLOCK];
            byte[] back = new byte[RUN_BLOCKS * BLOCK];
            for (int round = 0; round < ROUNDS; round++) {
                for (long off = 0; off < region; off += run.length) {
                    long at = REGION_OFFSET + off;
                    fill(run, at, round);
                    // single blocks for the first half of each run, the rest as one request
                    for (int b = 0; b < RUN_BLOCKS / 2; b++) {
                        write(posix, fd, Arrays.copyOfRange(run, b * BLOCK, (b + 1) * BLOCK), at + (long) b * BLOCK);
                        requests++;
                    }
                    int rest = (RUN_BLOCKS / 2) * BLOCK;
                    write(posix, fd, Arrays.copyOfRange(run, rest, run.length), at + rest);
                    requests++;
                    io(posix.pread(fd, back, back.length, at), back.length, "read", at);
                    requests++;
                    if (!Arrays.equals(run, back)) {
                        throw new RamswapException(
                                RamswapException.FAILED,
                                "warm-up: the swap file returned other bytes than were written at offset " + at
                                        + "; the store is not safe to swap to");
                    }
                }
            }
            if (posix.fallocate(fd, Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, REGION_OFFSET, region)
                    != 0) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "warm-up: cannot punch the region it wrote: " + Posix.describe(Posix.lastErrno()));
            }
            return requests;
        } finally {
            posix.close(fd);
        }
    }

    /** A write, again after a pause while the pool refuses it for want of room (bounded). */
    private static void write(Posix posix, int fd, byte[] data, long at) throws RamswapException {
        long deadline = System.nanoTime() + RETRY_FOR_NANOS;
        long done;
        while ((done = posix.pwrite(fd, data, data.length, at)) < 0
                && Posix.lastErrno() == ENOSPC
                && System.nanoTime() < deadline) {
            try {
                Thread.sleep(RETRY_PAUSE_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        io(done, data.length, "write", at);
    }

    private static void io(long done, long expected, String what, long at) throws RamswapException {
        if (done != expected) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "warm-up: " + what + " at offset " + at + " returned " + done
                            + (done < 0 ? " (" + Posix.describe(Posix.lastErrno()) + ")" : "") + " instead of "
                            + expected);
        }
    }

    private static final byte[] WORDS =
            "the swap daemon keeps every page it is given and hands it back intact when asked "
                    .getBytes(StandardCharsets.US_ASCII);

    /** The mix a swap device sees: text-like blocks, same-filled blocks and blocks that do not compress. */
    private static void fill(byte[] run, long at, int round) {
        long x = at * 0x9E3779B97F4A7C15L + round;
        for (int b = 0; b < RUN_BLOCKS; b++) {
            int base = b * BLOCK;
            switch ((int) ((at / BLOCK + b + round) % 3)) {
                case 0 -> Arrays.fill(run, base, base + BLOCK, (byte) (b == 0 ? 0 : at >>> 12));
                case 1 -> {
                    for (int i = 0; i < BLOCK; i++) {
                        run[base + i] = WORDS[(int) ((i + at / BLOCK * 7) % WORDS.length)];
                    }
                }
                default -> {
                    for (int i = 0; i < BLOCK; i++) {
                        x ^= x << 13;
                        x ^= x >>> 7;
                        x ^= x << 17;
                        run[base + i] = (byte) x;
                    }
                }
            }
        }
    }
}
