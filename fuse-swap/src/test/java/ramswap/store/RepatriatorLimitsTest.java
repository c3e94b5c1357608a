package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.agrona.concurrent.CachedNanoClock;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import ramswap.move.Moves;
import ramswap.move.Remotifier;
import ramswap.move.Repairer;
import ramswap.move.Repatriator;
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
        Remotifier remotifier = new Remotifier(new Moves(store), knobs, PAGE + 64);
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
        Repatriator home = new Repatriator(new Moves(store), knobs, () -> true);
        int busy = 0;
        for (int i = 0; i < 5_000; i++) {
            busy += home.doWork() > 0 ? 1 : 0;
        }
        System.out.println("drain: " + busy + " of 5000 rounds busy, repatriate_all " + knobs.get(Knob.REPATRIATE_ALL)
                + ", fetches " + store.counters().get(Counter.REMOTE_FETCHES) + ", missing "
                + store.counters().get(Counter.REMOTE_GET_MISSING));
        assertEquals(
                0,
                knobs.get(Knob.REPATRIATE_ALL),
                "the drain should give up (knob back to 0) once a page cannot be fetched");
    }

    /**
     * A drain that meets the pool's reserve empty (its grower still backing slabs) is paused, not
     * ended: the pool is not full. Seen: ramswap drain stopped 31 pages short of 32,833, saying some
     * pages could not be fetched, though every page could.
     */
    @Test
    void shouldPauseADrainWhileThePoolsReserveRefillsAndThenFinishIt() throws Exception {
        RemoteStoreTest.MapTier tier = new RemoteStoreTest.MapTier();
        Knobs knobs = new Knobs();
        pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, LocalPool.SLAB_BYTES);
        org.agrona.concurrent.Agent grower = pool.grower();
        SwapStore store = new SwapStore(8L * BLOCKS * PAGE, pool, new Counters());
        store.useRemote(tier, () -> 1_000);
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 1);
        Random r = new Random(11);
        for (int b = 0; b < BLOCKS; b++) {
            assertEquals(IoResult.DONE, store.write(Pages.random(r, "random"), 0, (long) b * PAGE, PAGE));
            grower.doWork(); // the reserve refilled after each write, as the grower's thread would
        }
        Remotifier remotifier = new Remotifier(new Moves(store), knobs, PAGE + 64);
        for (int i = 0; i < 20_000 && store.counters().get(Counter.REMOTE_PERS_PAGES) <= BLOCKS / 2; i++) {
            remotifier.doWork();
        }
        remotifier.onClose();
        for (int i = 0; i < 2 * BLOCKS; i++) {
            grower.doWork(); // emptied slabs given back, the reserve full: one slab
        }
        long remote = store.counters().get(Counter.REMOTE_PERS_PAGES);
        assertTrue(remote > BLOCKS / 2, "most pages remote: " + remote);

        knobs.set(Knob.REPATRIATE_ALL, 1);
        Repatriator home = new Repatriator(new Moves(store), knobs, () -> true);
        for (int i = 0; i < 2_000; i++) {
            home.doWork(); // no grower meanwhile: the one reserve slab holds 64 random pages, not all of them
        }
        long left = store.counters().get(Counter.REMOTE_PERS_PAGES);
        assertTrue(
                left > 0 && left < remote,
                "some pages came home, then the reserve was empty: " + left + " of " + remote + " left");
        assertEquals(
                1, knobs.get(Knob.REPATRIATE_ALL), "the drain goes on: the pool is not full, its reserve is refilling");

        for (int i = 0; i < 20_000 && knobs.get(Knob.REPATRIATE_ALL) == 1; i++) {
            grower.doWork();
            home.doWork();
        }
        assertEquals(0, knobs.get(Knob.REPATRIATE_ALL), "the drain ended");
        assertEquals(0, store.counters().get(Counter.REMOTE_PERS_PAGES), "every page came home");
    }

    /**
     * Pages that need new copies while no target takes them (full) are fetched once per sweep,
     * not again and again: the repairer goes round once, then waits for the next sweep.
     */
    @Test
    void shouldFetchPagesToReplaceOncePerSweepWhenNoTargetTakesThem() {
        RemoteStoreTest.MapTier tier = new RemoteStoreTest.MapTier();
        Knobs knobs = new Knobs();
        SwapStore store = remotifiedStore(tier, knobs, LocalPool.SLAB_BYTES * 32L, "random");
        long remote = store.counters().get(Counter.REMOTE_PERS_PAGES);
        tier.toReplace = h -> true; // a lender was lost: every page lost a copy
        tier.refuse = true;
        tier.epoch = 1;
        knobs.set(Knob.PERS_REMOTIFY_ENABLE, 0);
        CachedNanoClock clock = new CachedNanoClock();
        Repairer repairer = new Repairer(new Moves(store), knobs, PAGE + 64, clock);
        long fetches0 = store.counters().get(Counter.REMOTE_FETCHES);
        while (clock.nanoTime() < 3_000_000_000L) { // 3 s of the repairer's time, a millisecond a lap
            repairer.doWork();
            clock.advance(1_000_000L);
        }
        long fetches = store.counters().get(Counter.REMOTE_FETCHES) - fetches0;
        long perLap = (remote + SwapStore.MAX_REQUEST_BLOCKS - 1) / SwapStore.MAX_REQUEST_BLOCKS;
        System.out.println("repair sweep over 3 s, targets full: " + fetches + " fetches for " + remote + " pages ("
                + perLap + " per lap), to replace " + store.counters().get(Counter.REMOTE_PAGES_TO_REPLACE));
        assertTrue(remote > 0);
        assertTrue(fetches >= perLap, "the sweep went round once: " + fetches + " fetches");
        assertTrue(fetches <= perLap + 1, "the sweep fetched " + fetches + " times in 3 s for one lap of " + perLap);
        assertEquals(remote, store.counters().get(Counter.REMOTE_PAGES_TO_REPLACE), "nothing was replaced");
        assertEquals(0, store.counters().get(Counter.REMOTE_PAGES_REPLACED));
    }
}
