package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import ramswap.move.Compactor;
import ramswap.move.Moves;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

class SwapStoreTest {

    private static final int PAGE = BlockCodec.BLOCK_SIZE;
    private static final int BLOCKS = 512;
    private static final long SIZE = (long) BLOCKS * PAGE;
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
            long offset = r.nextInt(BLOCKS) * (long) PAGE + (r.nextBoolean() ? 0 : r.nextInt(PAGE));
            int length = (int) Math.min(SIZE - offset, 1 + r.nextInt(r.nextBoolean() ? PAGE : 16 * PAGE));
            switch (r.nextInt(3)) {
                case 0 -> {
                    byte[] data = pagesOfAnyKind(r, length);
                    assertEquals(IoResult.DONE, store.write(data, 0, offset, length));
                    System.arraycopy(data, 0, reference, (int) offset, length);
                }
                case 1 -> {
                    byte[] got = new byte[length + 3];
                    assertEquals(IoResult.DONE, store.read(got, 3, offset, length));
                    assertArrayEquals(
                            Arrays.copyOfRange(reference, (int) offset, (int) offset + length),
                            Arrays.copyOfRange(got, 3, 3 + length),
                            "op " + op + " read at " + offset + "+" + length);
                }
                default -> {
                    assertEquals(IoResult.DONE, store.discard(offset, length));
                    Arrays.fill(reference, (int) offset, (int) (offset + length), (byte) 0);
                }
            }
        }
        assertArrayEquals(reference, readAll(store));
        assertCountersAgreeWithTable(store, counters);
    }

    @Test
    void shouldFreeEverythingWhenTheWholeFileIsDiscarded() {
        Random r = new Random(Pages.seed("SwapStore.discardAll"));
        for (int b = 0; b < BLOCKS; b++) {
            byte[] page = Pages.anyKind(r);
            store.write(page, 0, (long) b * PAGE, page.length);
        }
        assertEquals(BLOCKS, counters.get(Counter.STORED_PAGES));
        assertEquals(IoResult.DONE, store.discard(0, SIZE + 12345)); // clipped to the file
        assertEquals(0, counters.get(Counter.STORED_PAGES));
        assertEquals(0, counters.get(Counter.PERS_ZPAGES));
        assertEquals(0, counters.get(Counter.PERS_ZBYTES));
        assertEquals(0, counters.get(Counter.ZERO_FILLED_PAGES));
        assertEquals(BLOCKS, counters.get(Counter.STORED_PAGES_MAX));
        assertTrue(pool.mappedBytes() <= (long) LocalPool.CLASSES * LocalPool.SLAB_BYTES);
        assertCountersAgreeWithTable(store, counters);
    }

    @Test
    void shouldDiscardToTheEndOfTheFileWhenOffsetPlusLengthWouldWrap() {
        Random r = new Random(Pages.seed("SwapStore.discardWrap"));
        for (int b = 0; b < BLOCKS; b++) {
            store.write(Pages.random(r, "random"), 0, (long) b * PAGE, PAGE);
        }
        assertEquals(IoResult.DONE, store.discard(PAGE, Long.MAX_VALUE));
        assertEquals(1, counters.get(Counter.STORED_PAGES), "every block but the first freed");
        assertEquals(IoResult.DONE, store.discard(SIZE + PAGE, Long.MAX_VALUE), "beyond the end: nothing to do");
    }

    @Test
    void shouldGiveSparseSlabsBackByCompacting() {
        int blocks = 2048;
        Random r = new Random(Pages.seed("SwapStore.compact"));
        try (LocalPool p = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0)) {
            Counters c = new Counters();
            SwapStore s = new SwapStore((long) blocks * PAGE, p, c);
            byte[][] kept = new byte[blocks][];
            for (int b = 0; b < blocks; b++) {
                kept[b] = Pages.random(r, "random"); // stored raw: 64 to a slab
                s.write(kept[b], 0, (long) b * PAGE, PAGE);
            }
            for (int b = 0; b < blocks; b++) {
                if (b % 4 != 0) {
                    s.discard((long) b * PAGE, PAGE);
                    kept[b] = new byte[PAGE];
                }
            }
            long before = p.mappedBytes();
            int moved = 0;
            Compactor compactor = new Compactor(new Moves(s));
            for (int i = 0; i < 10; i++) {
                moved += compactor.compact(blocks);
            }
            long after = p.mappedBytes();
            System.out.printf(
                    "compaction: %d pages moved, mapped %d KiB -> %d KiB for %d KiB of pages%n",
                    moved, before >> 10, after >> 10, c.get(Counter.PERS_ZBYTES) >> 10);
            assertEquals((long) blocks / 4 * PAGE, c.get(Counter.PERS_ZBYTES));
            assertTrue(before >= 4 * c.get(Counter.PERS_ZBYTES), "every slab a quarter used before: " + before);
            assertTrue(
                    after <= c.get(Counter.PERS_ZBYTES) + 2L * LocalPool.SLAB_BYTES,
                    "sparse slabs went back: " + after);
            byte[] back = new byte[PAGE];
            for (int b = 0; b < blocks; b++) {
                assertEquals(IoResult.DONE, s.read(back, 0, (long) b * PAGE, PAGE));
                assertArrayEquals(kept[b], back, "block " + b);
            }
            assertCountersAgreeWithTable(s, c);
        }
    }

    @Test
    void shouldKeepSameFilledPagesInTheTableWithoutPoolMemory() {
        byte[] page = new byte[PAGE];
        BlockCodec.fill(page, 0, 0x0102030405060708L);
        store.write(page, 0, 0, page.length);
        store.write(new byte[PAGE], 0, PAGE, PAGE);
        assertEquals(2, counters.get(Counter.ZERO_FILLED_PAGES));
        assertEquals(0, counters.get(Counter.PERS_ZPAGES));
        assertEquals(0, pool.mappedBytes());
        byte[] back = new byte[PAGE];
        store.read(back, 0, 0, back.length);
        assertArrayEquals(page, back);
    }

    @Test
    void shouldNotCountAnOverwrittenPageTwiceInTheMaximum() {
        Random r = new Random(Pages.seed("SwapStore.max"));
        store.write(Pages.random(r, "text"), 0, 0, PAGE);
        store.write(Pages.random(r, "text"), 0, 0, PAGE);
        assertEquals(1, counters.get(Counter.STORED_PAGES));
        assertEquals(1, counters.get(Counter.STORED_PAGES_MAX));
    }

    @Test
    void shouldRefuseRequestsOutsideTheFile() {
        byte[] b = new byte[8192];
        assertThrows(IllegalArgumentException.class, () -> store.write(b, 0, SIZE - 4096, 8192));
        assertThrows(IllegalArgumentException.class, () -> store.read(b, 0, -1, 10));
        assertThrows(
                IllegalArgumentException.class,
                () -> store.write(
                        new byte[SwapStore.MAX_REQUEST_BYTES + PAGE], 0, 0, SwapStore.MAX_REQUEST_BYTES + PAGE));
        assertThrows(IllegalArgumentException.class, () -> new SwapStore(4097, pool, counters));
    }

    /** A request refused in its middle changes nothing: the kernel keeps its pages and retries. */
    @Nested
    class AllOrNothing {

        private final int perSlab = LocalPool.SLAB_BYTES / PAGE;

        @Test
        void shouldChangeNoBlockWhenThePoolLimitStopsAWriteInItsMiddle() {
            try (LocalPool oneSlab = new LocalPool(Posix.load(), LocalPool.SLAB_BYTES, LocalPool.SLAB_BYTES, 0)) {
                Counters c = new Counters();
                SwapStore s = new SwapStore(SIZE, oneSlab, c);
                Random r = new Random(Pages.seed("SwapStore.limitInTheMiddle"));
                byte[] before = new byte[(perSlab - 4) * PAGE];
                r.nextBytes(before); // incompressible: one slot of the one slab per page
                writeAll(s, before, 0);
                byte[] image = readAll(s);

                byte[] request = new byte[8 * PAGE];
                r.nextBytes(request);
                long at = (long) (perSlab - 6) * PAGE; // 2 blocks over stored data, then 4 that fit, then 2 that do not
                assertEquals(IoResult.POOL_LIMIT, s.write(request, 0, at, request.length));
                assertEquals(
                        IoResult.POOL_LIMIT,
                        s.write(request, 0, at + 100, request.length - 200),
                        "unaligned, with patched edges");
                assertArrayEquals(image, readAll(s), "a refused write changed the file");
                assertEquals(2, c.get(Counter.POOL_LIMIT_HIT), "each refused request counted once");
                assertEquals(perSlab - 4, c.get(Counter.STORED_PAGES));
                assertCountersAgreeWithTable(s, c);

                assertEquals(
                        IoResult.DONE,
                        s.write(request, 0, (long) (perSlab - 4) * PAGE, 4 * PAGE),
                        "what fits is still taken");
            }
        }

        @Test
        void shouldChangeNoBlockWhenTheReserveIsEmpty() {
            try (LocalPool reserved = new LocalPool(Posix.load(), 16L << 20, 16L << 20, LocalPool.SLAB_BYTES)) {
                Counters c = new Counters();
                SwapStore s = new SwapStore(SIZE, reserved, c);
                Random r = new Random(Pages.seed("SwapStore.reserveEmpty"));
                byte[] first = new byte[(perSlab - 16) * PAGE];
                r.nextBytes(first); // incompressible: the reserve's one slab, but for 16 slots
                writeAll(s, first, 0);
                byte[] image = readAll(s);
                byte[] request = new byte[32 * PAGE];
                r.nextBytes(request); // 16 blocks more than the slab holds, and no grower runs
                assertEquals(IoResult.RESERVE_EMPTY, s.write(request, 0, first.length, request.length));
                assertArrayEquals(image, readAll(s));
                assertEquals(1, c.get(Counter.POOL_RESERVE_EMPTY));
                assertEquals(0, c.get(Counter.POOL_LIMIT_HIT));
                assertEquals(perSlab - 16, c.get(Counter.STORED_PAGES));
            }
        }

        @Test
        void shouldChangeNothingWhenADiscardCannotZeroItsEdges() {
            try (LocalPool oneSlab = new LocalPool(Posix.load(), LocalPool.SLAB_BYTES, LocalPool.SLAB_BYTES, 0)) {
                Counters c = new Counters();
                SwapStore s = new SwapStore(SIZE, oneSlab, c);
                Random r = new Random(Pages.seed("SwapStore.discardRefused"));
                byte[] full = new byte[perSlab * PAGE];
                r.nextBytes(full);
                writeAll(s, full, 0);
                byte[] image = readAll(s);
                // zeroing part of block 3 needs a new slot before the old one is freed: none is left
                assertEquals(IoResult.POOL_LIMIT, s.discard(3L * PAGE + 10, 20 * PAGE));
                assertArrayEquals(image, readAll(s), "the whole blocks of a refused discard were freed anyway");
                assertEquals(IoResult.DONE, s.discard(3L * PAGE, 20 * PAGE), "aligned: nothing to re-encode");
                assertEquals(perSlab - 20, c.get(Counter.STORED_PAGES));
            }
        }

        @Test
        void shouldAnswerCorruptForDamagedBytesAndKeepThemOutOfPartialWrites() {
            Random r = new Random(Pages.seed("SwapStore.corrupt"));
            byte[] text = Pages.random(r, "text");
            store.write(text, 0, 5L * PAGE, PAGE);
            long e = store.table().peek(5);
            assertEquals(BlockTable.STATE_LOCAL, BlockTable.state(e));
            assertTrue(BlockTable.length(e) < PAGE, "compressed, so that damage is detectable");
            for (int i = 0; i < BlockTable.length(e) - 4; i += 4) {
                OffHeap.putInt(pool.address(BlockTable.handle(e)) + i, 0xFFFF_FFFF);
            }
            byte[] back = new byte[2 * PAGE];
            assertEquals(IoResult.CORRUPT, store.read(back, 0, 4L * PAGE, 2 * PAGE));
            assertEquals(1, counters.get(Counter.CORRUPT_READS));
            byte[] patch = new byte[PAGE];
            Arrays.fill(patch, (byte) 7);
            assertEquals(
                    IoResult.CORRUPT,
                    store.write(patch, 0, 4L * PAGE + 512, patch.length),
                    "a patch over a corrupt block");
            assertEquals(2, counters.get(Counter.CORRUPT_READS));
            assertEquals(e, store.table().peek(5), "the refused patch changed the block");
            assertEquals(BlockTable.EMPTY, store.table().peek(4), "the refused patch changed the block before it");
            assertEquals(IoResult.DONE, store.write(text, 0, 5L * PAGE, PAGE), "a whole write replaces it");
            assertEquals(IoResult.DONE, store.read(back, 0, 5L * PAGE, PAGE));
            assertArrayEquals(text, Arrays.copyOf(back, PAGE));
        }

        @Test
        void shouldReportAWriteThatHappenedEvenWhenFreeingTheOldLocationFails() {
            BlockTable table = store.table();
            table.lock(3);
            // a location the pool never gave: freeing it throws
            table.publish(3, BlockTable.entry(BlockTable.STATE_LOCAL, 100, (1000L << 16) | 7));
            byte[] page = Pages.random(new Random(Pages.seed("SwapStore.freeFails")), "text");
            assertEquals(IoResult.DONE, store.write(page, 0, 3L * PAGE, PAGE));
            assertEquals(1, counters.get(Counter.FREE_FAILED));
            byte[] back = new byte[PAGE];
            assertEquals(IoResult.DONE, store.read(back, 0, 3L * PAGE, PAGE));
            assertArrayEquals(page, back);
        }
    }

    @Test
    void shouldKeepEveryThreadsBytesWhenThreadsShareTheBlocksAtTheirEdges() throws Exception {
        long seed = Pages.seed("SwapStore.concurrent");
        int threads = 4;
        int region = (int) (SIZE / threads) - 1000; // regions end inside blocks: neighbours patch the same block
        byte[][] references = new byte[threads][region];
        Thread[] ts = new Thread[threads];
        Throwable[] failures = new Throwable[threads];
        for (int t = 0; t < threads; t++) {
            int id = t;
            ts[t] = new Thread(
                    () -> {
                        try {
                            Random r = new Random(seed + id);
                            byte[] ref = references[id];
                            long base = (long) id * region;
                            for (int op = 0; op < 5_000; op++) {
                                int at = r.nextInt(region);
                                int length = Math.min(region - at, 1 + r.nextInt(3 * PAGE));
                                switch (r.nextInt(3)) {
                                    case 0 -> {
                                        byte[] data = pagesOfAnyKind(r, length);
                                        assertEquals(IoResult.DONE, store.write(data, 0, base + at, length));
                                        System.arraycopy(data, 0, ref, at, length);
                                    }
                                    case 1 -> {
                                        byte[] got = new byte[length];
                                        assertEquals(IoResult.DONE, store.read(got, 0, base + at, length));
                                        assertArrayEquals(
                                                Arrays.copyOfRange(ref, at, at + length),
                                                got,
                                                "thread " + id + " op " + op);
                                    }
                                    default -> {
                                        assertEquals(IoResult.DONE, store.discard(base + at, length));
                                        Arrays.fill(ref, at, at + length, (byte) 0);
                                    }
                                }
                            }
                        } catch (Throwable e) {
                            failures[id] = e;
                        }
                    },
                    "store-test-" + t);
            ts[t].start();
        }
        for (Thread t : ts) {
            t.join(120_000);
            assertTrue(!t.isAlive(), t.getName() + " still running after 2 min");
        }
        for (Throwable f : failures) {
            if (f != null) {
                throw new AssertionError(f);
            }
        }
        byte[] all = readAll(store);
        for (int t = 0; t < threads; t++) {
            assertArrayEquals(
                    references[t], Arrays.copyOfRange(all, t * region, (t + 1) * region), "region of thread " + t);
        }
        assertCountersAgreeWithTable(store, counters);
    }

    // ---------------------------------------------------------------- helpers

    private static byte[] pagesOfAnyKind(Random r, int length) {
        byte[] data = new byte[length];
        for (int i = 0; i < length; i += PAGE) {
            byte[] page = Pages.anyKind(r);
            System.arraycopy(page, 0, data, i, Math.min(page.length, length - i));
        }
        return data;
    }

    private static void writeAll(SwapStore s, byte[] data, long at) {
        for (int done = 0; done < data.length; done += SwapStore.MAX_REQUEST_BYTES) {
            int n = Math.min(SwapStore.MAX_REQUEST_BYTES, data.length - done);
            assertEquals(IoResult.DONE, s.write(data, done, at + done, n));
        }
    }

    private static byte[] readAll(SwapStore s) {
        byte[] all = new byte[(int) s.sizeBytes()];
        for (int at = 0; at < all.length; at += SwapStore.MAX_REQUEST_BYTES) {
            int n = Math.min(SwapStore.MAX_REQUEST_BYTES, all.length - at);
            assertEquals(IoResult.DONE, s.read(all, at, at, n));
        }
        return all;
    }

    /** The counters against the table itself: every gauge recounted from the entries. */
    static void assertCountersAgreeWithTable(SwapStore s, Counters c) {
        long same = 0;
        long local = 0;
        long bytes = 0;
        long remote = 0;
        long remoteBytes = 0;
        BlockTable table = s.table();
        for (int b = 0; b < table.blocks(); b++) {
            long e = table.peek(b);
            switch (BlockTable.state(e)) {
                case BlockTable.STATE_SAME -> same++;
                case BlockTable.STATE_LOCAL -> {
                    local++;
                    bytes += BlockTable.length(e);
                }
                case BlockTable.STATE_REMOTE -> {
                    remote++;
                    remoteBytes += BlockTable.length(e);
                }
                default -> {}
            }
        }
        assertEquals(remote, c.get(Counter.REMOTE_PERS_PAGES), "remote_pers_pages");
        assertEquals(remoteBytes, c.get(Counter.REMOTE_PERS_ZBYTES), "remote_pers_zbytes");
        assertEquals(same, c.get(Counter.ZERO_FILLED_PAGES), "zero_filled_pages");
        assertEquals(local, c.get(Counter.PERS_ZPAGES), "pers_zpages");
        assertEquals(bytes, c.get(Counter.PERS_ZBYTES), "pers_zbytes");
        assertEquals(same + local + remote, c.get(Counter.STORED_PAGES), "stored_pages");
    }
}
