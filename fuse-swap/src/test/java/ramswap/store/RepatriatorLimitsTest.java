package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import ramswap.sys.Posix;

/** The repatriator when pages cannot come home: it gives up, counted, instead of spinning. */
class RepatriatorLimitsTest {

    private static final int PAGE = BlockCodec.BLOCK_SIZE;
    private static final int BLOCKS = 512;

    private LocalPool pool;

    @AfterEach
    void close() {
        if (pool != null) {
            pool.close();
        }
    }

    private SwapStore remotifiedStore(RemoteTier tier, Knobs knobs, long poolLimit, String kind) {
        pool = new LocalPool(Posix.load(), 64L << 20, poolLimit, 0);
        SwapStore store = new SwapStore(8L * BLOCKS * PAGE, pool, new Counters());
        store.useRemote(tier, () -> 1_000);
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 1);
        Random r = new Random(7);
        for (int b = 0; b < BLOCKS; b++) {
            assertEquals(IoResult.DONE, store.write(Pages.random(r, kind), 0, (long) b * PAGE, PAGE));
        }
        Remotifier remotifier = new Remotifier(store, knobs, PAGE + 64);
        for (int i = 0; i < 200; i++) {
            remotifier.doWork();
        }
        remotifier.onClose();
        return store;
    }

    /** A drain that meets a page it cannot fetch gives up after a lap of the table, for ramswap drain to say why. */
    @Test
    void shouldEndADrainThatCannotFetchAPage() {
        RemoteStoreTest.MapTier tier = new RemoteStoreTest.MapTier();
        Knobs knobs = new Knobs();
        SwapStore store = remotifiedStore(tier, knobs, 64L << 20, "text");
        long lost = tier.pages.keySet().iterator().next();
        tier.pages.remove(lost); // a lender crashed with it (no backups)
        knobs.set(Knob.REPATRIATE_ALL, 1);
        Repatriator home = new Repatriator(store, knobs, () -> true);
        int busy = 0;
        for (int i = 0; i < 5_000; i++) {
            busy += home.doWork() > 0 ? 1 : 0;
        }
        System.out.println("drain: " + busy + " of 5000 rounds busy, repatriate_all " + knobs.get(Knob.REPATRIATE_ALL)
                + ", fetches " + store.counters().get(Counter.REMOTE_FETCHES) + ", missing " + store.counters().get(Counter.REMOTE_GET_MISSING));
        assertEquals(0, knobs.get(Knob.REPATRIATE_ALL), "the drain should give up (knob back to 0) once a page cannot be fetched");
    }

    /** Misplaced pages that cannot come home (pool full) end the sweep until the next one, instead of being fetched again and again. */
    @Test
    void shouldEndAMisplacedSweepWhenThePoolIsFull() {
        final boolean[] misplaced = {false};
        RemoteStoreTest.MapTier pages = new RemoteStoreTest.MapTier();
        RemoteTier tier = new RemoteTier() {
            @Override
            public boolean canSend() {
                return true;
            }

            @Override
            public java.util.concurrent.CompletableFuture<Sent> send(Batch b) {
                return pages.send(b);
            }

            @Override
            public void fetch(int n, int[] blocks, int[] gens, long[] handles, byte[][] out, int[] lengths, long t) {
                pages.fetch(n, blocks, gens, handles, out, lengths, t);
            }

            @Override
            public void forget(long handle) {
                pages.forget(handle);
            }

            @Override
            public boolean misplaced(long handle) {
                return misplaced[0];
            }

            @Override
            public long placementEpoch() {
                return misplaced[0] ? 1 : 0; // the partitions moved when the pages became misplaced
            }
        };
        Knobs knobs = new Knobs();
        SwapStore store = remotifiedStore(tier, knobs, LocalPool.SLAB_BYTES * 32L, "random");
        Random r = new Random(8);
        int b = BLOCKS;
        while (store.write(Pages.random(r, "random"), 0, (long) b * PAGE, PAGE) == IoResult.DONE) {
            b++; // fill the pool until it refuses
        }
        misplaced[0] = true; // the lender left gracefully and its partitions moved onto this node's member
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 0);
        Repatriator home = new Repatriator(store, knobs, () -> false);
        long fetches0 = store.counters().get(Counter.REMOTE_FETCHES);
        long deadline = System.nanoTime() + 3_000_000_000L;
        int idle = 0;
        while (System.nanoTime() < deadline) {
            idle += home.doWork() == 0 ? 1 : 0;
        }
        long fetches = store.counters().get(Counter.REMOTE_FETCHES) - fetches0;
        System.out.println("misplaced sweep over 3 s: " + fetches + " fetches, " + idle + " idle rounds, replaced "
                + store.counters().get(Counter.REMOTE_PAGES_REPLACED));
        assertTrue(fetches < 10, "the sweep fetched the same misplaced pages " + fetches + " times in 3 s");
    }
}
