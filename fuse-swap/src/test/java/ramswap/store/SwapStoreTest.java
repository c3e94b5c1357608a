package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import ramswap.sys.Posix;

class SwapStoreTest {

    private static final int BLOCKS = 512;
    private static final long SIZE = (long) BLOCKS * BlockCodec.BLOCK_SIZE;
    private final LocalPool pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0);
    private final Counters counters = new Counters();
    private final SwapStore store = new SwapStore(SIZE, pool, counters);

    @AfterEach
    void closePool() {
        pool.close();
    }

    @Test
    void shouldMatchAPlainByteArrayThroughRandomWritesReadsAndDiscards() {
        Random r = new Random(Pages.seed("SwapStore.reference"));
        byte[] reference = new byte[(int) SIZE];
        for (int op = 0; op < 20_000; op++) {
            long offset = r.nextInt(BLOCKS) * (long) BlockCodec.BLOCK_SIZE + (r.nextBoolean() ? 0 : r.nextInt(BlockCodec.BLOCK_SIZE));
            int length = (int) Math.min(SIZE - offset, 1 + r.nextInt(r.nextBoolean() ? BlockCodec.BLOCK_SIZE : 16 * BlockCodec.BLOCK_SIZE));
            switch (r.nextInt(3)) {
                case 0 -> {
                    byte[] data = new byte[length];
                    for (int i = 0; i < length; i += BlockCodec.BLOCK_SIZE) {
                        byte[] page = Pages.anyKind(r);
                        System.arraycopy(page, 0, data, i, Math.min(page.length, length - i));
                    }
                    assertEquals(length, store.write(data, 0, offset, length));
                    System.arraycopy(data, 0, reference, (int) offset, length);
                }
                case 1 -> {
                    byte[] got = new byte[length + 3];
                    assertTrue(store.read(got, 3, offset, length));
                    assertArrayEquals(Arrays.copyOfRange(reference, (int) offset, (int) offset + length),
                            Arrays.copyOfRange(got, 3, 3 + length), "op " + op + " read at " + offset + "+" + length);
                }
                default -> {
                    assertTrue(store.discard(offset, length));
                    Arrays.fill(reference, (int) offset, (int) (offset + length), (byte) 0);
                }
            }
        }
        byte[] all = new byte[(int) SIZE];
        for (int at = 0; at < SIZE; at += SwapStore.MAX_REQUEST_BYTES) {
            int n = (int) Math.min(SwapStore.MAX_REQUEST_BYTES, SIZE - at);
            assertTrue(store.read(all, at, at, n));
        }
        assertArrayEquals(reference, all);
        assertCountersAgreeWithTable();
    }

    @Test
    void shouldFreeEverythingWhenTheWholeFileIsDiscarded() {
        Random r = new Random(Pages.seed("SwapStore.discardAll"));
        for (int b = 0; b < BLOCKS; b++) {
            byte[] page = Pages.anyKind(r);
            store.write(page, 0, (long) b * BlockCodec.BLOCK_SIZE, page.length);
        }
        assertEquals(BLOCKS, counters.get(Counter.STORED_PAGES));
        assertTrue(store.discard(0, SIZE + 12345)); // clipped to the file
        assertEquals(0, counters.get(Counter.STORED_PAGES));
        assertEquals(0, counters.get(Counter.PERS_ZPAGES));
        assertEquals(0, counters.get(Counter.PERS_ZBYTES));
        assertEquals(0, counters.get(Counter.ZERO_FILLED_PAGES));
        assertEquals(BLOCKS, counters.get(Counter.STORED_PAGES_MAX));
        assertTrue(pool.mappedBytes() <= (long) LocalPool.CLASSES * LocalPool.SLAB_BYTES);
    }

    @Test
    void shouldKeepSameFilledPagesInTheTableWithoutPoolMemory() {
        byte[] page = new byte[BlockCodec.BLOCK_SIZE];
        BlockCodec.fill(page, 0, 0x0102030405060708L);
        store.write(page, 0, 0, page.length);
        store.write(new byte[BlockCodec.BLOCK_SIZE], 0, BlockCodec.BLOCK_SIZE, BlockCodec.BLOCK_SIZE);
        assertEquals(2, counters.get(Counter.ZERO_FILLED_PAGES));
        assertEquals(0, counters.get(Counter.PERS_ZPAGES));
        assertEquals(0, pool.mappedBytes());
        byte[] back = new byte[BlockCodec.BLOCK_SIZE];
        store.read(back, 0, 0, back.length);
        assertArrayEquals(page, back);
    }

    @Test
    void shouldStopAtTheFirstBlockThePoolCannotHoldAndCountIt() {
        LocalPool tiny = new LocalPool(Posix.load(), LocalPool.SLAB_BYTES, LocalPool.SLAB_BYTES, 0);
        try {
            SwapStore s = new SwapStore(SIZE, tiny, counters);
            Random r = new Random(Pages.seed("SwapStore.full"));
            int perSlab = LocalPool.SLAB_BYTES / BlockCodec.BLOCK_SIZE;
            byte[] data = new byte[(perSlab + 2) * BlockCodec.BLOCK_SIZE];
            r.nextBytes(data);
            assertEquals(perSlab * BlockCodec.BLOCK_SIZE, s.write(data, 0, 0, data.length));
            s.refreshGauges();
            assertEquals(1, counters.get(Counter.POOL_LIMIT_HIT));
        } finally {
            tiny.close();
        }
    }

    @Test
    void shouldRefuseRequestsOutsideTheFile() {
        byte[] b = new byte[8192];
        assertThrows(IllegalArgumentException.class, () -> store.write(b, 0, SIZE - 4096, 8192));
        assertThrows(IllegalArgumentException.class, () -> store.read(b, 0, -1, 10));
        assertThrows(IllegalArgumentException.class, () -> new SwapStore(4097, pool, counters));
    }

    private void assertCountersAgreeWithTable() {
        long same = 0;
        long local = 0;
        for (int b = 0; b < BLOCKS; b++) {
            byte[] page = new byte[BlockCodec.BLOCK_SIZE];
            store.read(page, 0, (long) b * BlockCodec.BLOCK_SIZE, page.length);
        }
        // recount from gauges: every stored page is either same-filled or in the pool
        same = counters.get(Counter.ZERO_FILLED_PAGES);
        local = counters.get(Counter.PERS_ZPAGES);
        assertEquals(counters.get(Counter.STORED_PAGES), same + local);
        assertTrue(counters.get(Counter.PERS_ZBYTES) <= local * BlockCodec.BLOCK_SIZE);
    }
}
