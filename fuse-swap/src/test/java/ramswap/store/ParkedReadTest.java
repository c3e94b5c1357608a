package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import ramswap.move.Moves;
import ramswap.move.Remotifier;
import ramswap.move.Repatriator;
import ramswap.sys.Posix;

/**
 * The life of a read parked on its remote pages ({@link FetchSlot}): one answer per request on
 * every edge (pages answered from another thread, two copies answering the same page, the
 * deadline before the pages, a late answer after the deadline or after the slot was reused, a
 * block that moved while its fetch travelled, an abort at unmount), and the right bytes in it.
 * The tier here answers from its own thread, as Hazelcast's response threads do; the Hazelcast
 * tier's side of it runs against real members in the multi-daemon tests.
 */
class ParkedReadTest {

    private static final int PAGE = BlockCodec.BLOCK_SIZE;
    private static final int BLOCKS = 256;

    private final LocalPool pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0);
    private final Counters counters = new Counters();
    private final SwapStore store = new SwapStore((long) BLOCKS * PAGE, pool, counters);
    private final Knobs knobs = new Knobs();
    private final byte[][] expected = new byte[BLOCKS][];
    /** What each park was answered: one entry per completion. */
    private final BlockingQueue<Object[]> answers = new LinkedBlockingQueue<>();

    private final AtomicInteger completions = new AtomicInteger();

    /** A tier that answers parked rounds only when the test says: from a thread of the test's choosing. */
    static final class HeldTier extends RemoteStoreTest.MapTier {
        final List<FetchSlot> asked = new ArrayList<>();
        final List<Integer> rounds = new ArrayList<>();

        @Override
        public synchronized void fetch(FetchSlot slot) {
            asked.add(slot);
            rounds.add(slot.round());
        }

        /** Answers round {@code round} of {@code slot} from the map, every page; true for each page this call answered. */
        synchronized int answerFromMap(FetchSlot slot, int round) {
            int n = slot.count();
            int[] blocks = new int[n];
            int[] generations = new int[n];
            long[] handles = new long[n];
            byte[][] pages = new byte[n][slot.pageCapacity()];
            int[] lengths = new int[n];
            for (int k = 0; k < n; k++) {
                blocks[k] = slot.block(k);
                generations[k] = slot.generation(k);
                handles[k] = slot.handle(k);
            }
            super.fetch(n, blocks, generations, handles, pages, lengths, 1_000);
            int won = 0;
            for (int k = 0; k < n; k++) {
                won += slot.answer(round, k, lengths[k] >= 0 ? pages[k] : null, lengths[k]) ? 1 : 0;
            }
            return won;
        }
    }

    private final HeldTier tier = new HeldTier();
    private final FetchSlot slot = new FetchSlot(0, store.compressedPageBytes(), this::completed);

    ParkedReadTest() {
        store.useRemote(tier, () -> 1_000);
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 1);
    }

    @AfterEach
    void closePool() {
        pool.close();
    }

    private void completed(FetchSlot s, IoResult result) {
        completions.incrementAndGet();
        Object[] answer = {result, Arrays.copyOf(s.data(), s.length()), s.tag()};
        s.release(); // before the test hears of it: its next read may take this slot again
        answers.add(answer);
    }

    /** A source with one slot, claimed for request {@code tag}; null when the slot is not free. */
    private FetchSlot.Source source(long tag) {
        return () -> slot.claim(tag) ? slot : null;
    }

    private void writeAndSendAway() {
        Random r = new Random(Pages.seed("ParkedRead"));
        String[] kinds = {"text", "random", "text", "zero"};
        for (int b = 0; b < BLOCKS; b++) {
            expected[b] = Pages.random(r, kinds[b % kinds.length]);
            assertEquals(IoResult.DONE, store.write(expected[b], 0, (long) b * PAGE, PAGE));
        }
        org.agrona.concurrent.CachedNanoClock clock = new org.agrona.concurrent.CachedNanoClock();
        Remotifier remotifier = new Remotifier(new Moves(store), knobs, PAGE + 64, clock);
        for (int lap = 0; lap < 10_000 && counters.get(Counter.PERS_ZPAGES) > 0; lap++) {
            if (remotifier.doWork() == 0) {
                clock.advance(2_000_000L);
            }
        }
        remotifier.onClose();
        assertTrue(counters.get(Counter.REMOTE_PERS_PAGES) > BLOCKS / 2, "most pages are remote");
    }

    /** Blocks [first, first + count) as the file's bytes. */
    private byte[] expectedRange(int first, int count) {
        byte[] all = new byte[count * PAGE];
        for (int i = 0; i < count; i++) {
            System.arraycopy(expected[first + i], 0, all, i * PAGE, PAGE);
        }
        return all;
    }

    private Object[] answer() throws InterruptedException {
        Object[] a = answers.poll(10, TimeUnit.SECONDS);
        assertNotNull(a, "the parked read was never answered");
        return a;
    }

    @Test
    void shouldAnswerAParkedReadOnceFromTheThreadThatBringsItsLastPage() throws Exception {
        writeAndSendAway();
        byte[] dst = new byte[32 * PAGE];
        assertEquals(IoResult.PARKED, store.read(dst, 0, 0, 32 * PAGE, source(7)));
        assertEquals(1, tier.asked.size(), "one round for the request's remote pages");
        assertEquals(0, completions.get(), "not answered before its pages came");
        int round = tier.rounds.get(0);
        Thread lender = new Thread(() -> tier.answerFromMap(slot, round), "lender");
        lender.start();
        lender.join(10_000);
        Object[] a = answer();
        assertEquals(IoResult.DONE, a[0]);
        assertArrayEquals(expectedRange(0, 32), (byte[]) a[1], "local and remote pages, each in its place");
        assertEquals(7L, a[2]);
        // the second copy's answers of the same round come too late, and change nothing
        assertEquals(0, tier.answerFromMap(slot, round));
        assertEquals(1, completions.get());
        assertTrue(slot.free());
    }

    @Test
    void shouldAnswerTheDeadlineOnceAndIgnoreALateAnswerEvenAfterTheSlotWasReused() throws Exception {
        writeAndSendAway();
        byte[] dst = new byte[8 * PAGE];
        assertEquals(IoResult.PARKED, store.read(dst, 0, 8L * PAGE, 8 * PAGE, source(1)));
        int round = tier.rounds.get(0);
        // the deadline: the timer answers every page still waiting
        for (int k = 0; k < slot.count(); k++) {
            slot.answer(round, k, null, RemoteTier.TIMEOUT);
        }
        assertEquals(IoResult.REMOTE_FAILED, answer()[0]);
        assertEquals(1, counters.get(Counter.REMOTE_FAILED_REQUESTS));
        assertTrue(counters.get(Counter.REMOTE_GET_TIMEOUTS) > 0);
        // the slot serves the next request; the first one's pages arrive now
        assertEquals(IoResult.PARKED, store.read(dst, 0, 64L * PAGE, 8 * PAGE, source(2)));
        int second = tier.rounds.get(1);
        assertTrue(second != round);
        assertEquals(0, tier.answerFromMap(slot, round), "a late answer of the earlier request counts for nothing");
        assertEquals(1, completions.get());
        tier.answerFromMap(slot, second);
        Object[] a = answer();
        assertEquals(IoResult.DONE, a[0]);
        assertArrayEquals(expectedRange(64, 8), (byte[]) a[1]);
        assertEquals(2L, a[2]);
        assertEquals(2, completions.get());
    }

    @Test
    void shouldReadAgainABlockThatCameHomeWhileItsFetchTravelled() throws Exception {
        writeAndSendAway();
        int block = 0;
        while (BlockTable.state(store.table().peek(block)) != BlockTable.STATE_REMOTE) {
            block++;
        }
        byte[] dst = new byte[PAGE];
        assertEquals(IoResult.PARKED, store.read(dst, 0, (long) block * PAGE, PAGE, source(3)));
        assertEquals(
                1,
                new Repatriator(new Moves(store), knobs, () -> true)
                        .bringHome(new int[] {block}, 1, Counter.REPATRIATED_PAGES));
        tier.answerFromMap(slot, tier.rounds.get(0)); // the copy is gone: missing, and the block is home now
        Object[] a = answer();
        assertEquals(IoResult.DONE, a[0]);
        assertArrayEquals(expected[block], (byte[]) a[1]);
        assertEquals(0, counters.get(Counter.REMOTE_PERS_PAGES_UNSUCC_GET));
    }

    @Test
    void shouldLeaveAnAbortedReadToItsAbortAndIgnoreTheRoundsEnd() throws Exception {
        writeAndSendAway();
        byte[] dst = new byte[4 * PAGE];
        assertEquals(IoResult.PARKED, store.read(dst, 0, 0, 4 * PAGE, source(4)));
        assertTrue(slot.abort(), "a parked read is the abort's to answer");
        assertFalse(slot.abort(), "and only once");
        slot.release(); // the owner answered EIO
        tier.answerFromMap(slot, tier.rounds.get(0));
        assertEquals(0, completions.get(), "the round's end answers nothing more");
        assertTrue(slot.free());
    }

    @Test
    void shouldAnswerBeforeReturningWhenTheTierFetchesSynchronously() throws Exception {
        writeAndSendAway();
        RemoteStoreTest.MapTier plain = new RemoteStoreTest.MapTier();
        plain.pages.putAll(tier.pages);
        store.useRemote(plain, () -> 1_000);
        byte[] dst = new byte[16 * PAGE];
        assertEquals(IoResult.PARKED, store.read(dst, 0, 16L * PAGE, 16 * PAGE, source(5)));
        Object[] a = answer();
        assertEquals(IoResult.DONE, a[0]);
        assertArrayEquals(expectedRange(16, 16), (byte[]) a[1]);
        assertEquals(1, completions.get());
    }

    @Test
    void shouldReadOnTheCallingThreadWhenNoSlotIsFree() {
        writeAndSendAway();
        assertTrue(slot.claim(99)); // every slot parked
        byte[] dst = new byte[8 * PAGE];
        assertEquals(IoResult.DONE, store.read(dst, 0, 0, 8 * PAGE, source(6)));
        assertArrayEquals(expectedRange(0, 8), dst);
        assertEquals(0, completions.get());
        assertEquals(0, tier.asked.size(), "fetched synchronously, no round parked");
    }

    /**
     * Parking a read, answering its pages and finishing it allocate nothing (the JVM's per-thread
     * counter, after a warm-up): here the tier answers on the calling thread from pages it keeps by
     * handle. What the Hazelcast tier allocates to ask (its invocations, one callback per page) is
     * its own and is not counted here.
     */
    @Test
    void shouldAllocateNothingToParkAnswerAndFinishARead() {
        writeAndSendAway();
        byte[][] byHandle = new byte[(int) tier.nextHandle][];
        tier.pages.forEach((h, p) -> byHandle[(int) (long) h] = (byte[]) p[2]);
        RemoteTier answering = new RemoteStoreTest.MapTier() {
            @Override
            public void fetch(FetchSlot slot) {
                int round = slot.round();
                for (int k = 0; k < slot.count(); k++) {
                    byte[] p = byHandle[(int) slot.handle(k)];
                    slot.answer(round, k, p, p.length);
                }
            }
        };
        store.useRemote(answering, () -> 1_000);
        AtomicInteger done = new AtomicInteger();
        FetchSlot own = new FetchSlot(1, store.compressedPageBytes(), (s, result) -> {
            if (result == IoResult.DONE) {
                done.incrementAndGet();
            }
            s.release();
        });
        FetchSlot.Source source = () -> own.claim(1) ? own : null;
        byte[] dst = new byte[32 * PAGE];
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        for (int warm = 0; warm < 20_000; warm++) {
            assertEquals(IoResult.PARKED, store.read(dst, 0, (long) (warm % 200) * PAGE, 32 * PAGE, source));
        }
        long before = threads.getThreadAllocatedBytes(Thread.currentThread().getId());
        for (int i = 0; i < 2_000; i++) {
            store.read(dst, 0, (long) (i % 200) * PAGE, 32 * PAGE, source);
        }
        long allocated = threads.getThreadAllocatedBytes(Thread.currentThread().getId()) - before;
        assertEquals(22_000, done.get(), "every parked read answered, with its pages");
        assertEquals(0, allocated, "bytes allocated to park, answer and finish 2,000 reads");
    }
}
