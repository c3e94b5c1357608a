package ramswap.move;

import java.util.function.BooleanSupplier;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.store.BlockTable;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.RemoteTier;
import ramswap.store.SwapStore;

/**
 * Brings remote pages home: RAMster's self-shrinking, and a drain on request. (Pages whose copies
 * must move are the {@link Repairer}'s.)
 *
 * <p>Self-shrinking, as RAMster's {@code frontswap_selfshrink}: every {@code selfshrink_interval}
 * seconds, the number of remote pages is sampled; once it has not grown for
 * {@code frontswap_inertia} samples, {@code count / frontswap_hysteresis} pages come home (all of
 * them when at most {@code frontswap_hysteresis} are left). Beyond RAMster, only while the node
 * has memory to spare (MemAvailable and memory pressure, the daemon's judgement) and, while
 * pages are being sent remote, only as far as the local target leaves room: bringing home what
 * the remotifier would send straight back would move pages for nothing.
 *
 * <p>A drain ({@code repatriate_all} = 1) brings every remote page home regardless, until none is
 * left or the pool refuses at its limit, then sets the knob back to 0; an empty reserve only pauses it.
 */
public final class Repatriator implements Agent {

    /** Blocks looked at per unit of work, so that one call stays short. */
    private static final int SCAN = 65_536;

    private final Moves moves;
    private final Knobs knobs;
    private final Counters counters;
    private final BooleanSupplier memoryToSpare;
    private final NanoClock clock;
    private final int[] found = new int[SwapStore.MAX_REQUEST_BLOCKS];
    /** The clock hand of the pages to bring home. */
    private final Moves.Hand hand = new Moves.Hand();
    /** The remote pages worth fetching: not lost with their lender (a fetch could only fail). */
    private final java.util.function.LongPredicate notLost;
    /** The pages it fetches to bring home. */
    private final SwapStore.Fetch fetched;
    /** Where a block is copied out before its fetch. */
    private final SwapStore.BlockCopy copy;

    private long nextSampleNanos;
    private long lastRemote;
    private long samplesWithoutGrowth;
    /** Pages still to bring home in this self-shrink step. */
    private long owed;
    /** Blocks the drain has looked at since it last brought one home. */
    private long drainFruitless;

