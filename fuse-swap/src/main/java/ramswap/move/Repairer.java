package ramswap.store;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * Gives remote pages the copies they should have: after a lender was lost (its copies with it),
 * after partitions moved (a copy onto this node's own member, or both copies onto one member),
 * and when a page stored with one copy can now get two. Pages are fetched from the copy that
 * survives and sent again under a new handle, at most {@code repair_pages_per_sec}.
 *
 * <p>A sweep starts when the tier's placement epoch changed, again once the partitions have
 * settled ({@link RemoteTier#placementSettled}: a migration can put both copies of a page on one
 * member, or the table can reach this member after the event that moved it), and again every
 * {@link #RESWEEP_NANOS} while pages are short of their copies (a fetch or a send that failed,
 * targets that were full, pages stored with one copy while two are wanted), and at the next check
 * after a page committed where it already needed new copies ({@link SwapStore#misplacedCommits}:
 * its put followed a partition that moved after the sweep of that move had looked). It first
 * counts what needs new copies ({@code remote_pages_to_replace}, which then counts down), then
 * goes round the table once. A sweep counted on a settled table sets
 * {@code remote_partitions_settled}, which the tier clears whenever partitions may move: only with
 * it set do the counts say what copies the pages have.
 *
 * <p>A page whose every copy was lost with its lender, and that no copy answered for, is counted in
 * {@code remote_pages_lost} and not tried again ({@link SwapStore#replace}).
 *
 * <p>Every {@link #LEAK_SWEEP_NANOS} it also lets the tier free copies that no block uses any more
 * ({@link RemoteTier#sweepLeaks}): a delete that failed, a send given up midway.
 */
public final class Repairer implements Agent {

    private static final long CHECK_NANOS = 500_000_000L;
    /** Between two sweeps for copies no block uses. */
    static final long LEAK_SWEEP_NANOS = 30_000_000_000L;

    static final long RESWEEP_NANOS = 10_000_000_000L;
    /** Between two questions whether the partitions settled, while they have not at this epoch. */
    static final long SETTLE_ASK_NANOS = 1_000_000_000L;
    /** Blocks looked at per unit of work, so that one call stays short. */
    private static final int SCAN = 65_536;
    /** Longest wait for the send of one batch of new copies, at least. */
    private static final long MIN_SEND_WAIT_MS = 5_000;

    private final SwapStore store;
    private final Knobs knobs;
    private final Counters counters;
    private final NanoClock clock;
    private final int[] found = new int[SwapStore.MAX_REQUEST_BLOCKS];
    private final RemoteTier.Batch batch;

    private long nextCheckNanos;
    private long nextLeakSweepNanos;
    private long sweptEpoch;
    /** {@link SwapStore#misplacedCommits} when the last sweep started. */
    private long sweptMisplaced;
    /** The epoch at which a sweep was counted on a settled table; -1: none yet. */
    private long settledEpoch = -1;

    private long nextSettleAskNanos;
    private long lastSweepNanos;
    /** Blocks of the table still to look at in this sweep. */
    private long sweepLeft;

    private double tokens = SwapStore.MAX_REQUEST_BLOCKS;
    private long lastRefillNanos;

    public Repairer(SwapStore store, Knobs knobs, int pageBytes) {
        this(store, knobs, pageBytes, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its checks, sweeps and rate (tests drive it). */
    public Repairer(SwapStore store, Knobs knobs, int pageBytes, NanoClock clock) {
        this.store = store;
        this.knobs = knobs;
        this.counters = store.counters();
        this.clock = clock;
        long now = clock.nanoTime();
        this.nextCheckNanos = now;
        this.nextLeakSweepNanos = now + LEAK_SWEEP_NANOS;
        this.nextSettleAskNanos = now;
        this.lastRefillNanos = now;
        this.lastSweepNanos = now - RESWEEP_NANOS - 1; // as if long ago, whatever the clock's origin
        this.batch = new RemoteTier.Batch(SwapStore.MAX_REQUEST_BLOCKS, pageBytes);
    }

    @Override
    public String roleName() {
        return "ramswap-repairer";
    }

    @Override
    public int doWork() {
        RemoteTier tier = store.remote();
        if (tier == null || !tier.holdersPresent()) {
            return 0; // cut off from every lender: nothing to fetch from or send to, and a page missing says nothing
        }
        long now = clock.nanoTime();
        if (sweepLeft <= 0) {
            if (now - nextLeakSweepNanos >= 0) {
                nextLeakSweepNanos = now + LEAK_SWEEP_NANOS;
                store.sweepLeaks();
                return 1;
            }
            if (now - nextCheckNanos < 0) {
                return 0;
            }
            nextCheckNanos = now + CHECK_NANOS;
            long epoch = tier.placementEpoch();
            boolean moved = epoch != sweptEpoch;
            boolean shortOfCopies = counters.get(Counter.REMOTE_PAGES_TO_REPLACE) > 0
                    || counters.get(Counter.REMOTE_PAGES_ONE_COPY) > 0 && knobs.get(Knob.REMOTE_COPIES) >= 2;
            boolean leftShort = shortOfCopies && now - lastSweepNanos > RESWEEP_NANOS;
            long misplaced = store.misplacedCommits();
            boolean committedMisplaced = misplaced != sweptMisplaced;
            boolean settled = false;
            if (epoch != settledEpoch && now - nextSettleAskNanos >= 0) {
                nextSettleAskNanos = now + SETTLE_ASK_NANOS;
                settled = tier.placementSettled();
            }
            if (!moved && !leftShort && !settled && !committedMisplaced) {
                return 0;
            }
            sweptEpoch = epoch;
            sweptMisplaced = misplaced; // read before the count: one that commits during it makes the next check sweep
            lastSweepNanos = now;
            long toReplace = counters.get(Counter.REMOTE_PERS_PAGES) > 0 ? store.countToReplace() : 0;
            counters.set(Counter.REMOTE_PAGES_TO_REPLACE, toReplace);
            sweepLeft = toReplace > 0 ? store.blocks() : 0;
            if (settled) {
                settledEpoch = epoch;
                counters.set(Counter.REMOTE_PARTITIONS_SETTLED, 1);
                if (tier.placementEpoch() != epoch) { // moved meanwhile; the tier's clear may have come before the set
                    counters.set(Counter.REMOTE_PARTITIONS_SETTLED, 0);
                }
            }
            return 1;
        }
        refill(now);
        if (tokens < Math.min(found.length, knobs.get(Knob.REPAIR_PAGES_PER_SEC))) {
            return 0; // whole batches: a fetch and a send each
        }
        int max = (int) Math.min(found.length, tokens);
        int blocks = store.blocks();
        int before = store.repairHand();
        int n = store.collectRemote(found, max, SCAN, true);
        int advanced = Math.floorMod(store.repairHand() - before, blocks);
        sweepLeft -= n < max ? Math.min(SCAN, blocks) : (advanced == 0 ? blocks : advanced);
        if (n > 0) {
            tokens -= n;
            long wait = Math.max(MIN_SEND_WAIT_MS, knobs.get(Knob.REMOTE_TIMEOUT_MS));
            int settled = store.replace(found, n, batch, wait);
            long left = counters.get(Counter.REMOTE_PAGES_TO_REPLACE);
            counters.set(Counter.REMOTE_PAGES_TO_REPLACE, Math.max(0, left - settled));
        }
        if (sweepLeft <= 0) { // once round: what is still short is counted again at the next sweep
            lastSweepNanos = now;
        }
        return 1;
    }

    private void refill(long now) {
        long rate = knobs.get(Knob.REPAIR_PAGES_PER_SEC);
        tokens = Math.min(Math.max(found.length, rate / 10.0), tokens + rate * ((now - lastRefillNanos) / 1e9));
        lastRefillNanos = now;
    }
}
