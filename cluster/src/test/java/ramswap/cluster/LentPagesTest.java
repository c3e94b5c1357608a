package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;
import ramswap.store.LocalPool;
import ramswap.sys.Posix;

/** The lender's off-heap store against a plain map of the same pages, on real memory. */
class LentPagesTest {

    private static final Posix POSIX = Posix.load();
    private static final long MIB = 1 << 20;
    private static final int SEALED_BLOCK = 4096 + PageSeal.OVERHEAD;

    @Test
    void shouldGiveBackEveryPageItTookWhateverItsLength() {
        try (LentPages store = new LentPages(POSIX, 16 * MIB, false)) {
            int[] lengths = {1, 2, 31, 32, 33, 100, 1500, 4096, SEALED_BLOCK, LentPages.MAX_PAGE_BYTES};
            Random r = new Random(1);
            Map<Long, byte[]> want = new HashMap<>();
            for (int i = 0; i < lengths.length; i++) {
                byte[] page = bytes(r, lengths[i]);
                long key = RemoteKey.of(7, 3, i);
                assertTrue(store.put(key, page, 0, page.length));
                want.put(key, page);
            }
            want.forEach((key, page) -> assertArrayEquals(page, read(store, key), "key " + key));
            assertNull(store.get(RemoteKey.of(7, 3, 99)));
            assertFalse(store.contains(RemoteKey.of(7, 4, 0)), "another incarnation's key is another page");
            assertEquals(lengths.length, store.pages());
            assertEquals(Arrays.stream(lengths).asLongStream().sum(), store.pageBytes());
        }
    }

    @Test
    void shouldReplaceWhatAKeyHeldAndReturnThePageAtItsLength() {
        try (LentPages store = new LentPages(POSIX, 16 * MIB, false)) {
            long key = RemoteKey.of(1, 1, 5);
            byte[] first = bytes(new Random(2), 3000);
            byte[] second = bytes(new Random(3), 200);
            assertTrue(store.put(key, first, 0, first.length));
            assertTrue(store.put(key, second, 50, 100));
            assertEquals(1, store.pages());
            assertEquals(100, store.pageBytes());
            assertArrayEquals(Arrays.copyOfRange(second, 50, 150), read(store, key));
            assertNull(store.get(RemoteKey.of(1, 1, 6)), "no page under a key never put");
        }
    }

    @Test
    void shouldMatchAPlainMapThroughRandomPutsRemovesAndSweeps() {
        Random r = new Random(4);
        try (LentPages store = new LentPages(POSIX, 256 * MIB, false)) {
            Map<Long, byte[]> model = new HashMap<>();
            List<Long> keys = new ArrayList<>();
            long sequence = 0;
            for (int op = 0; op < 200_000; op++) {
                int what = r.nextInt(100);
                if (what < 55 || keys.isEmpty()) {
                    long key = RemoteKey.of(1 + r.nextInt(4), r.nextInt(2), sequence++);
                    byte[] page = bytes(r, 1 + r.nextInt(SEALED_BLOCK));
                    assertTrue(store.put(key, page, 0, page.length), "256 MiB full at op " + op);
                    model.put(key, page);
                    keys.add(key);
                } else if (what < 90) {
                    long key = keys.remove(r.nextInt(keys.size()));
                    assertArrayEquals(model.remove(key), read(store, key), "key " + key + " at op " + op);
                    assertTrue(store.remove(key));
                    assertFalse(store.remove(key), "removed twice");
                } else if (what < 99) {
                    long key = keys.get(r.nextInt(keys.size()));
                    assertArrayEquals(model.get(key), read(store, key), "key " + key + " at op " + op);
                } else {
                    int node = 1 + r.nextInt(4);
                    int incarnation = r.nextInt(2);
                    int removed =
                            store.removeIf(k -> RemoteKey.node(k) == node && RemoteKey.incarnation(k) == incarnation);
                    int before = model.size();
                    model.keySet().removeIf(k -> RemoteKey.node(k) == node && RemoteKey.incarnation(k) == incarnation);
                    keys.removeIf(k -> !model.containsKey(k));
                    assertEquals(before - model.size(), removed, "swept at op " + op);
                }
                assertEquals(model.size(), store.pages());
            }
            long bytes = 0;
            for (Map.Entry<Long, byte[]> e : model.entrySet()) {
                assertArrayEquals(e.getValue(), read(store, e.getKey()));
                bytes += e.getValue().length;
            }
            assertEquals(bytes, store.pageBytes());
        }
    }

