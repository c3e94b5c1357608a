package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.reflect.Proxy;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import ramswap.agent.Agents;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

class LocalPoolTest {

    private static final Posix POSIX = Posix.load();
    private static final long MIB = 1 << 20;

    private record Held(long handle, byte[] data) {}

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
    void shouldGiveBackTheEmptySlabsOfClassesThatWentQuiet() {
        try (LocalPool pool = new LocalPool(POSIX, 64 * MIB, 64 * MIB, 0)) {
            long big = pool.allocate(BlockCodec.BLOCK_SIZE);
            long small = pool.allocate(100);
            pool.free(big, BlockCodec.BLOCK_SIZE);
            pool.free(small, 100);
            assertEquals(2L * LocalPool.SLAB_BYTES, pool.mappedBytes(), "each class keeps its empty slab");
            assertEquals(0, pool.giveBackIdleEmpties(), "both classes were busy since the last look");
            long again = pool.allocate(100); // the small class is busy again
            pool.free(again, 100);
            assertEquals(1, pool.giveBackIdleEmpties(), "the quiet class gave its empty slab back");
            assertEquals(LocalPool.SLAB_BYTES, pool.mappedBytes());
            assertEquals(1, pool.giveBackIdleEmpties(), "then the other, quiet since");
            assertEquals(0, pool.mappedBytes());
            long h = pool.allocate(100);
            assertTrue(h >= 0, "a class that gave its slab back takes a new one");
            pool.free(h, 100);
        }
    }