    /** @param memoryToSpare true while the node can take pages back (MemAvailable, pressure) */
    public Repatriator(Moves moves, Knobs knobs, BooleanSupplier memoryToSpare) {
        this(moves, knobs, memoryToSpare, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its samples (tests drive it). */
    public Repatriator(Moves moves, Knobs knobs, BooleanSupplier memoryToSpare, NanoClock clock) {
        this.moves = moves;
        this.knobs = knobs;
        this.counters = moves.counters();
        this.fetched = moves.newFetch();
        this.copy = moves.newCopy();
        // a loss only seen, not real, is for the repairer to find out: it fetches, and gives the page a new handle
        this.notLost = handle -> !moves.remote().lost(handle);
        this.memoryToSpare = memoryToSpare;
        this.clock = clock;
        this.nextSampleNanos = clock.nanoTime();
    }

    @Override
    public String roleName() {
        return "ramswap-repatriator";
    }

    @Override
    public int doWork() {
        if (moves.remote() == null) {
            return 0;
        }
        if (knobs.get(Knob.REPATRIATE_ALL) == 1) {
            return drainStep();
        }
        long now = clock.nanoTime();
        int work = 0;
        if (now - nextSampleNanos >= 0) {
            nextSampleNanos = now + knobs.get(Knob.SELFSHRINK_INTERVAL) * 1_000_000_000L;
            sample();
            work++;
        }
        if (owed > 0) {
            int home = bringHome(
                    found,
                    moves.collectRemote(hand, found, (int) Math.min(found.length, owed), SCAN, notLost),
                    Counter.REPATRIATED_PAGES);
            owed = home <= 0 ? 0 : owed - home; // the pool refused or nothing was found: this step is over
            work++;
        }
        return work;
    }

    /** One self-shrink sample: RAMster's inertia and hysteresis, then this node's own limits. */
    private void sample() {
        long remote = counters.get(Counter.REMOTE_PERS_PAGES);
        boolean grew = remote > lastRemote;
        lastRemote = remote;
        if (grew) {
            samplesWithoutGrowth = 0;
            return;
        }
        samplesWithoutGrowth++;
        if (knobs.get(Knob.SELFSHRINK_ENABLE) == 0
                || remote == 0
                || samplesWithoutGrowth <= knobs.get(Knob.FRONTSWAP_INERTIA)
                || !memoryToSpare.getAsBoolean()) {
            return;
        }
        long hysteresis = knobs.get(Knob.FRONTSWAP_HYSTERESIS);
        long want = remote <= hysteresis ? remote : remote / hysteresis;
        if (knobs.get(Knob.PERS_REMOTIFY_ENABLE) == 1) {
            long room = knobs.get(Knob.LOCAL_TARGET_BYTES) - counters.get(Counter.PERS_ZBYTES);
            long pageBytes = Math.max(1, counters.get(Counter.REMOTE_PERS_ZBYTES) / remote);
            want = Math.min(want, Math.max(0, room / pageBytes));
        }
        owed = want;
    }

    private int drainStep() {
        // A page whose send is in flight becomes remote when the send lands, maybe behind the hand:
        // the drain is neither done nor fruitless until every send in flight has landed (the
        // remotifier starts none while the drain runs). Seen: a drain stopped 184 pages short.
        boolean sendsInFlight = moves.sending() > 0;
        if (counters.get(Counter.REMOTE_PERS_PAGES) == 0) {
            if (sendsInFlight) {
                return 0;
            }
            drainFruitless = 0;
            knobs.set(Knob.REPATRIATE_ALL, 0);
            return 0;
        }
        int n = moves.collectRemote(hand, found, found.length, SCAN, notLost);
        int home = n == 0 ? 0 : bringHome(found, n, Counter.REPATRIATED_PAGES);
        if (home == Moves.HOME_RESERVE_EMPTY) {
            return 0; // the pool is not full, its reserve is refilling: the drain goes on once it is (seen: a drain
            // stopped 31 pages short)
        }
        if (home > 0 || sendsInFlight) {
            drainFruitless = 0;
        } else {
            // a batch short of full means the hand looked at its whole stretch
            drainFruitless += n < found.length ? Math.min(SCAN, moves.table().blocks()) : n;
        }
        // refused (pool full), or a whole lap of the table brought nothing home (pages that cannot be
        // fetched): ramswap drain sees the knob back at 0 with pages left and says why
        if (home == Moves.HOME_POOL_FULL || drainFruitless > moves.table().blocks()) {
            drainFruitless = 0;
            knobs.set(Knob.REPATRIATE_ALL, 0);
        }
        return 1;
    }

    /**
     * Brings remote blocks home into the pool, fetched together: at most
     * {@link SwapStore#MAX_REQUEST_BLOCKS} of {@code blocks[0..n)}. A block commits only if
     * unchanged since its entry was read; its remote copy is then deleted. Each block brought home
     * is counted in {@code countAs}. Returns how many came home, or, when the pool refused the
     * first, {@link Moves#HOME_POOL_FULL} or {@link Moves#HOME_RESERVE_EMPTY}.
     */
    public int bringHome(int[] blocks, int n, Counter countAs) {
        RemoteTier tier = moves.remote();
        if (tier == null) {
            return 0;
        }
        SwapStore.Fetch f = fetched;
        moves.fetchRemote(blocks, n, tier, f, copy);
        int home = 0;
        int refusal = 0; // HOME_POOL_FULL or HOME_RESERVE_EMPTY once the pool refused a block
        for (int k = 0; k < f.count; k++) {
            int block = f.blocks[k];
            int length = BlockTable.length(f.entries[k]);
            if (f.lengths[k] != length) {
                if (!moves.table().changedSince(block, f.generations[k])) {
                    moves.store().countFailedGet(f.lengths[k]);
                }
                continue;
            }
            if (refusal != 0) {
                continue;
            }
            int moved = moves.moveHome(block, f.generations[k], f.pages[k], length, tier, countAs);
            if (moved == Moves.HOME_POOL_FULL || moved == Moves.HOME_RESERVE_EMPTY) {
                refusal = moved;
            } else if (moved > 0) {
                counters.increment(Counter.REMOTE_PERS_PAGES_SUCC_GET);
                home++;
            }
        }
        return refusal != 0 && home == 0 ? refusal : home;
    }
}