    @Test
    void shouldGiveBackTheSlabsOfSizesNoLongerStored() {
        try (LentPages store = new LentPages(POSIX, 64 * MIB, false)) { // a slab for each of 128 classes
            byte[] page = new byte[SEALED_BLOCK];
            for (int i = 0; i < 200; i++) {
                assertTrue(store.put(RemoteKey.of(1, 1, i), page, 0, 100 + 20 * i));
            }
            store.removeIf(k -> true);
            assertTrue(store.mappedBytes() > 0, "the emptied classes keep a slab each");
            assertEquals(0, store.giveBackIdleSlabs(), "busy since the last look");
            assertTrue(store.giveBackIdleSlabs() > 0);
            assertEquals(0, store.mappedBytes(), "every slab back once the classes went quiet");
        }
    }

    @Test
    void shouldRefuseAPagePastTheQuotaAndKeepEveryOther() {
        try (LentPages store = new LentPages(POSIX, 4 * LocalPool.SLAB_BYTES, false)) {
            Random r = new Random(5);
            Map<Long, byte[]> held = new HashMap<>();
            long key = 0;
            while (true) {
                byte[] page = bytes(r, SEALED_BLOCK);
                if (!store.put(key, page, 0, page.length)) {
                    break;
                }
                held.put(key++, page);
                assertTrue(key < 10_000, "never refused");
            }
            assertFalse(store.contains(key), "a refused page is not stored");
            assertTrue(store.mappedBytes() <= store.quotaBytes(), store.mappedBytes() + " mapped");
            assertEquals(
                    4 * (LocalPool.SLAB_BYTES / LocalPool.slotBytes(LocalPool.classOf(SEALED_BLOCK + 10))),
                    held.size(),
                    "four slabs of one class, full");
            held.forEach((k, page) -> assertArrayEquals(page, read(store, k)));
            assertTrue(store.remove(0));
            byte[] page = bytes(r, SEALED_BLOCK);
            assertTrue(store.put(key, page, 0, page.length), "a freed slot takes a page again");
            held.put(key, page);
            held.remove(0L);
            // a page of another size class needs a slab the quota has not got: refused, and the
            // page the key held is gone with it, while every other stays where its probe finds it
            byte[] small = bytes(r, 100);
            assertFalse(store.put(1, small, 0, small.length));
            assertFalse(store.contains(1));
            held.remove(1L);
            assertEquals(held.size(), store.pages());
            held.forEach((k, p) -> assertArrayEquals(p, read(store, k), "key " + k));
        }
    }

    @Test
    void shouldGiveSlabsBackAndShrinkItsIndexWhenPagesLeave() {
        try (LentPages store = new LentPages(POSIX, 256 * MIB, false)) {
            long empty = store.indexBytes();
            Random r = new Random(6);
            int n = 40_000;
            for (int i = 0; i < n; i++) {
                byte[] page = bytes(r, 1 + r.nextInt(SEALED_BLOCK));
                assertTrue(store.put(RemoteKey.of(2, 0, i), page, 0, page.length));
            }
            assertTrue(store.mappedBytes() > 64 * MIB, store.mappedBytes() + " mapped for about 80 MiB of pages");
            for (int i = 0; i < n; i++) {
                assertTrue(store.remove(RemoteKey.of(2, 0, i)));
            }
            assertEquals(0, store.pages());
            assertEquals(0, store.pageBytes());
            assertTrue(
                    store.mappedBytes() <= (long) LocalPool.CLASSES * LocalPool.SLAB_BYTES,
                    "only the one empty slab a class keeps may remain: " + store.mappedBytes());
            assertEquals(empty, store.indexBytes(), "the index shrank back");
        }
    }