    @Test
    void shouldRefuseAllocationsBeyondTheLimitSayingSo() {
        try (LocalPool pool = new LocalPool(POSIX, 4 * MIB, 1 * MIB, 0)) {
            int got = 0;
            long h;
            while ((h = pool.allocate(BlockCodec.BLOCK_SIZE)) >= 0) {
                got++;
                assertTrue(got <= 256, "limit ignored");
            }
            assertEquals(256, got);
            assertEquals(LocalPool.REFUSED_LIMIT, h);
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

    /**
     * Mapped lock-on-fault (as the daemon maps it, its memory locked): of a 256 MiB range only the
     * reserve is resident, and it is locked. Run without mlockall here; the daemon's MCL_FUTURE
     * default is what the mapping's first PROT_NONE keeps from populating it (docs/memory-pressure.md).
     */
    @Test
    void shouldLockOnlyTheReserveOfARangeMappedLockOnFault() throws Exception {
        // mlock2 counts the whole range against RLIMIT_MEMLOCK (8 MiB for a user): root's lane only
        Assumptions.assumeTrue(POSIX.geteuid() == 0, "locking a 256 MiB range needs root");
        try (LocalPool pool = new LocalPool(POSIX, 256 * MIB, 256 * MIB, 2 * MIB, true)) {
            long h = pool.allocate(100);
            long address = pool.address(h);
            List<String> smaps = java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/smaps"));
            int at = -1;
            for (int i = 0; i < smaps.size() && at < 0; i++) {
                String[] range = smaps.get(i).split(" ")[0].split("-");
                if (range.length == 2
                        && range[0].matches("[0-9a-f]+")
                        && Long.parseUnsignedLong(range[0], 16) <= address
                        && address < Long.parseUnsignedLong(range[1], 16)) {
                    at = i;
                }
            }
            assertTrue(at >= 0, "the pool's range in /proc/self/smaps");
            long rss = -1;
            long locked = -1;
            String flags = "";
            for (int i = at + 1; i < smaps.size() && !smaps.get(i).matches("^[0-9a-f]+-.*"); i++) {
                String l = smaps.get(i);
                if (l.startsWith("Rss:")) {
                    rss = Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                } else if (l.startsWith("Locked:")) {
                    locked = Long.parseLong(l.replaceAll("[^0-9]", "")) * 1024;
                } else if (l.startsWith("VmFlags:")) {
                    flags = l;
                }
            }
            assertTrue(
                    flags.contains(" rd ") && flags.contains(" wr ") && flags.contains(" lo"),
                    "readable, writable, locked: " + flags);
            assertEquals(2 * MIB, rss, "resident: the reserve alone");
            assertEquals(rss, locked, "what is resident is locked");
            pool.free(h, 100);
        }
    }

    @Test
    void shouldRefuseAFreeOfWhatItDidNotGive() {
        try (LocalPool pool = new LocalPool(POSIX, 4 * MIB, 4 * MIB, 0)) {
            long h = pool.allocate(100);
            assertThrows(IllegalStateException.class, () -> pool.free(h, 3000));
        }
    }

    @Test
    void shouldRefuseACapacityWhoseSlabIdsWouldNotFitAnInt() {
        // 2^31 slabs: one more than an int can number (the check was off by one and the arrays' size wrapped)
        assertThrows(
                IllegalArgumentException.class,
                () -> new LocalPool(POSIX, (1L << 31) * LocalPool.SLAB_BYTES, LocalPool.SLAB_BYTES, 0));
    }

    @Test
    void shouldRefuseWithReserveEmptyAndRefillThroughItsGrower() throws Exception {
        try (LocalPool pool = new LocalPool(POSIX, 16 * MIB, 16 * MIB, LocalPool.SLAB_BYTES)) {
            int perSlab = LocalPool.SLAB_BYTES / BlockCodec.BLOCK_SIZE;
            for (int i = 0; i < perSlab; i++) {
                assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0);
            }
            assertEquals(
                    LocalPool.REFUSED_RESERVE_EMPTY,
                    pool.allocate(BlockCodec.BLOCK_SIZE),
                    "no grower runs yet: the serving path never maps");
            try (Agents agents = new Agents()) {
                agents.start(pool.grower(), Duration.ofMillis(10));
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                long h;
                while ((h = pool.allocate(BlockCodec.BLOCK_SIZE)) < 0 && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
                assertTrue(h >= 0, "the grower refilled the reserve");
            }
        }
    }

    @Test
    void shouldGrowOnlyFromTheRoomAndServeTheHeldBackSparesOnlyWhileTheGrowerLooksForIt() throws Exception {
        java.util.concurrent.atomic.AtomicLong room = new java.util.concurrent.atomic.AtomicLong();
        int slab = LocalPool.SLAB_BYTES;
        int perSlab = slab / BlockCodec.BLOCK_SIZE;
        // a reserve of 8 slabs holds its last 2 back
        try (LocalPool pool = new LocalPool(POSIX, 16 * MIB, 16 * MIB, 8L * slab, false, room::get)) {
            for (int i = 0; i < 6 * perSlab; i++) {
                assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0);
            }
            assertEquals(
                    LocalPool.REFUSED_RESERVE_EMPTY,
                    pool.allocate(BlockCodec.BLOCK_SIZE),
                    "the last spares are held back while the grower does not look for room (stopped, or not run)");

            assertEquals(1, pool.grower().doWork(), "no room: the grower waits instead of faulting into reclaim");
            assertEquals(8L * slab + slab, pool.mappedBytes(), "one slab counted as being backed, none touched yet");
            assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0, "served from a held-back spare while it waits");

            room.set(1L << 30);
            int rounds = 0;
            while (pool.grower().doWork() > 0 && rounds < 10_000) {
                rounds++;
            }
            assertTrue(rounds >= 6 * 4, "backed a few pages a step: " + rounds + " rounds");
            for (int i = 1; i < 2 * perSlab; i++) { // the reserve is full again: no refusal
                assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0, "allocation " + i);
            }
        }
    }

    /**
     * The real libc, with each touch (memset) by the thread named {@code thread} counting down
     * {@code entered} and then held until {@code release} opens (10 s at most).
     */
    private static Posix holdingTouches(String thread, CountDownLatch entered, CountDownLatch release) {
        return (Posix) Proxy.newProxyInstance(
                Posix.class.getClassLoader(), new Class<?>[] {Posix.class}, (proxy, m, args) -> {
                    if (m.getName().equals("memset")
                            && Thread.currentThread().getName().equals(thread)) {
                        entered.countDown();
                        release.await(10, TimeUnit.SECONDS);
                    }
                    return m.invoke(POSIX, args);
                });
    }

    @Test
    void shouldServeTheHeldBackSparesWhileTheGrowerBacksAndHoldThemWhileItIsStuckInATouch() throws Exception {
        CountDownLatch touching = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        // the touch of the thread named "stuck" held, as reclaim would hold it
        Posix stuckToucher = holdingTouches("stuck", touching, release);
        int slab = LocalPool.SLAB_BYTES;
        int perSlab = slab / BlockCodec.BLOCK_SIZE;
        // plenty of room, as on a machine with memory free; a reserve of 8 slabs holds its last 2 back
        CachedNanoClock clock = new CachedNanoClock();
        clock.update(1_000_000_000L); // not 0, which the pool reads as "never looked"
        try (LocalPool pool =
                new LocalPool(stuckToucher, 16 * MIB, 16 * MIB, 8L * slab, false, () -> 1L << 30, clock)) {
            for (int i = 0; i < 6 * perSlab; i++) {
                assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0);
            }
            assertEquals(1, pool.grower().doWork(), "room: the grower backs a step");
            assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0, "served from a held-back spare while it backs");

            Thread stuck = new Thread(
                    () -> {
                        try {
                            pool.grower().doWork();
                        } catch (Exception e) {
                            throw new IllegalStateException(e);
                        }
                    },
                    "stuck");
            stuck.start();
            try {
                assertTrue(touching.await(10, TimeUnit.SECONDS), "the grower is in its touch");
                clock.advance(4 * LocalPool.LOOKING_WINDOW_NS); // its last look, before the touch, is now old
                int served = 0;
                for (int i = 0; i < 2 * perSlab; i++) {
                    served += pool.allocate(BlockCodec.BLOCK_SIZE) >= 0 ? 1 : 0;
                }
                assertTrue(
                        served < 2 * perSlab - 1,
                        "the last spares are held back from a grower stuck in a touch: " + served + " served");
            } finally {
                release.countDown();
                stuck.join(10_000);
            }
        }
    }

    @Test
    void shouldNotKeepASlabTheGrowerMappedAfterTheLimitWasLowered() throws Exception {
        CountDownLatch mapping = new CountDownLatch(1);
        CountDownLatch lowered = new CountDownLatch(1);
        // the grower's touch of a new slab held until the test has lowered the limit
        Posix slowGrower = holdingTouches("ramswap-pool-grower", mapping, lowered);
        try (LocalPool pool = new LocalPool(slowGrower, 16 * MIB, 16 * MIB, 2 * LocalPool.SLAB_BYTES)) {
            int perSlab = LocalPool.SLAB_BYTES / BlockCodec.BLOCK_SIZE;
            for (int i = 0; i < perSlab; i++) {
                assertTrue(pool.allocate(BlockCodec.BLOCK_SIZE) >= 0); // takes a spare: the grower wants one more
            }
            try (Agents agents = new Agents()) {
                agents.start(pool.grower(), Duration.ofMillis(10));
                assertTrue(mapping.await(10, TimeUnit.SECONDS), "the grower started backing a slab");
                pool.setLimitBytes(2 * LocalPool.SLAB_BYTES); // what is mapped now: no room for another slab
                lowered.countDown();
                // the grower finishes its touch, then keeps or gives back the slab: a grower that kept it stays at 3
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
                while (pool.mappedBytes() != 2L * LocalPool.SLAB_BYTES && System.nanoTime() < deadline) {
                    Thread.sleep(10);
                }
            }
            assertEquals(
                    2L * LocalPool.SLAB_BYTES, pool.mappedBytes(), "the grower kept a slab beyond the lowered limit");
        }
    }

    @Test
    void shouldMakeNoLibcCallOnTheThreadThatAllocatesAndFreesWhenItHasAReserve() throws Exception {
        Thread caller = Thread.currentThread();
        List<String> callerCalls = new java.util.concurrent.CopyOnWriteArrayList<>();
        Posix watched = (Posix) Proxy.newProxyInstance(
                Posix.class.getClassLoader(), new Class<?>[] {Posix.class}, (proxy, m, args) -> {
                    if (Thread.currentThread() == caller) {
                        callerCalls.add(m.getName());
                    }
                    return m.invoke(POSIX, args);
                });
        try (LocalPool pool = new LocalPool(watched, 64 * MIB, 64 * MIB, 4 * LocalPool.SLAB_BYTES);
                Agents agents = new Agents()) {
            callerCalls.clear(); // the range and the reserve are mapped at start, on this thread
            agents.start(pool.grower(), Duration.ofMillis(1));
            int perSlab = LocalPool.SLAB_BYTES / BlockCodec.BLOCK_SIZE;
            List<Long> handles = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (handles.size() < 16 * perSlab && System.nanoTime() < deadline) { // 4 MiB: four times the reserve
                long h = pool.allocate(BlockCodec.BLOCK_SIZE);
                if (h >= 0) {
                    handles.add(h);
                } else {
                    assertEquals(LocalPool.REFUSED_RESERVE_EMPTY, h);
                    Thread.onSpinWait();
                }
            }
            assertEquals(16 * perSlab, handles.size(), "the grower refilled the reserve");
            for (long h : handles) {
                pool.free(h, BlockCodec.BLOCK_SIZE);
            }
            // the grower gives the emptied slabs back: what stays is the reserve and the class's one kept slab
            while (pool.mappedBytes() > 5L * LocalPool.SLAB_BYTES && System.nanoTime() < deadline) {
                Thread.onSpinWait();
            }
            assertEquals(5L * LocalPool.SLAB_BYTES, pool.mappedBytes(), "emptied slabs went back through the grower");
            assertEquals(List.of(), callerCalls, "memory calls on the allocating thread");
        }
    }
}
