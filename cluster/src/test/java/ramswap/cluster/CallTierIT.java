package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.Serializable;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Callable;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.AgentRunner;
import org.junit.jupiter.api.Test;
import ramswap.move.Moves;
import ramswap.move.Remotifier;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.FetchSlot;
import ramswap.store.IoResult;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.LocalPool;
import ramswap.store.RemoteTier;
import ramswap.store.RemoteTier.Batch;
import ramswap.store.RemoteTier.Sent;
import ramswap.store.SwapStore;
import ramswap.sys.Posix;

/** The call tier on real members: lenders that serve page calls from their own stores, a lite borrower. */
class CallTierIT {

    private static final int PAGE = 4096;

    /** Lenders 1 and 2 with 64 MiB each, and a lite borrower, node 5, whose targets are 1 and 2. */
    private record Three(Lending one, Lending two, ClusterMember borrower, Knobs knobs) {}

    private static Three three(TestCluster cluster) throws ClusterException {
        Lending one = Lending.start(cluster, 1, 64L << 20);
        Lending two = Lending.start(cluster, 2, 64L << 20);
        ClusterMember borrower = cluster.startLite(5);
        TestCluster.await("three members", () -> borrower.memberCount() == 3);
        Knobs knobs = new Knobs();
        assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, "1,2"));
        return new Three(one, two, borrower, knobs);
    }

    @Test
    void shouldSendTwoCopiesReadThemFreeThemAndReadTheSecondWhenALenderIsGone() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Three t = three(cluster);
            Counters counters = new Counters();
            CallTier tier = cluster.own(CallTier.start(t.borrower(), t.knobs(), counters, 42, Duration.ofSeconds(10)));
            assertTrue(tier.canSend());

            Batch b = TestPages.batch(100, 1);
            Sent sent = tier.send(b).get(10, TimeUnit.SECONDS);
            for (int k = 0; k < b.count; k++) {
                assertTrue(sent.handles[k] >= 0, "page " + k + ": " + sent.handles[k]);
                assertEquals(2, tier.copies(sent.handles[k]));
            }
            assertEquals(100, t.one().store().pages(), "first copies on the first target");
            assertEquals(100, t.two().store().pages(), "second copies on the next");

            byte[][] into = new byte[b.count][PAGE];
            int[] lengths = new int[b.count];
            tier.fetch(b.count, b.blocks, b.generations, sent.handles, into, lengths, 5000);
            for (int k = 0; k < b.count; k++) {
                assertEquals(b.lengths[k], lengths[k], "page " + k);
                assertArrayEquals(Arrays.copyOf(b.pages[k], b.lengths[k]), Arrays.copyOf(into[k], lengths[k]));
            }

            for (int k = 0; k < 40; k++) {
                tier.forget(sent.handles[k]);
            }
            tier.agents().get(0).doWork();
            TestCluster.await(
                    "40 pages freed on both, and counted when the lenders answered",
                    () -> t.one().store().pages() == 60
                            && t.two().store().pages() == 60
                            && counters.get(Counter.REMOTE_PAGES_FLUSHED) == 80);

            t.one().lender().close();
            t.one().member().close();
            TestCluster.await("the first lender gone", () -> t.borrower().memberCount() == 2);
            long h = sent.handles[50];
            assertTrue(tier.needsReplacing(h), "its first copy left with the lender");
            assertFalse(tier.lost(h), "the second copy is there");
            Arrays.fill(lengths, 0);
            tier.fetch(
                    60,
                    Arrays.copyOfRange(b.blocks, 40, 100),
                    Arrays.copyOfRange(b.generations, 40, 100),
                    Arrays.copyOfRange(sent.handles, 40, 100),
                    into,
                    lengths,
                    5000);
            for (int k = 0; k < 60; k++) {
                assertEquals(b.lengths[40 + k], lengths[k], "page " + (40 + k) + " from its second copy");
            }
            assertEquals(60, counters.get(Counter.REMOTE_READS_SECOND_COPY));

            tier.deleteAllPages(Duration.ofSeconds(10));
            assertEquals(0, t.two().store().pages(), "a borrower that stops drops what it left");
        }
    }

    @Test
    void shouldSendPastAFullLenderAndKeepWhatNoLenderTakes() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Lending small = Lending.start(cluster, 1, 2 * ramswap.store.LocalPool.SLAB_BYTES);
            Lending big = Lending.start(cluster, 2, 64L << 20);
            ClusterMember borrower = cluster.startLite(5);
            TestCluster.await("three members", () -> borrower.memberCount() == 3);
            Knobs knobs = new Knobs();
            Counters counters = new Counters();
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, "1,2"));
            assertEquals(null, knobs.set(Knob.REMOTE_COPIES, 1));
            CallTier tier = cluster.own(CallTier.start(borrower, knobs, counters, 43, Duration.ofSeconds(10)));
            Batch b = TestPages.batch(300, 2);
            Sent sent = tier.send(b).get(10, TimeUnit.SECONDS);
            int onSmall = small.store().pages();
            assertTrue(onSmall > 0 && onSmall < 300, onSmall + " on the small lender");
            assertEquals(300 - onSmall, big.store().pages(), "the rest went on to the next target");
            for (long h : sent.handles) {
                assertTrue(h >= 0);
                assertEquals(1, tier.copies(h));
            }
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, "1"));
            Sent refused = tier.send(TestPages.batch(300, 3)).get(10, TimeUnit.SECONDS);
            assertEquals(RemoteTier.REFUSED, refused.handles[299], "the only target is full");
            assertTrue(counters.get(Counter.PERS_PAGES_LOCAL_TARGETS_FULL) > 0);
        }
    }

    @Test
    void shouldMovePagesOffALenderThatLeavesAndSendItNoMore() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Three t = three(cluster);
            CallTier tier =
                    cluster.own(CallTier.start(t.borrower(), t.knobs(), new Counters(), 44, Duration.ofSeconds(10)));
            Sent before = tier.send(TestPages.batch(20, 4)).get(10, TimeUnit.SECONDS);
            assertEquals(20, t.one().lender().heldOfPresentNodes(), "a present borrower's pages are handed over");
            long epoch = tier.placementEpoch();

            t.one().lender().announceLeaving();
            TestCluster.await("the borrower sees the lender leaving", () -> tier.leaving(before.handles[0]));
            assertTrue(tier.needsReplacing(before.handles[0]), "its pages are due to move off it");
            assertTrue(tier.placementEpoch() != epoch, "a repair sweep is due");
            Sent after = tier.send(TestPages.batch(20, 5)).get(10, TimeUnit.SECONDS);
            assertEquals(20, t.one().store().pages(), "nothing more goes to a leaving lender");
            assertEquals(40, t.two().store().pages());
            assertEquals(1, tier.copies(after.handles[0]), "no other target for a second copy");
            assertFalse(tier.leaving(after.handles[0]));

            t.one().lender().stayAfterAll();
            TestCluster.await("the lender stays after all", () -> !tier.leaving(before.handles[0]));
            assertFalse(tier.needsReplacing(before.handles[0]));
        }
    }

    @Test
    void shouldFreeACopyNoBlockUsesOnceFoundSoTwiceFarApart() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Lending one = Lending.start(cluster, 1, 64L << 20);
            ClusterMember borrower = cluster.startLite(5);
            TestCluster.await("two members", () -> borrower.memberCount() == 2);
            Knobs knobs = new Knobs();
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, "1"));
            SteppedClock clock = new SteppedClock();
            CallTier tier =
                    cluster.own(CallTier.start(borrower, knobs, new Counters(), 45, Duration.ofSeconds(10), clock));
            Sent sent = tier.send(TestPages.batch(10, 6)).get(10, TimeUnit.SECONDS);
            long leaked = sent.handles[3]; // sent, but no block took it (a move given up)
            java.util.function.LongPredicate live = h -> h != leaked;
            assertEquals(0, tier.sweepLeaks(live), "found once: a send may still be committing it");
            clock.step(CallTier.LEAK_CONFIRM.minusSeconds(1));
            assertEquals(0, tier.sweepLeaks(live));
            clock.step(Duration.ofSeconds(2));
            assertEquals(1, tier.sweepLeaks(live), "found so again, far enough apart");
            tier.agents().get(0).doWork();
            TestCluster.await("the leaked copy freed", () -> one.store().pages() == 9);
            assertEquals(9, tier.placedPages(), "its place forgotten with it");
            assertEquals(0, tier.sweepLeaks(h -> true), "nothing else is a leak");
        }
    }

    @Test
    void shouldFreeACopyOnALenderItsPlaceDoesNotNameAndForgetAHandleOnce() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Three t = three(cluster);
            assertEquals(null, t.knobs().set(Knob.REMOTE_COPIES, "1"));
            SteppedClock clock = new SteppedClock();
            CallTier tier = cluster.own(
                    CallTier.start(t.borrower(), t.knobs(), new Counters(), 47, Duration.ofSeconds(10), clock));
            Batch b = TestPages.batch(10, 8);
            Sent sent = tier.send(b).get(10, TimeUnit.SECONDS);
            assertEquals(10, t.one().store().pages(), "every first copy on the first target");
            // a store call to lender 2 that failed after it stored: the batch then went to lender 1
            // under the same handles, so lender 2 keeps a copy under a handle that is live
            long stray = RemoteKey.of(5, 47, sent.handles[4]);
            assertTrue(t.two().store().put(stray, b.pages[4], 0, b.lengths[4]));
            // and the store forgot handle 7, whose free then failed: its copy stays on lender 1
            long forgotten = sent.handles[7];
            java.util.function.LongPredicate live = h -> h != forgotten;
            tier.forget(forgotten);
            tier.forget(forgotten); // forgetting again changes nothing
            assertEquals(9, tier.placedPages());
            tier.agents().get(0).doWork();
            TestCluster.await("the forgotten copy freed", () -> t.one().store().pages() == 9);
            assertTrue(t.one().store().put(RemoteKey.of(5, 47, forgotten), b.pages[7], 0, b.lengths[7]));

            assertEquals(0, tier.sweepLeaks(live), "found once");
            clock.step(CallTier.LEAK_CONFIRM.plusSeconds(1));
            assertEquals(2, tier.sweepLeaks(live), "the stray copy and the forgotten one");
            assertEquals(9, tier.placedPages(), "the forgotten handle is not forgotten twice");
            tier.agents().get(0).doWork();
            TestCluster.await(
                    "both freed",
                    () -> t.two().store().pages() == 0 && t.one().store().pages() == 9);
            assertEquals(0, tier.sweepLeaks(live), "nothing else is a leak");

            byte[][] into = new byte[b.count][PAGE];
            int[] lengths = new int[b.count];
            tier.fetch(b.count, b.blocks, b.generations, sent.handles, into, lengths, 5000);
            for (int k = 0; k < b.count; k++) {
                if (k != 7) {
                    assertEquals(b.lengths[k], lengths[k], "page " + k);
                    assertArrayEquals(
                            Arrays.copyOf(b.pages[k], b.lengths[k]), Arrays.copyOf(into[k], lengths[k]), "page " + k);
                }
            }
        }
    }

    @Test
    void shouldReadACopyOnALenderJustGoneAsNoAnswerAndLaterAsMissing() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Lending one = Lending.start(cluster, 1, 64L << 20);
            ClusterMember borrower = cluster.startLite(5);
            TestCluster.await("two members", () -> borrower.memberCount() == 2);
            Knobs knobs = new Knobs();
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, "1"));
            SteppedClock clock = new SteppedClock();
            CallTier tier =
                    cluster.own(CallTier.start(borrower, knobs, new Counters(), 46, Duration.ofSeconds(10), clock));
            Batch b = TestPages.batch(5, 7);
            Sent sent = tier.send(b).get(10, TimeUnit.SECONDS);
            one.lender().close();
            one.member().close();
            TestCluster.await("the lender gone", () -> borrower.memberCount() == 1);
            byte[][] into = new byte[b.count][PAGE];
            int[] lengths = new int[b.count];
            tier.fetch(b.count, b.blocks, b.generations, sent.handles, into, lengths, 2000);
            for (int code : lengths) {
                assertEquals(RemoteTier.TIMEOUT, code, "a split may heal: not given up yet");
            }
            assertTrue(tier.lost(sent.handles[0]), "its only copy is with a lender that is not here");
            clock.step(CallTier.REJOIN_WINDOW);
            tier.fetch(b.count, b.blocks, b.generations, sent.handles, into, lengths, 2000);
            for (int code : lengths) {
                assertEquals(RemoteTier.MISSING, code, "gone for longer than a split takes to heal");
            }
        }
    }

    @Test
    void shouldAskForASecondCopyOnceASecondLenderJoins() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Lending.start(cluster, 1, 64L << 20);
            ClusterMember borrower = cluster.startLite(5);
            TestCluster.await("two members", () -> borrower.memberCount() == 2);
            Knobs knobs = new Knobs();
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, "1,2"));
            CallTier tier = cluster.own(CallTier.start(borrower, knobs, new Counters(), 47, Duration.ofSeconds(10)));
            Sent sent = tier.send(TestPages.batch(5, 8)).get(10, TimeUnit.SECONDS);
            assertEquals(1, tier.copies(sent.handles[0]), "one lender: one copy");
            assertFalse(tier.needsReplacing(sent.handles[0]), "no other lender could take a second");
            Lending.start(cluster, 2, 64L << 20);
            TestCluster.await("the second lender", () -> borrower.memberCount() == 3);
            assertTrue(tier.needsReplacing(sent.handles[0]), "now a second copy can be had");
        }
    }

    @Test
    void shouldFreeTheStoresPagesOfANodeGoneForTheGraceOnTheMapsClock() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Lending one = Lending.start(cluster, 1, 64L << 20);
            byte[] page = new byte[100];
            for (int i = 0; i < 10; i++) {
                assertTrue(one.store().put(RemoteKey.of(9, 1, i), page, 0, page.length)); // node 9 is not here
                assertTrue(one.store().put(RemoteKey.of(1, 1, i), page, 0, page.length)); // node 1 is
            }
            assertEquals(0, one.lender().sweepOrphans(), "absent since now: within the grace");
            one.clock().step(Duration.ofSeconds(one.knobs().get(Knob.ORPHAN_GRACE_SECONDS) + 1));
            assertEquals(10, one.lender().sweepOrphans(), "gone for the grace");
            assertEquals(10, one.store().pages(), "a present node's pages stay");
            assertFalse(one.store().contains(RemoteKey.of(9, 1, 0)));
        }
    }

    @Test
    void shouldAnswerUnauthenticForAnAlteredPageAndForAnotherBlockOrGeneration() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Three t = three(cluster);
            CallTier tier =
                    cluster.own(CallTier.start(t.borrower(), t.knobs(), new Counters(), 45, Duration.ofSeconds(10)));
            Batch b = TestPages.batch(3, 2);
            Sent sent = tier.send(b).get(10, TimeUnit.SECONDS);
            for (Lending l : new Lending[] {t.one(), t.two()}) { // both copies of page 0, as a lender could
                java.util.List<Long> keys = new java.util.ArrayList<>();
                l.store().forEachKey(key -> {
                    if ((RemoteKey.sequence(key) & ~RemoteKey.COPY_BIT) == sent.handles[0]) {
                        keys.add(key);
                    }
                });
                assertEquals(1, keys.size(), "one copy of page 0 on each lender");
                byte[] sealed = l.store().get(keys.get(0));
                sealed[PageSeal.NONCE_BYTES + 1] ^= 1;
                assertTrue(l.store().remove(keys.get(0)));
                assertTrue(l.store().put(keys.get(0), sealed, 0, sealed.length));
            }
            b.blocks[1]++; // page 1 asked for under another block
            b.generations[2]++; // page 2 under another generation
            byte[][] got = TestPages.pages(3);
            int[] lengths = new int[3];
            tier.fetch(3, b.blocks, b.generations, sent.handles, got, lengths, 5000);

            assertArrayEquals(
                    new int[] {RemoteTier.UNAUTHENTIC, RemoteTier.UNAUTHENTIC, RemoteTier.UNAUTHENTIC}, lengths);
            for (byte[] page : got) {
                assertArrayEquals(new byte[PAGE], page, "bytes that failed authentication were handed out");
            }
        }
    }

    @Test
    void shouldDropThePagesOfThisNodesEarlierLifeAtStart() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            Three t = three(cluster);
            ClusterMember other = cluster.startLite(6);
            TestCluster.await("four members", () -> other.memberCount() == 4);
            CallTier first = CallTier.start(t.borrower(), t.knobs(), new Counters(), 1, Duration.ofSeconds(10));
            CallTier others = cluster.own(CallTier.start(other, t.knobs(), new Counters(), 1, Duration.ofSeconds(10)));
            first.send(TestPages.batch(20, 10)).get(10, TimeUnit.SECONDS);
            others.send(TestPages.batch(5, 11)).get(10, TimeUnit.SECONDS);
            assertEquals(25, t.one().store().pages());
            first.close(); // a daemon that died: its pages stay on the lenders

            cluster.own(CallTier.start(t.borrower(), t.knobs(), new Counters(), 2, Duration.ofSeconds(10)));

            for (Lending l : new Lending[] {t.one(), t.two()}) {
                assertEquals(5, l.store().pages(), "only node 6's pages are left");
                l.store().forEachKey(key -> assertEquals(6, RemoteKey.node(key)));
            }
        }
    }

    /** Holds one of a lender's page-call threads for a while: its read calls wait in the queue. */
    static final class Busy implements Callable<Integer>, Serializable {
        private static final long serialVersionUID = 1L;
        static final AtomicInteger RUNNING = new AtomicInteger();
        private final long millis;

        Busy(long millis) {
            this.millis = millis;
        }

        @Override
        public Integer call() throws InterruptedException {
            RUNNING.incrementAndGet();
            try {
                Thread.sleep(millis);
            } finally {
                RUNNING.decrementAndGet();
            }
            return 0;
        }
    }

    /** Keeps every page-call thread of {@code lender} busy for {@code millis}. */
    private static void hold(Three t, Lending lender, long millis) {
        int before = Busy.RUNNING.get();
        for (int i = 0; i < 2; i++) { // PageCall's pool size
            var ignored = t.borrower()
                    .hazelcast()
                    .getExecutorService(PageCall.EXECUTOR_NAME)
                    .submitToMember(
                            new Busy(millis),
                            lender.member().hazelcast().getCluster().getLocalMember());
        }
        TestCluster.await("the lender's page-call threads busy", () -> Busy.RUNNING.get() == before + 2);
    }

    @Test
    void shouldAnswerParkedReadsOnTheTiersThreadsBindLateAndAnswerWhatWaitsAtTheDeadline() throws Exception {
        int blocks = 64;
        try (TestCluster cluster = new TestCluster(FreePorts.base());
                LocalPool pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0)) {
            Three t = three(cluster);
            Counters counters = new Counters();
            CallTier tier = cluster.own(CallTier.start(t.borrower(), t.knobs(), counters, 44, Duration.ofSeconds(10)));
            SwapStore store = new SwapStore((long) blocks * PAGE, pool, counters);
            AtomicLong timeoutMillis = new AtomicLong(10_000);
            store.useRemote(tier, timeoutMillis::get);
            AgentRunner timer = TestCluster.startAgent(tier.agents(), CallTier.FetchTimer.class);
            try {
                byte[][] expected = new byte[blocks][PAGE];
                Random r = new Random(23);
                for (int b = 0; b < blocks; b++) {
                    for (int i = 0; i < PAGE; i += 64) {
                        expected[b][i] = (byte) r.nextInt(); // sparse bytes: compressible, never same-filled
                    }
                    assertEquals(IoResult.DONE, store.write(expected[b], 0, (long) b * PAGE, PAGE));
                }
                t.knobs().set(Knob.PERS_REMOTIFY_ENABLE, 1);
                Remotifier remotifier = new Remotifier(new Moves(store), t.knobs(), PAGE + 64);
                TestCluster.await("every page on the lenders, two copies", () -> {
                    remotifier.doWork();
                    return counters.get(Counter.REMOTE_PERS_PAGES) == blocks
                            && t.two().store().pages() == blocks;
                });
                remotifier.onClose();

                BlockingQueue<Object[]> answers = new LinkedBlockingQueue<>();
                FetchSlot slot = new FetchSlot(0, store.compressedPageBytes(), (s, result) -> {
                    byte[] bytes = Arrays.copyOf(s.data(), s.length());
                    s.release(); // before the test hears of it: its next read takes this slot again
                    answers.add(
                            new Object[] {result, bytes, Thread.currentThread().getName()});
                });
                FetchSlot.Source source = () -> slot.claim(1) ? slot : null;
                byte[] dst = new byte[32 * PAGE];

                assertEquals(IoResult.PARKED, store.read(dst, 0, 0, 32 * PAGE, source));
                Object[] a = answers.poll(10, TimeUnit.SECONDS);
                assertNotNull(a, "a parked read was never answered");
                assertEquals(IoResult.DONE, a[0]);
                for (int i = 0; i < 32; i++) {
                    assertArrayEquals(
                            expected[i], Arrays.copyOfRange((byte[]) a[1], i * PAGE, (i + 1) * PAGE), "block " + i);
                }
                assertTrue(
                        a[2].equals("ramswap-call-answers")
                                || a[2].equals(Thread.currentThread().getName()),
                        "answered on a thread of the tier's own (or the reader's, if the answer came first), not on"
                                + " one that comes and goes: " + a[2]);

                long secondBefore = counters.get(Counter.REMOTE_READS_SECOND_COPY); // the first reads may bind late too
                hold(t, t.one(), 3_000); // the first copies' lender answers late
                assertEquals(IoResult.PARKED, store.read(dst, 0, 32L * PAGE, 8 * PAGE, source));
                a = answers.poll(2, TimeUnit.SECONDS);
                assertNotNull(a, "a read whose first copies' lender is slow was not answered from the second");
                assertEquals(IoResult.DONE, a[0]);
                for (int i = 0; i < 8; i++) {
                    assertArrayEquals(
                            expected[32 + i],
                            Arrays.copyOfRange((byte[]) a[1], i * PAGE, (i + 1) * PAGE),
                            "block " + (32 + i));
                }
                // counted by the answering thread just after the answer that completed the read
                TestCluster.await(
                        "8 reads of the second copy counted",
                        () -> counters.get(Counter.REMOTE_READS_SECOND_COPY) == secondBefore + 8);

                hold(t, t.two(), 3_000); // now neither lender answers in time
                timeoutMillis.set(300);
                assertEquals(IoResult.PARKED, store.read(dst, 0, 48L * PAGE, 4 * PAGE, source));
                a = answers.poll(2, TimeUnit.SECONDS);
                assertNotNull(a, "a read neither lender answers was not answered at its deadline");
                assertEquals(IoResult.REMOTE_FAILED, a[0]);
                assertEquals(4, counters.get(Counter.REMOTE_GET_TIMEOUTS));
                assertTrue(answers.isEmpty(), "one answer per read");
                TestCluster.await("the lenders free again", () -> Busy.RUNNING.get() == 0);
                assertTrue(answers.isEmpty(), "no answer after the deadline's");
                assertTrue(slot.free());
            } finally {
                timer.close();
            }
        }
    }
}
