package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ramswap.store.SwapStoreTest.assertCountersAgreeWithTable;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import ramswap.move.Moves;
import ramswap.move.Remotifier;
import ramswap.move.Repairer;
import ramswap.move.Repatriator;
import ramswap.sys.Posix;

/**
 * The store's side of remote blocks: moves that commit only against an unchanged generation,
 * reads, overwrites, discards and repatriation of remote blocks, and that every counter agrees
 * with the table. The tier here keeps pages in a map of this JVM and checks block and generation
 * as the sealed page's associated data does; the Hazelcast tier itself is tested against real
 * members in cluster/, and the whole path by the multi-daemon tests.
 */
class RemoteStoreTest {

    private static final int PAGE = BlockCodec.BLOCK_SIZE;
    private static final int BLOCKS = 512;
    private static final long SIZE = (long) BLOCKS * PAGE;

    private final LocalPool pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0);
    private final Counters counters = new Counters();
    private final SwapStore store = new SwapStore(SIZE, pool, counters);
    private final Moves moves = new Moves(store);
    private Remotifier remotifier;
    private Repatriator repatriator;
    private final Knobs knobs = new Knobs();
    private final MapTier tier = new MapTier();
    /** The agents' time: a test moves it; none waits on the wall clock. */
    private final CachedNanoClock clock = new CachedNanoClock();

    private final byte[][] expected = new byte[BLOCKS][];

    RemoteStoreTest() {
        store.useRemote(tier, () -> 1_000);
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 1);
    }

    @AfterEach
    void closePool() {
        pool.close();
    }

    /** Pages in a map: the block and generation are checked as the seal's associated data would. */
    static class MapTier implements RemoteTier {
        final Map<Long, Object[]> pages = new HashMap<>();
        long nextHandle = 1;
        int forced; // when not 0, every fetch answers it
        int forgotten;
        Runnable beforeNextFetch; // runs once, as if another thread acted while the fetch travelled

        @Override
        public boolean canSend() {
            return true;
        }

        @Override
        public synchronized CompletableFuture<Sent> send(Batch b) {
            if (refuse) {
                return CompletableFuture.completedFuture(Sent.all(b.count, REFUSED));
            }
            Sent sent = new Sent(b.count);
            for (int k = 0; k < b.count; k++) {
                long h = nextHandle++;
                pages.put(h, new Object[] {b.blocks[k], b.generations[k], Arrays.copyOf(b.pages[k], b.lengths[k])});
                sent.handles[k] = h;
            }
            return CompletableFuture.completedFuture(sent);
        }

        @Override
        public synchronized void fetch(
                int n,
                int[] blocks,
                int[] generations,
                long[] handles,
                byte[][] out,
                int[] lengths,
                long timeoutMillis) {
            Runnable meanwhile = beforeNextFetch;
            beforeNextFetch = null;
            if (meanwhile != null) {
                meanwhile.run();
            }
            for (int k = 0; k < n; k++) {
                Object[] p = pages.get(handles[k]);
                if (forced != 0) {
                    lengths[k] = forced;
                } else if (p == null) {
                    lengths[k] = MISSING;
                } else if ((int) p[0] != blocks[k] || (int) p[1] != generations[k]) {
                    lengths[k] = UNAUTHENTIC;
                } else {
                    byte[] bytes = (byte[]) p[2];
                    System.arraycopy(bytes, 0, out[k], 0, bytes.length);
                    lengths[k] = bytes.length;
                }
            }
        }

        @Override
        public synchronized void forget(long handle) {
            if (pages.remove(handle) != null) {
                forgotten++;
            }
        }

        /** Which handles need new copies; the epoch changes when a test changes it. */
        volatile java.util.function.LongPredicate toReplace = h -> false;

        volatile long epoch;
        /** When set, every send is refused (targets full). */
        volatile boolean refuse;

        /** Calls of {@link #needsReplacing}: a repair sweep asks it for every remote page. */
        final java.util.concurrent.atomic.AtomicLong replacingAsked = new java.util.concurrent.atomic.AtomicLong();

        @Override
        public boolean needsReplacing(long handle) {
            replacingAsked.incrementAndGet();
            return toReplace.test(handle);
        }

        /** Which handles have a copy on a leaving lender. */
        volatile java.util.function.LongPredicate leaving = h -> false;

        @Override
        public boolean leaving(long handle) {
            return leaving.test(handle);
        }

        @Override
        public synchronized int sweepLeaks(java.util.function.LongPredicate live) {
            int freed = 0;
            for (java.util.Iterator<Long> i = pages.keySet().iterator(); i.hasNext(); ) {
                if (!live.test(i.next())) {
                    i.remove();
                    freed++;
                }
            }
            return freed;
        }

        @Override
        public int copies(long handle) {
            return 2;
        }

        @Override
        public long placementEpoch() {
            return epoch;
        }

        /** Which handles lost every copy with their lenders; and whether the partitions have settled. */
        volatile java.util.function.LongPredicate lost = h -> false;

        volatile boolean settled = true;
        /** False while this node is cut off from every lender; the count of its merges back. */
        volatile boolean holders = true;

        volatile long rejoins;

        @Override
        public boolean holdersPresent() {
            return holders;
        }

        @Override
        public long rejoins() {
            return rejoins;
        }

        @Override
        public boolean lost(long handle) {
            return lost.test(handle);
        }

        @Override
        public boolean placementSettled() {
            return settled;
        }

        /** The handle of block {@code block}'s page. */
        synchronized long handleOf(int block) {
            for (Map.Entry<Long, Object[]> e : pages.entrySet()) {
                if ((int) e.getValue()[0] == block) {
                    return e.getKey();
                }
            }
            throw new AssertionError("block " + block + " is not remote");
        }
    }

    /**
     * Runs the repairer until {@code done} holds, moving the clock 100 ms at each lap with nothing to
     * do (its checks come every half second), at most {@value #LAPS} laps.
     */
    private void repairUntil(Repairer repairer, java.util.function.BooleanSupplier done) {
        for (int lap = 0; lap < LAPS && !done.getAsBoolean(); lap++) {
            idleAdvance(repairer.doWork(), 100);
        }
        assertTrue(done.getAsBoolean(), "the repairer did not get there within " + LAPS + " laps");
    }

    /** Bounds every loop that runs an agent. */
    private static final int LAPS = 100_000;

    /** Moves the clock {@code millis} after a lap that found nothing to do ({@code work} 0). */
    private void idleAdvance(int work, long millis) {
        if (work == 0) {
            clock.advance(millis * 1_000_000L);
        }
    }

    private void writeAll(Random r) {
        String[] kinds = {"text", "random", "text", "word"};
        for (int b = 0; b < BLOCKS; b++) {
            expected[b] = Pages.random(r, kinds[b % kinds.length]);
            assertEquals(IoResult.DONE, store.write(expected[b], 0, (long) b * PAGE, PAGE));
        }
    }

    /** Runs the remotifier until it has had nothing to do for 100 ms (at most 10 s). */
    private void remotify() {
        Remotifier remotifier = new Remotifier(moves, knobs, PAGE + 64, clock);
        int idle = 0;
        for (int lap = 0; lap < LAPS && idle < 50; lap++) {
            if (remotifier.doWork() > 0) {
                idle = 0;
            } else {
                idle++;
                clock.advance(2_000_000L);
            }
        }
        remotifier.onClose();
    }

    /**
     * A send that completes on another thread wakes the remotifier: run with an idle period of an
     * hour, it still sends every page, though each round finds all its batches in flight.
     */
    @Test
    void shouldBeWokenByACompletedSendInsteadOfWaitingOutItsIdlePeriod() throws Exception {
        writeAll(new Random(Pages.seed("RemoteStore.wake")));
        long local = counters.get(Counter.PERS_ZPAGES);
        java.util.concurrent.ScheduledExecutorService lender =
                java.util.concurrent.Executors.newSingleThreadScheduledExecutor();
        RemoteTier late = new MapTier() {
            @Override
            public synchronized CompletableFuture<Sent> send(Batch b) {
                Sent sent = super.send(b).join();
                CompletableFuture<Sent> answer = new CompletableFuture<>();
                // answered later, from the lender's thread, as a cluster answers
                java.util.concurrent.Future<?> unused =
                        lender.schedule(() -> answer.complete(sent), 20, java.util.concurrent.TimeUnit.MILLISECONDS);
                return answer;
            }
        };
        store.useRemote(late, () -> 1_000);
        Remotifier remotifier = new Remotifier(moves, knobs, PAGE + 64);
        org.agrona.concurrent.AgentRunner runner = new org.agrona.concurrent.AgentRunner(
                new org.agrona.concurrent.SleepingIdleStrategy(java.util.concurrent.TimeUnit.HOURS.toNanos(1)),
                Throwable::printStackTrace,
                null,
                remotifier);
        org.agrona.concurrent.AgentRunner.startOnThread(runner);
        try {
            long deadline = System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(30);
            while (counters.get(Counter.PERS_PAGES_REMOTED) < local && System.nanoTime() < deadline) {
                Thread.sleep(10);
            }
        } finally {
            runner.close(1000, t -> {});
            lender.shutdownNow();
        }
        assertEquals(local, counters.get(Counter.PERS_PAGES_REMOTED), "every page sent, more than 4 batches of 64");
        assertCountersAgreeWithTable(store, counters);
    }

    private void assertReadsBack() {
        byte[] back = new byte[PAGE];
        for (int b = 0; b < BLOCKS; b++) {
            assertEquals(IoResult.DONE, store.read(back, 0, (long) b * PAGE, PAGE), "block " + b);
            assertArrayEquals(expected[b], back, "block " + b);
        }
    }

    @Test
    void shouldSendEveryLocalPageAndReadItBackWhenTheLocalTargetIsZero() {
        writeAll(new Random(Pages.seed("RemoteStore.all")));
        long local = counters.get(Counter.PERS_ZPAGES);
        remotify();
        assertEquals(0, counters.get(Counter.PERS_ZPAGES));
        assertEquals(0, counters.get(Counter.PERS_ZBYTES));
        assertEquals(local, counters.get(Counter.REMOTE_PERS_PAGES));
        assertEquals(local, counters.get(Counter.PERS_PAGES_REMOTED));
        assertEquals(local, tier.pages.size());
        assertTrue(pool.mappedBytes() <= (long) LocalPool.CLASSES * LocalPool.SLAB_BYTES, "emptied slabs went back");
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
        assertEquals(local, counters.get(Counter.REMOTE_PERS_PAGES_SUCC_GET));
        assertEquals(local, counters.get(Counter.REMOTE_FETCHES), "one fetch per request");
        store.refreshGauges();
        assertTrue(counters.get(Counter.REMOTE_FETCH_P50_US) >= 1
                && counters.get(Counter.REMOTE_FETCH_P99_US) >= counters.get(Counter.REMOTE_FETCH_P50_US)
                && counters.get(Counter.REMOTE_FETCH_MAX_US) >= counters.get(Counter.REMOTE_FETCH_P99_US));
        // a request spanning many remote blocks, unaligned: fetched together
        byte[] span = new byte[SwapStore.MAX_REQUEST_BYTES];
        assertEquals(IoResult.DONE, store.read(span, 0, 100, span.length));
        byte[] want = new byte[span.length];
        for (int i = 0; i < span.length; i++) {
            long at = 100L + i;
            want[i] = expected[(int) (at / PAGE)][(int) (at % PAGE)];
        }
        assertArrayEquals(want, span);
    }

    /**
     * A lender was lost: every remote page needs new copies. The repairer fetches each from what
     * survives and sends it again under a new handle; a block rewritten while its new copy travels
     * keeps its new contents and the copy is deleted.
     */
    @Test
    void shouldGiveEveryPageThatLostACopyNewCopiesAndKeepWritesMadeMeanwhile() {
        writeAll(new Random(Pages.seed("RemoteStore.repair")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        long lostBelow = tier.nextHandle;
        tier.toReplace = h -> h < lostBelow;
        tier.epoch = 1;
        byte[] rewritten = Pages.random(new Random(3), "text");
        tier.beforeNextFetch = () -> { // a write lands on block 0 while the first repair batch travels
            expected[0] = rewritten;
            assertEquals(IoResult.DONE, store.write(rewritten, 0, 0, PAGE));
        };
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        repairer.doWork(); // the sweep counts what needs new copies
        long found = counters.get(Counter.REMOTE_PAGES_TO_REPLACE);
        for (int lap = 0; lap < LAPS && counters.get(Counter.REMOTE_PAGES_TO_REPLACE) > 0; lap++) {
            idleAdvance(repairer.doWork(), 100);
        }
        System.out.println(
                "repair: " + found + " pages found, " + counters.get(Counter.REMOTE_PAGES_REPLACED) + " replaced");
        assertEquals(remote, found);
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_TO_REPLACE));
        assertEquals(
                remote - 1, counters.get(Counter.REMOTE_PAGES_REPLACED), "block 0 was rewritten, the rest replaced");
        assertEquals(remote - 1, counters.get(Counter.REMOTE_PERS_PAGES));
        assertEquals(remote - 1, tier.pages.size(), "the old copies and the raced copy were deleted");
        for (long h : tier.pages.keySet()) {
            assertTrue(h >= lostBelow, "handle " + h + " still in use");
        }
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    /**
     * Every copy of block 5's page went with lenders that left: it is counted lost once, its reads
     * fail with EIO, and the repairer neither counts it short of copies nor fetches it again at the
     * next sweeps; every other page gets its new copies.
     */
    @Test
    void shouldCountAPageWhoseEveryCopyIsLostOnceAndNeverTryItAgain() {
        writeAll(new Random(Pages.seed("RemoteStore.lost")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        long gone = tier.handleOf(5);
        tier.forget(gone);
        long lostBelow = tier.nextHandle;
        tier.toReplace = h -> h < lostBelow;
        tier.lost = h -> h == gone;
        tier.epoch = 1;
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        repairer.doWork();
        assertEquals(
                remote, counters.get(Counter.REMOTE_PAGES_TO_REPLACE), "counted short until a fetch finds it missing");
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PAGES_TO_REPLACE) == 0);
        assertEquals(1, counters.get(Counter.REMOTE_PAGES_LOST));
        assertEquals(remote - 1, counters.get(Counter.REMOTE_PAGES_REPLACED));
        long failedGets = counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET);

        tier.epoch = 2; // partitions moved again: a new sweep, and redundancy unknown until it is counted
        counters.set(Counter.REMOTE_PARTITIONS_SETTLED, 0);
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PARTITIONS_SETTLED) == 1);
        for (int i = 0; i < 100; i++) { // 100 s of the repairer's time: its checks, and three leak sweeps
            repairer.doWork();
            clock.advance(1_000_000_000L);
        }
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_TO_REPLACE), "the lost page is not counted short again");
        assertEquals(failedGets, counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET), "nor fetched again");
        assertEquals(1, counters.get(Counter.REMOTE_PAGES_LOST), "counted once");
        assertEquals(IoResult.REMOTE_FAILED, store.read(new byte[PAGE], 0, 5L * PAGE, PAGE));
        assertEquals(
                remote,
                counters.get(Counter.REMOTE_PERS_PAGES),
                "the lost block keeps its entry until written or discarded");
        failedGets = counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET);

        // a drain brings every other page home, and leaves the lost one without asking for it at each lap
        knobs.set(Knob.REPATRIATE_ALL, 1);
        Repatriator home = new Repatriator(moves, knobs, () -> true, clock);
        for (int i = 0; i < 10_000 && knobs.get(Knob.REPATRIATE_ALL) == 1; i++) {
            home.doWork();
        }
        assertEquals(0, knobs.get(Knob.REPATRIATE_ALL), "the drain ended");
        assertEquals(1, counters.get(Counter.REMOTE_PERS_PAGES), "only the lost page is left remote");
        assertEquals(
                failedGets,
                counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET),
                "the drain did not fetch the lost page");

        assertEquals(IoResult.DONE, store.write(expected[5], 0, 5L * PAGE, PAGE));
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    /**
     * A migration left pages short of copies and the table that says so came without a new epoch:
     * once the partitions settle, the repairer sweeps again and gives them new copies, and says the
     * partitions settled only from that sweep on.
     */
    @Test
    void shouldSweepAgainOnceThePartitionsSettle() {
        writeAll(new Random(Pages.seed("RemoteStore.settle")));
        remotify();
        tier.settled = false;
        tier.epoch = 1;
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        repairer.doWork(); // the epoch's sweep: nothing short yet
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_TO_REPLACE));
        assertEquals(0, counters.get(Counter.REMOTE_PARTITIONS_SETTLED), "partitions still moving");

        long shared = tier.handleOf(9); // both its copies ended on one member
        tier.toReplace = h -> h == shared;
        tier.settled = true;
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PARTITIONS_SETTLED) == 1);
        repairUntil(
                repairer,
                () -> counters.get(Counter.REMOTE_PAGES_REPLACED) == 1
                        && counters.get(Counter.REMOTE_PAGES_TO_REPLACE) == 0);
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    /**
     * A send placed before a partition moved, whose put followed it to a member the page must not
     * be on, commits after the sweep of that move looked, and no move comes after it: the repairer
     * still sweeps again and gives those pages new copies.
     */
    @Test
    void shouldSweepAgainWhenAPageCommitsWhereItAlreadyNeedsNewCopies() {
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        tier.epoch = 1;
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PARTITIONS_SETTLED) == 1); // the move's sweep
        long misplacedBelow = tier.nextHandle + 10; // the first ten pages sent land on a member they must avoid
        tier.toReplace = h -> h < misplacedBelow;
        writeAll(new Random(Pages.seed("RemoteStore.misplaced")));
        remotify();
        repairUntil(
                repairer,
                () -> counters.get(Counter.REMOTE_PAGES_REPLACED) == 10
                        && counters.get(Counter.REMOTE_PAGES_TO_REPLACE) == 0);
        repairer.doWork();
        clock.advance(Repairer.RESWEEP_NANOS / 2);
        repairer.doWork(); // the sweep that counts the new copies' commits: nothing left to replace
        long asked = tier.replacingAsked.get();
        for (int i = 0; i < 40; i++) { // 20 s of checks, with nothing new committed
            repairer.doWork();
            clock.advance(500_000_000L);
        }
        assertEquals(asked, tier.replacingAsked.get(), "no sweep without a move or a new misplaced commit");
        for (int b = 0; b < BLOCKS; b++) {
            if (BlockTable.state(store.table().peek(b)) == BlockTable.STATE_REMOTE) {
                assertTrue(tier.handleOf(b) >= misplacedBelow, "block " + b + " still on the member to avoid");
            }
        }
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    /**
     * The tier cannot say where a copy is (its member is stopping): the moves commit whole all the
     * same, and the repairer takes them for misplaced, which costs a sweep.
     */
    @Test
    void shouldCommitEveryMoveWhenTheTierCannotSayWhereACopyIs() {
        tier.toReplace = h -> {
            throw new IllegalStateException("the member is stopping");
        };
        writeAll(new Random(Pages.seed("RemoteStore.noanswer")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        assertTrue(remote > 0);
        assertEquals(remote, tier.pages.size(), "every page sent was committed once");
        assertEquals(remote, moves.misplacedCommits());
        assertCountersAgreeWithTable(store, counters);
        tier.toReplace = h -> false;
        assertReadsBack();
    }

    /**
     * Cut off from every lender, this node sees every copy lost and its own empty partitions answer
     * "missing": the repairer neither fetches nor judges a page lost until a holder is back.
     */
    @Test
    void shouldNeitherFetchNorJudgeAPageLostWhileCutOffFromEveryLender() {
        writeAll(new Random(Pages.seed("RemoteStore.cutoff")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        Map<Long, Object[]> away = new HashMap<>(tier.pages);
        tier.pages.clear(); // what this node's own partitions hold while it is cut off
        tier.holders = false;
        tier.toReplace = h -> true;
        tier.lost = h -> true;
        tier.epoch = 1;
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        long fetches = counters.get(Counter.REMOTE_FETCHES);
        for (int i = 0; i < 60; i++) { // a minute of the repairer's time
            repairer.doWork();
            clock.advance(1_000_000_000L);
        }
        assertEquals(fetches, counters.get(Counter.REMOTE_FETCHES), "nothing fetched while cut off");
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_LOST));

        tier.pages.putAll(away); // merged back: the other side kept the copies
        tier.holders = true;
        tier.lost = h -> false;
        tier.epoch = 2;
        long handleAbove = tier.nextHandle;
        tier.toReplace = h -> h < handleAbove;
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PAGES_REPLACED) == remote);
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_LOST));
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    /**
     * Pages judged lost while this node was on the side of a split that lost (its view of the
     * cluster said every copy was gone) are tried again once it merges back into the side that
     * kept their copies: they are read, given new copies, and no longer counted lost.
     */
    @Test
    void shouldTryThePagesFoundLostAgainOnceThisNodeMergesBack() {
        writeAll(new Random(Pages.seed("RemoteStore.rejoin")));
        remotify();
        int block = 0;
        while (BlockTable.state(store.table().peek(block)) != BlockTable.STATE_REMOTE) {
            block++;
        }
        long wronglyLost = tier.handleOf(block);
        Object[] kept = tier.pages.remove(wronglyLost); // the other side of the split holds it
        tier.toReplace = h -> h == wronglyLost;
        tier.lost = h -> h == wronglyLost;
        tier.epoch = 1;
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PAGES_LOST) == 1);
        assertEquals(IoResult.REMOTE_FAILED, store.read(new byte[PAGE], 0, (long) block * PAGE, PAGE));

        tier.pages.put(wronglyLost, kept); // merged back
        tier.lost = h -> false;
        tier.rejoins = 1;
        tier.epoch = 2;
        repairUntil(repairer, () -> counters.get(Counter.REMOTE_PAGES_REPLACED) == 1);
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_LOST), "no longer counted lost");
        assertTrue(tier.handleOf(block) != wronglyLost, "block " + block + " has new copies");
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    /** A lender is leaving and no other target takes its pages: they come home into the pool. */
    @Test
    void shouldBringPagesHomeWhenTheirLenderLeavesAndNoTargetTakesThem() {
        writeAll(new Random(Pages.seed("RemoteStore.leaving")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        tier.toReplace = h -> true;
        tier.leaving = h -> true;
        tier.refuse = true;
        tier.epoch = 1;
        Repairer repairer = new Repairer(moves, knobs, PAGE + 64, clock);
        for (int lap = 0; lap < LAPS && counters.get(Counter.REMOTE_PERS_PAGES) > 0; lap++) {
            idleAdvance(repairer.doWork(), 100);
        }
        assertEquals(0, counters.get(Counter.REMOTE_PERS_PAGES));
        assertEquals(remote, counters.get(Counter.REPATRIATED_PAGES));
        assertEquals(0, counters.get(Counter.REMOTE_PAGES_TO_REPLACE));
        assertEquals(0, tier.pages.size(), "the copies on the leaving lender were deleted");
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldKeepTheLocalPoolNearItsTarget() {
        writeAll(new Random(Pages.seed("RemoteStore.target")));
        long target = counters.get(Counter.PERS_ZBYTES) / 2;
        knobs.set(Knob.LOCAL_TARGET_BYTES, target);
        remotify();
        long left = counters.get(Counter.PERS_ZBYTES);
        assertTrue(
                left <= target && left > target - (long) Remotifier.BATCH_PAGES * Remotifier.IN_FLIGHT * PAGE,
                "local bytes " + left + " for a target of " + target);
        assertTrue(counters.get(Counter.REMOTE_PERS_PAGES) > 0);
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldDeleteTheRemoteCopyWhenABlockIsOverwrittenPatchedOrDiscarded() {
        Random r = new Random(Pages.seed("RemoteStore.overwrite"));
        writeAll(r);
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        // whole overwrite
        expected[0] = Pages.random(r, "text");
        assertEquals(IoResult.DONE, store.write(expected[0], 0, 0, PAGE));
        // partial overwrite: the rest of the block comes from the remote copy
        byte[] patch = Pages.random(r, "random");
        assertEquals(IoResult.DONE, store.write(patch, 0, PAGE + 1000, 1500));
        System.arraycopy(patch, 0, expected[1], 1000, 1500);
        // discard of a range that starts and ends inside blocks
        assertEquals(IoResult.DONE, store.discard(10L * PAGE + 2048, 4L * PAGE));
        Arrays.fill(expected[10], 2048, PAGE, (byte) 0);
        for (int b = 11; b < 14; b++) {
            expected[b] = new byte[PAGE];
        }
        Arrays.fill(expected[14], 0, 2048, (byte) 0);
        assertReadsBack();
        assertCountersAgreeWithTable(store, counters);
        assertEquals(remote, tier.forgotten + counters.get(Counter.REMOTE_PERS_PAGES));
        assertEquals(
                counters.get(Counter.REMOTE_PERS_PAGES),
                tier.pages.size(),
                "the tier holds only pages of blocks still remote");
        // everything freed: nothing is left remote
        assertEquals(IoResult.DONE, store.discard(0, SIZE));
        assertEquals(0, tier.pages.size());
        assertCountersAgreeWithTable(store, counters);
    }

    @Test
    void shouldNotCommitAMoveOfABlockWrittenWhileItWasBeingSent() {
        Random r = new Random(Pages.seed("RemoteStore.race"));
        writeAll(r);
        RemoteTier.Batch b = new RemoteTier.Batch(8, PAGE + 64);
        assertEquals(8, remotifier().collectCold(b, 8, BLOCKS, true));
        int changed = b.blocks[3];
        expected[changed] = Pages.random(r, "text");
        assertEquals(IoResult.DONE, store.write(expected[changed], 0, (long) changed * PAGE, PAGE));
        int discarded = b.blocks[5];
        assertEquals(IoResult.DONE, store.discard((long) discarded * PAGE, PAGE));
        expected[discarded] = new byte[PAGE];
        remotifier().commitMoved(b, tier.send(b).join());
        assertEquals(2, counters.get(Counter.PERS_PAGES_REMOTE_RACED));
        assertEquals(6, counters.get(Counter.REMOTE_PERS_PAGES));
        assertEquals(6, tier.pages.size(), "the copies of the changed blocks were deleted");
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldAnswerEioAndCountWhenARemotePageCannotBeRead() {
        writeAll(new Random(Pages.seed("RemoteStore.fail")));
        remotify();
        byte[] back = new byte[PAGE];
        int remoteBlock = 0;
        while (BlockTable.state(store.table().peek(remoteBlock)) != BlockTable.STATE_REMOTE) {
            remoteBlock++;
        }
        tier.forced = RemoteTier.TIMEOUT;
        assertEquals(IoResult.REMOTE_FAILED, store.read(back, 0, (long) remoteBlock * PAGE, PAGE));
        tier.forced = RemoteTier.UNAUTHENTIC;
        assertEquals(IoResult.REMOTE_FAILED, store.read(back, 0, (long) remoteBlock * PAGE, PAGE));
        assertEquals(
                IoResult.REMOTE_FAILED,
                store.write(back, 0, (long) remoteBlock * PAGE + 1, 10),
                "a partial write needs the rest of the block");
        tier.forced = 0;
        tier.pages.remove(store.table().peek(remoteBlock) & BlockTable.HANDLE_MASK);
        assertEquals(IoResult.REMOTE_FAILED, store.read(back, 0, (long) remoteBlock * PAGE, PAGE));
        assertEquals(1, counters.get(Counter.REMOTE_GET_TIMEOUTS));
        assertEquals(2, counters.get(Counter.REMOTE_GET_UNAUTHENTIC));
        assertEquals(1, counters.get(Counter.REMOTE_GET_MISSING));
        assertEquals(4, counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET));
        assertEquals(4, counters.get(Counter.REMOTE_FAILED_REQUESTS));
        // the block is still there to write whole, and everything else reads back
        assertEquals(IoResult.DONE, store.write(expected[remoteBlock], 0, (long) remoteBlock * PAGE, PAGE));
        assertReadsBack();
    }

    @Test
    void shouldReadABlockBroughtHomeWhileItsFetchTravelled() {
        Random r = new Random(Pages.seed("RemoteStore.moved"));
        writeAll(r);
        remotify();
        int block = 0;
        while (BlockTable.state(store.table().peek(block)) != BlockTable.STATE_REMOTE) {
            block++;
        }
        int moved = block;
        tier.beforeNextFetch =
                () -> assertEquals(1, repatriator().bringHome(new int[] {moved}, 1, Counter.REPATRIATED_PAGES));
        byte[] back = new byte[PAGE];
        assertEquals(IoResult.DONE, store.read(back, 0, (long) block * PAGE, PAGE));
        assertArrayEquals(expected[block], back);
        assertEquals(0, counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET));
        assertEquals(BlockTable.STATE_LOCAL, BlockTable.state(store.table().peek(block)));
        // and a partial write that raced the same way keeps the block's other bytes
        remotify();
        tier.beforeNextFetch =
                () -> assertEquals(1, repatriator().bringHome(new int[] {moved}, 1, Counter.REPATRIATED_PAGES));
        byte[] patch = Pages.random(r, "random");
        assertEquals(IoResult.DONE, store.write(patch, 0, (long) block * PAGE + 7, 100));
        System.arraycopy(patch, 0, expected[block], 7, 100);
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldBringEveryPageHomeOnADrainAndThenStop() {
        writeAll(new Random(Pages.seed("RemoteStore.drain")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        assertTrue(remote > 0);
        knobs.set(Knob.REPATRIATE_ALL, 1);
        Repatriator home = new Repatriator(moves, knobs, () -> true, clock);
        for (int i = 0; i < 10_000 && knobs.get(Knob.REPATRIATE_ALL) == 1; i++) {
            home.doWork();
        }
        assertEquals(0, knobs.get(Knob.REPATRIATE_ALL));
        assertEquals(0, counters.get(Counter.REMOTE_PERS_PAGES));
        assertEquals(remote, counters.get(Counter.REPATRIATED_PAGES));
        assertEquals(0, tier.pages.size());
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldWaitForTheSendsInFlightBeforeADrainEnds() {
        Random r = new Random(Pages.seed("RemoteStore.drainInFlight"));
        writeAll(r);
        remotify();
        // eight blocks written again, local, and a batch of them in flight when the drain starts
        for (int b = 0; b < 8; b++) {
            expected[b] = Pages.random(r, "random");
            assertEquals(IoResult.DONE, store.write(expected[b], 0, (long) b * PAGE, PAGE));
        }
        RemoteTier.Batch batch = new RemoteTier.Batch(8, PAGE + 64);
        assertEquals(8, remotifier().collectCold(batch, 8, BLOCKS, true));
        RemoteTier.Sent sent = tier.send(batch).join();
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 0);
        knobs.set(Knob.REPATRIATE_ALL, 1);
        Repatriator home = new Repatriator(moves, knobs, () -> true, clock);
        for (int i = 0; i < 10_000 && counters.get(Counter.REMOTE_PERS_PAGES) > 0; i++) {
            home.doWork();
        }
        for (int i = 0; i < 10_000; i++) { // the hand goes round and round the table, finding nothing remote
            home.doWork();
        }
        assertEquals(1, knobs.get(Knob.REPATRIATE_ALL), "the drain waits while a send is in flight");
        remotifier().commitMoved(batch, sent); // the send lands: eight pages remote, behind the hand
        assertEquals(8, counters.get(Counter.REMOTE_PERS_PAGES));
        for (int i = 0; i < 10_000 && knobs.get(Knob.REPATRIATE_ALL) == 1; i++) {
            home.doWork();
        }
        assertEquals(0, knobs.get(Knob.REPATRIATE_ALL), "the drain ended");
        assertEquals(0, counters.get(Counter.REMOTE_PERS_PAGES), "the pages sent during the drain came home too");
        assertEquals(0, tier.pages.size());
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldSelfShrinkByAHysteresisFractionOnceRemotePagesStopGrowing() {
        writeAll(new Random(Pages.seed("RemoteStore.selfshrink")));
        remotify();
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 0);
        knobs.set(Knob.SELFSHRINK_INTERVAL, 1);
        knobs.set(Knob.FRONTSWAP_INERTIA, 1);
        knobs.set(Knob.FRONTSWAP_HYSTERESIS, 4);
        Repatriator home = new Repatriator(moves, knobs, () -> true, clock);
        for (int lap = 0; lap < LAPS && clock.nanoTime() < 4_500_000_000L; lap++) {
            idleAdvance(home.doWork(), 5);
        }
        // samples at 0, 1, 2, 3, 4 s: the first sets the level, the second is the inertia, then three steps of 1/4
        long left = counters.get(Counter.REMOTE_PERS_PAGES);
        assertTrue(left < remote && left >= remote * 27 / 64 - 3, remote + " remote pages, " + left + " left");
        assertEquals(remote - left, counters.get(Counter.REPATRIATED_PAGES));
        assertCountersAgreeWithTable(store, counters);
        assertReadsBack();
    }

    @Test
    void shouldNotSelfShrinkWithoutMemoryToSpare() {
        writeAll(new Random(Pages.seed("RemoteStore.nospare")));
        remotify();
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 0);
        knobs.set(Knob.SELFSHRINK_INTERVAL, 1);
        knobs.set(Knob.FRONTSWAP_INERTIA, 0);
        AtomicInteger asked = new AtomicInteger();
        Repatriator home = new Repatriator(
                moves,
                knobs,
                () -> {
                    asked.incrementAndGet();
                    return false;
                },
                clock);
        for (int lap = 0; lap < LAPS && clock.nanoTime() < 2_200_000_000L; lap++) {
            idleAdvance(home.doWork(), 5);
        }
        assertTrue(asked.get() > 0, "the repatriator asked whether memory was to spare");
        assertEquals(0, counters.get(Counter.REPATRIATED_PAGES));
    }

    /** A remotifier of this test's store, for its cold scan and commit. */
    private Remotifier remotifier() {
        if (remotifier == null) {
            remotifier = new Remotifier(moves, knobs, PAGE + 64, clock);
        }
        return remotifier;
    }

    /** A repatriator of this test's store, to bring blocks home by hand. */
    private Repatriator repatriator() {
        if (repatriator == null) {
            repatriator = new Repatriator(moves, knobs, () -> true, clock);
        }
        return repatriator;
    }
}
