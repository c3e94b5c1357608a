package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.management.ManagementFactory;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ramswap.sys.Posix;

/**
 * The data path allocates nothing per block: counted by the JVM's per-thread allocation counter
 * (exact bytes, not time), after a warm-up that creates the thread's scratch buffers.
 */
class HotPathAllocationTest {

    @Test
    void shouldAllocateNothingWhileWritingReadingAndDiscardingBlocks() {
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long size = 2048L * BlockCodec.BLOCK_SIZE;
        try (LocalPool pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0)) {
            SwapStore store = new SwapStore(size, pool, new Counters());
            Random r = new Random(Pages.seed("HotPathAllocation"));
            byte[][] pages = new byte[64][];
            for (int i = 0; i < pages.length; i++) {
                pages[i] = Pages.anyKind(r);
            }
            byte[] request = new byte[32 * BlockCodec.BLOCK_SIZE];
            long[] offsets = new long[4096];
            for (int i = 0; i < offsets.length; i++) {
                offsets[i] = r.nextInt(2048 - 32) * (long) BlockCodec.BLOCK_SIZE;
            }
            for (int round = 0; round < 5; round++) {
                exercise(store, pages, request, offsets); // warm-up: scratch buffers, JIT, pool slabs
            }
            long before = threads.getThreadAllocatedBytes(Thread.currentThread().getId());
            exercise(store, pages, request, offsets);
            long allocated =
                    threads.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
            assertEquals(0, allocated, "bytes allocated on the hot path");
        }
    }

    private static void exercise(SwapStore store, byte[][] pages, byte[] request, long[] offsets) {
        for (int i = 0; i < offsets.length; i++) {
            byte[] page = pages[i % pages.length];
            store.write(page, 0, offsets[i], page.length);
            store.read(request, 0, offsets[(i * 7) % offsets.length], request.length);
            store.write(
                    request, 0, offsets[(i * 3) % offsets.length] + 100, 3 * BlockCodec.BLOCK_SIZE); // partial blocks
            if (i % 16 == 0) {
                store.discard(offsets[(i * 5) % offsets.length], 8 * BlockCodec.BLOCK_SIZE);
            }
        }
    }
}
