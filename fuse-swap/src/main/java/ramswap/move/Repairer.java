package ramswap.move;

import org.agrona.collections.LongHashSet;
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
 * after a page committed where it already needed new copies ({@link Moves#misplacedCommits}:
 * its put followed a partition that moved after the sweep of that move had looked). It first
 * counts what needs new copies ({@code remote_pages_to_replace}, which then counts down), then
 * goes round the table once. A sweep counted on a settled table sets
 * {@code remote_partitions_settled}, which the tier clears whenever partitions may move: only with
 * it set do the counts say what copies the pages have.
 *
 * <p>A page whose every copy was lost with its lender, and that no copy answered for, is counted in
 * {@code remote_pages_lost} and not tried again ({@link #replace}).
 *
 * <p>Every {@link #LEAK_SWEEP_NANOS} it also lets the tier free copies that no block uses any more
 * ({@link RemoteTier#sweepLeaks}): a delete that failed, a send given up midway.
 */
public final class Repairer implements Agent {

    private static final long CHECK_NANOS = 500_000_000L;
    /** Between two sweeps for copies no block uses. */
    static final long LEAK_SWEEP_NANOS = 30_000_000_000L;

    public static final long RESWEEP_NANOS = 10_000_000_000L;
    /** Between two questions whether the partitions settled, while they have not at this epoch. */
    static final long SETTLE_ASK_NANOS = 1_000_000_000L;
    /** Blocks looked at per unit of work, so that one call stays short. */
    private static final int SCAN = 65_536;
    /** Longest wait for the send of one batch of new copies, at least. */
    private static final long MIN_SEND_WAIT_MS = 5_000;

    private static final System.Logger LOG = System.getLogger(Repairer.class.getName());

    private final Moves moves;
    private final BlockTable table;
    private final Knobs knobs;
    private final Counters counters;
    private final NanoClock clock;
    private final int[] found = new int[SwapStore.MAX_REQUEST_BLOCKS];
    private final RemoteTier.Batch batch;
    /** The repair sweep's clock hand. */
    private final Moves.Hand hand = new Moves.Hand();
    /** The remote pages to give new copies: the tier says so, and they were not found lost. */
    private final java.util.function.LongPredicate toReplace;
    /** The pages it fetches to give new copies. */
    private final SwapStore.Fetch fetched;
    /** Where a block is copied out before its fetch. */
    private final SwapStore.BlockCopy copy;
    /** {@link #replace}: the entries the batch's blocks had when fetched. */
    private final long[] oldEntries = new long[SwapStore.MAX_REQUEST_BLOCKS];
    /** Handles of remote pages found lost ({@link #replace}): never repaired again, counted once. */
    private LongHashSet lostHandles = new LongHashSet();
    /** {@link RemoteTier#rejoins} when the lost pages were last judged. */
    private long rejoinsSeen;

    private long nextCheckNanos;
    private long nextLeakSweepNanos;
    private long sweptEpoch;
    /** {@link Moves#misplacedCommits} when the last sweep started. */
    private long sweptMisplaced;
    /** The epoch at which a sweep was counted on a settled table; -1: none yet. */
    private long settledEpoch = -1;

    private long nextSettleAskNanos;
    private long lastSweepNanos;
    /** Blocks of the table still to look at in this sweep. */
    private long sweepLeft;

    private double tokens = SwapStore.MAX_REQUEST_BLOCKS;
    private long lastRefillNanos;

    public Repairer(Moves moves, Knobs knobs, int pageBytes) {
        this(moves, knobs, pageBytes, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its checks, sweeps and rate (tests drive it). */
    public Repairer(Moves moves, Knobs knobs, int pageBytes, NanoClock clock) {
        this.moves = moves;
        this.table = moves.table();
        this.knobs = knobs;
        this.counters = moves.counters();
        this.fetched = moves.newFetch();
        this.copy = moves.newCopy();
        this.toReplace = handle -> needsReplacing(moves.remote(), handle);
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
        RemoteTier tier = moves.remote();
        if (tier == null || !tier.holdersPresent()) {
            return 0; // cut off from every lender: nothing to fetch from or send to, and a page missing says nothing
        }
        long now = clock.nanoTime();
        if (sweepLeft <= 0) {
            if (now - nextLeakSweepNanos >= 0) {
                nextLeakSweepNanos = now + LEAK_SWEEP_NANOS;
                sweepLeaks();
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
            long misplaced = moves.misplacedCommits();
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
            long toReplace = counters.get(Counter.REMOTE_PERS_PAGES) > 0 ? countToReplace() : 0;
            counters.set(Counter.REMOTE_PAGES_TO_REPLACE, toReplace);
            sweepLeft = toReplace > 0 ? table.blocks() : 0;
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
        int blocks = table.blocks();
        int before = hand.at();
        int n = moves.collectRemote(hand, found, max, SCAN, toReplace);
        int advanced = Math.floorMod(hand.at() - before, blocks);
        sweepLeft -= n < max ? Math.min(SCAN, blocks) : (advanced == 0 ? blocks : advanced);
        if (n > 0) {
            tokens -= n;
            long wait = Math.max(MIN_SEND_WAIT_MS, knobs.get(Knob.REMOTE_TIMEOUT_MS));
            int settled = replace(found, n, batch, wait);
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

    /**
     * Remote blocks the tier says need new copies, over the whole table (the repair sweep's count),
     * those found lost apart. Forgets the lost handles no block holds any more.
     */
    long countToReplace() {
        RemoteTier tier = moves.remote();
        if (tier == null) {
            return 0;
        }
        long rejoins = tier.rejoins();
        if (rejoins != rejoinsSeen) {
            rejoinsSeen = rejoins;
            if (!lostHandles.isEmpty()) {
                counters.add(Counter.REMOTE_PAGES_LOST, -lostHandles.size());
                LOG.log(
                        System.Logger.Level.WARNING,
                        lostHandles.size() + " remote pages found lost are tried again: this node merged back into the"
                                + " cluster it was cut off from, which may hold their copies");
                lostHandles = new LongHashSet();
            }
        }
        long n = 0;
        LongHashSet stillLost = lostHandles.isEmpty() ? lostHandles : new LongHashSet();
        for (int block = 0; block < table.blocks(); block++) {
            long e = table.peek(block);
            if (BlockTable.state(e) != BlockTable.STATE_REMOTE) {
                continue;
            }
            long handle = BlockTable.handle(e);
            if (lostHandles.contains(handle)) {
                stillLost.add(handle);
            } else if (tier.needsReplacing(handle)) {
                n++;
            }
        }
        lostHandles = stillLost;
        return n;
    }

    /** A page to give new copies: the tier says so, and it was not found lost. */
    private boolean needsReplacing(RemoteTier tier, long handle) {
        return (lostHandles.isEmpty() || !lostHandles.contains(handle)) && tier.needsReplacing(handle);
    }

    /** Lets the tier free copies no block uses ({@link RemoteTier#sweepLeaks}); returns how many. */
    int sweepLeaks() {
        RemoteTier tier = moves.remote();
        if (tier == null || counters.get(Counter.PERS_PAGES_REMOTED) == 0) {
            return 0; // nothing ever left this node: nothing to list, and nothing allocated on a node alone
        }
        LongHashSet live = new LongHashSet();
        for (int block = 0; block < table.blocks(); block++) {
            long e = table.peek(block);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE) {
                live.add(BlockTable.handle(e));
            }
        }
        int freed = tier.sweepLeaks(live::contains);
        counters.add(Counter.REMOTE_LEAKS_FREED, freed);
        return freed;
    }

    /**
     * Gives remote blocks new copies: fetches at most {@link SwapStore#MAX_REQUEST_BLOCKS} of
     * {@code blocks[0..n)} (from whichever copy answers), sends them again, compressed as they are,
     * through {@code b}, and waits at most {@code sendTimeoutMillis} for the send. A block commits
     * its new handle only if unchanged since its entry was read; its old copies are then deleted,
     * and a copy sent for a block that changed meanwhile is deleted instead. A page no target takes
     * whose lender is leaving ({@link RemoteTier#leaving}) comes home into the pool. Returns the blocks
     * settled: given new copies, or changed meanwhile (so nothing is left to replace).
     */
    int replace(int[] blocks, int n, RemoteTier.Batch b, long sendTimeoutMillis) {
        RemoteTier tier = moves.remote();
        if (tier == null) {
            return 0;
        }
        SwapStore.Fetch f = fetched;
        moves.fetchRemote(blocks, Math.min(n, b.capacity()), tier, f, copy);
        if (f.count == 0) {
            return 0;
        }
        b.count = 0;
        long[] old = oldEntries;
        int settled = Math.min(n, b.capacity()) - f.count; // no longer remote when looked at
        for (int k = 0; k < f.count; k++) {
            int length = BlockTable.length(f.entries[k]);
            if (f.lengths[k] != length) {
                if (table.changedSince(f.blocks[k], f.generations[k])) {
                    settled++;
                } else {
                    moves.store().countFailedGet(f.lengths[k]);
                    if (f.lengths[k] == RemoteTier.MISSING
                            && tier.holdersPresent() // cut off, "missing" came from this node's own empty partitions
                            && tier.lost(BlockTable.handle(f.entries[k]))) {
                        foundLost(f.blocks[k], BlockTable.handle(f.entries[k]));
                        settled++; // nothing left to replace it from
                    }
                }
                continue;
            }
            int j = b.count++;
            b.blocks[j] = f.blocks[k];
            b.generations[j] = f.generations[k] + 1;
            b.lengths[j] = length;
            System.arraycopy(f.pages[k], 0, b.pages[j], 0, length);
            old[j] = f.entries[k];
        }
        if (b.count == 0) {
            return settled;
        }
        RemoteTier.Sent sent;
        try {
            sent = tier.send(b).get(sendTimeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            return settled; // the copies that did arrive are orphans of this incarnation; deleted at stop or by the
            // lenders
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return settled;
        }
        for (int k = 0; k < b.count; k++) {
            long handle = sent.handles[k];
            if (handle < 0) {
                if (tier.leaving(BlockTable.handle(old[k]))
                        && moves.moveHome(
                                        b.blocks[k],
                                        b.generations[k] - 1,
                                        b.pages[k],
                                        b.lengths[k],
                                        tier,
                                        Counter.REPATRIATED_PAGES)
                                > 0) {
                    settled++; // no target took it, and its lender is leaving: it came home
                }
                continue;
            }
            int block = b.blocks[k];
            long e = table.lock(block);
            if (table.generation(block) + 1 != b.generations[k] || e != old[k]) {
                table.unlock(block, e);
                tier.forget(handle);
                settled++;
                continue;
            }
            table.publish(block, BlockTable.entry(BlockTable.STATE_REMOTE, b.lengths[k], handle));
            moves.store().uncountRemote(tier, e);
            moves.countRemote(tier, handle, b.lengths[k]);
            tier.forget(BlockTable.handle(e));
            counters.increment(Counter.REMOTE_PAGES_REPLACED);
            settled++;
        }
        return settled;
    }

    /**
     * A remote page whose every copy was with a lender that left without handing it over, and that
     * no copy answered for: counted and logged once, and never repaired again. The block keeps its
     * entry, so that its reads fail with EIO, as they would anyway, until it is written or discarded.
     */
    private void foundLost(int block, long handle) {
        if (lostHandles.add(handle)) {
            counters.increment(Counter.REMOTE_PAGES_LOST);
            LOG.log(
                    System.Logger.Level.ERROR,
                    "remote page of block " + block + " (handle " + Long.toHexString(handle)
                            + ") is lost: every copy was with a lender that left without handing it over, and none answered;"
                            + " its reads fail with EIO, and it is not repaired");
        }
    }
}
