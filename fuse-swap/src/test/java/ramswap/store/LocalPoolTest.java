package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

class LocalPoolTest {

    private static final Posix POSIX = Posix.load();
    private static final long MIB = 1 << 20;

    private record Held(long handle, byte[] data) {
    }

    @Test
    void shouldKeepEveryAllocationIntactThroughRandomAllocAndFree() {
        Random r = new Random(Pages.seed("LocalPool.random"));
        try (LocalPool pool = new LocalPool(POSIX, 64 * MIB, 64 * MIB, 0)) {
            List<Held> held = new ArrayList<>();
            for (int i = 0; i < 50_000; i++) {
                if (!held.isEmpty() && r.nextInt(3) == 0) {
                    Held h = held.remove(r.nextInt(held.size()));
                    byte[] back = new byte[h.data.length];
                    OffHeap.copyFromNative(pool.address(h.handle), back, 0, back.length);
                    assertArrayEquals(h.data, back, "allocation " + h.handle + " changed");
                    pool.free(h.handle, h.data.length);
                } else {
                    byte[] data = new byte[1 + r.nextInt(BlockCodec.BLOCK_SIZE)];
                    r.nextBytes(data);
                    long handle = pool.allocate(data.length);
                    assertTrue(handle >= 0, "pool of 64 MiB full");
                    OffHeap.copyToNative(data, 0, pool.address(handle), data.length);
                    held.add(new Held(handle, data));
                }
            }
            for (Held h : held) {
                byte[] back = new byte[h.data.length];
                OffHeap.copyFromNative(pool.address(h.handle), back, 0, back.length);
                assertArrayEquals(h.data, back);
                pool.free(h.handle, h.data.length);
            }
            // only the one empty slab per class that is kept may remain
            assertTrue(pool.mappedBytes() <= (long) LocalPool.CLASSES * LocalPool.SLAB_BYTES);
        }
    }

    @Test
    void shouldGiveEmptySlabsBackToTheKernel() {
        try (LocalPool pool = new LocalPool(POSIX, 64 * MIB, 64 * MIB, 0)) {
            List<Long> handles = new ArrayList<>();
            for (int i = 0; i < 8 * 1024; i++) { // 32 MiB of raw pages
                handles.add(pool.allocate(BlockCodec.BLOCK_SIZE));
            }
            assertEquals(32 * MIB, pool.mappedBytes());
            for (long h : handles) {
                pool.free(h, BlockCodec.BLOCK_SIZE);
            }
            assertEquals(LocalPool.SLAB_BYTES, pool.mappedBytes(), "one empty slab kept, the rest unmapped");
        }
    }

    @Test
    void shouldRefuseAllocationsBeyondTheLimitAndCountThem() {
        try (LocalPool pool = new LocalPool(POSIX, 4 * MIB, 1 * MIB, 0)) {
            int got = 0;
            while (pool.allocate(BlockCodec.BLOCK_SIZE) >= 0) {
                got++;
                assertTrue(got <= 256, "limit ignored");
            }
            assertEquals(256, got);
            assertEquals(1, pool.limitHits());
            pool.setLimitBytes(2 * MIB);
            assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0, "raised limit lets the pool grow");
        }
    }

    @Test
    void shouldServeFromTheReserveAndKeepItMapped() {
        try (LocalPool pool = new LocalPool(POSIX, 16 * MIB, 16 * MIB, 2 * MIB)) {
            assertEquals(2 * MIB, pool.mappedBytes());
            long h = pool.allocate(100);
            assertEquals(2 * MIB, pool.mappedBytes(), "first slab came from the reserve");
            pool.free(h, 100);
            assertEquals(2 * MIB, pool.mappedBytes());
        }
    }

    @Test
    void shouldRefuseAFreeOfWhatItDidNotGive() {
        try (LocalPool pool = new LocalPool(POSIX, 4 * MIB, 4 * MIB, 0)) {
            long h = pool.allocate(100);
            assertThrows(IllegalStateException.class, () -> pool.free(h, 3000));
        }
    }
}
