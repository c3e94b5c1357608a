package ramswap.e2e;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Random;

/**
 * Drives a daemon's swap file directly, with direct I/O, where a test needs more than the one node
 * whose swap area the machine's workloads can use (swap is global): writes pages whose contents
 * follow from a seed and the block number, and verifies them. Only for daemons started without
 * swapon, whose swap file no kernel swap area uses.
 */
final class PageDriver {

    static final int PAGE = 4096;
    private static final int BATCH_PAGES = 16;

    private final Path file;
    private final long seed;

    PageDriver(Path file, long seed) {
        this.file = file;
        this.seed = seed;
    }

    /** Results of a verification: pages that read back wrong, and pages whose read failed (EIO). */
    record Check(long pages, long mismatches, long failedReads) {}

    /** Contents of block {@code block}: text-like, so that it compresses as swapped pages do. */
    void fill(ByteBuffer page, long block) {
        Random r = new Random(seed * 1_000_003L + block);
        page.clear();
        String[] words = {"page ", "swap ", "remote ", "node ", "block ", "memory "};
        while (page.hasRemaining()) {
            byte[] w =
                    (words[r.nextInt(words.length)] + block + " ").getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            page.put(w, 0, Math.min(w.length, page.remaining()));
        }
        page.flip();
    }

    /** Writes blocks {@code first .. first+count-1}, 16 at a time. */
    void write(long first, long count) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(BATCH_PAGES * PAGE + PAGE).alignedSlice(PAGE);
        ByteBuffer page = ByteBuffer.allocate(PAGE);
        try (FileChannel ch = open(StandardOpenOption.WRITE)) {
            for (long b = first; b < first + count; b += BATCH_PAGES) {
                int n = (int) Math.min(BATCH_PAGES, first + count - b);
                buf.clear();
                for (int i = 0; i < n; i++) {
                    fill(page, b + i);
                    buf.put(page);
                }
                buf.flip();
                long at = b * PAGE;
                while (buf.hasRemaining()) {
                    at += ch.write(buf, at);
                }
            }
        }
    }

    /** Reads blocks {@code first .. first+count-1} one at a time and compares them. */
    Check verify(long first, long count) throws IOException {
        ByteBuffer buf = ByteBuffer.allocateDirect(2 * PAGE)
                .alignedSlice(PAGE)
                .slice(0, PAGE); // exactly one page, whatever the alignment
        ByteBuffer want = ByteBuffer.allocate(PAGE);
        long mismatches = 0;
        long failed = 0;
        try (FileChannel ch = open(StandardOpenOption.READ)) {
            for (long b = first; b < first + count; b++) {
                buf.clear();
                try {
                    while (buf.hasRemaining()) {
                        if (ch.read(buf, b * PAGE + buf.position()) < 0) {
                            throw new IOException("end of file at block " + b);
                        }
                    }
                } catch (IOException e) {
                    failed++;
                    continue;
                }
                buf.flip();
                fill(want, b);
                if (!buf.equals(want)) {
                    mismatches++;
                }
            }
        }
        return new Check(count, mismatches, failed);
    }

    private FileChannel open(StandardOpenOption mode) throws IOException {
        return FileChannel.open(file, mode, com.sun.nio.file.ExtendedOpenOption.DIRECT);
    }
}