    @Test
    void shouldKeepItsIndexAtMost32BytesAPageAsPagesComeAndGo() {
        try (LentPages store = new LentPages(POSIX, 1024 * MIB, false)) {
            byte[] page = bytes(new Random(7), 64);
            int n = 600_000;
            for (int i = 0; i < n; i++) {
                assertTrue(store.put(RemoteKey.of(3, 0, i), page, 0, page.length));
                if (i >= 1024 && i % 997 == 0) {
                    assertTrue(store.indexBytes() <= 32L * store.pages(), store.indexBytes() + " B for " + (i + 1));
                }
            }
            assertTrue(store.indexBytes() <= 22L * n, store.indexBytes() + " B while pages arrive");
            for (int i = 0; i < n - 2000; i++) {
                assertTrue(store.remove(RemoteKey.of(3, 0, i)));
                if (i % 997 == 0) {
                    assertTrue(
                            store.indexBytes() <= 32L * store.pages(),
                            store.indexBytes() + " B for " + store.pages() + " pages");
                }
            }
        }
    }

    @Test
    void shouldEmptySparseSlabsByCompaction() {
        try (LentPages store = new LentPages(POSIX, 256 * MIB, false)) {
            Random r = new Random(8);
            int n = 50_000;
            Map<Long, byte[]> kept = new HashMap<>();
            for (int i = 0; i < n; i++) {
                byte[] page = bytes(r, 1400 + r.nextInt(64)); // two classes: slabs of 170-ish slots
                long key = RemoteKey.of(4, 0, i);
                assertTrue(store.put(key, page, 0, page.length));
                if (r.nextInt(10) == 0) {
                    kept.put(key, page);
                }
            }
            for (int i = 0; i < n; i++) {
                long key = RemoteKey.of(4, 0, i);
                if (!kept.containsKey(key)) {
                    assertTrue(store.remove(key));
                }
            }
            long sparse = store.mappedBytes();
            int moved = 0;
            for (int round = 0; round < 1000; round++) {
                int m = store.compact(256, 4096);
                moved += m;
                if (m == 0 && round > 4) {
                    break;
                }
            }
            assertTrue(moved > 0, "nothing moved");
            long dense = store.mappedBytes();
            long least = kept.values().stream()
                    .mapToLong(p -> p.length + LentPages.HEADER_BYTES)
                    .sum();
            assertTrue(dense < sparse / 3, "compaction left " + dense + " of " + sparse + " mapped bytes");
            assertTrue(dense <= least * 1.5 + 4 * LocalPool.SLAB_BYTES, dense + " mapped for " + least + " bytes");
            kept.forEach((k, page) -> assertArrayEquals(page, read(store, k)));
            assertEquals(kept.size(), store.pages());
        }
    }

    @Test
    void shouldRefuseWhatItCannotHold() {
        assertThrows(IllegalArgumentException.class, () -> new LentPages(POSIX, 1000, false));
        assertThrows(IllegalArgumentException.class, () -> new LentPages(POSIX, LentPages.MAX_QUOTA_BYTES + 1, false));
        try (LentPages store = new LentPages(POSIX, 16 * MIB, false)) {
            byte[] big = new byte[LentPages.MAX_PAGE_BYTES + 1];
            assertThrows(IllegalArgumentException.class, () -> store.put(1, big, 0, big.length));
            assertThrows(IllegalArgumentException.class, () -> store.put(1, big, 0, 0));
            assertEquals(0, store.pages());
        }
    }

    @Test
    void shouldRefuseEveryCallOnceClosed() {
        LentPages store = new LentPages(POSIX, 16 * MIB, false);
        byte[] page = new byte[100];
        assertTrue(store.put(1, page, 0, page.length));
        store.close();
        store.close();
        assertThrows(IllegalStateException.class, () -> store.get(1));
        assertThrows(IllegalStateException.class, () -> store.put(2, page, 0, page.length));
        assertThrows(IllegalStateException.class, () -> store.remove(1));
        assertEquals(0, store.pages());
        assertEquals(0, store.removeIf(k -> true));
    }

    private static byte[] read(LentPages store, long key) {
        byte[] page = store.get(key);
        assertNotNull(page, "no page under key " + key);
        return page;
    }

    private static byte[] bytes(Random r, int length) {
        byte[] b = new byte[length];
        r.nextBytes(b);
        return b;
    }
}
