package ramswap.move;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongPredicate;
import ramswap.store.BlockTable;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.LocalPool;
import ramswap.store.RemoteTier;
import ramswap.store.SwapStore;
import ramswap.sys.OffHeap;

/**
 * What every mover does to a block of the store, and the accounting the movers share. The movers
 * ({@link Remotifier}, {@link Repatriator}, {@link Repairer}, {@link Compactor}) each keep their
 * own clock hand and buffers and run on their own thread; they share one {@code Moves}, made once
 * per store.
 *
 * <p>A move follows the store's rule for every change (see {@link SwapStore}): the block's bytes
 * are copied out under its lock, the slow part (a send, a fetch, an allocation) runs without it,
 * and the move commits under the lock again only if the block's generation is the one copied; a
 * block that changed meanwhile keeps its new contents, and what the move made is freed.
 */
public final class Moves {

    /** {@link #moveHome}, {@link Repatriator#bringHome}: the pool refused at its limit. */
    public static final int HOME_POOL_FULL = -1;
    /** The same: the pool's reserve was empty for the moment (its grower refills it), not full. */
    public static final int HOME_RESERVE_EMPTY = -2;

    private final SwapStore store;
    private final BlockTable table;
    private final LocalPool pool;
    private final Counters counters;

    /** Pages the remotifier copied whose move has not committed yet ({@link #sending}). */
    final AtomicInteger sending = new AtomicInteger();
    /** {@link #misplacedCommits}. */
    private final AtomicLong misplacedCommits = new AtomicLong();

    public Moves(SwapStore store) {
        this.store = store;
        this.table = store.table();
        this.pool = store.pool();
        this.counters = store.counters();
    }

    public SwapStore store() {
        return store;
    }

    BlockTable table() {
        return table;
    }

    LocalPool pool() {
        return pool;
    }

    Counters counters() {
        return counters;
    }

    /** Where remote blocks live; null while the store keeps every block home. */
    RemoteTier remote() {
        return store.remote();
    }

    /**
     * Pages the remotifier copied whose move is not committed yet: each becomes remote, or stays
     * local, when its send lands. A drain waits for them.
     */
    public int sending() {
        return sending.get();
    }

    /**
     * Remote pages that already needed new copies when they committed: mostly a send placed before
     * a partition moved, whose put followed the partition to its new owner (this node's own member,
     * say) after the repair sweep that the move started had looked; also a one-copy page once a
     * second copy is worth trying again. The repairer sweeps again when this changes, since no
     * later move would make it look.
     */
    public long misplacedCommits() {
        return misplacedCommits.get();
    }

    /** A mover's place in the table: the block it looks at next. One mover thread each. */
    static final class Hand {
        private int at;

        /** The block under the hand, and the hand one block on (round the table's end). */
        int next(int blocks) {
            int block = at;
            at = block + 1 == blocks ? 0 : block + 1;
            return block;
        }

        int at() {
            return at;
        }
    }

    /** Where one mover thread fetches remote blocks together: at most {@link SwapStore#MAX_REQUEST_BLOCKS}. */
    SwapStore.Fetch newFetch() {
        return new SwapStore.Fetch(SwapStore.MAX_REQUEST_BLOCKS, store.compressedPageBytes());
    }

    /** Where one mover thread copies a block out ({@link SwapStore#copyOut}). */
    SwapStore.BlockCopy newCopy() {
        return new SwapStore.BlockCopy(store.compressedPageBytes());
    }

    /**
     * Finds up to {@code max} remote blocks that {@code wanted} takes (by handle) into {@code out},
     * looking at most at {@code maxScan} blocks from {@code hand}, and at most once round.
     */
    int collectRemote(Hand hand, int[] out, int max, int maxScan, LongPredicate wanted) {
        int n = 0;
        int blocks = table.blocks();
        int scan = Math.min(maxScan, blocks); // at most one lap: a block is found once per call
        for (int scanned = 0; scanned < scan && n < max; scanned++) {
            int block = hand.next(blocks);
            long e = table.peek(block);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE && wanted.test(BlockTable.handle(e))) {
                out[n++] = block;
            }
        }
        return n;
    }

    /**
     * Fetches together those of {@code blocks[0..n)} (at most {@link SwapStore#MAX_REQUEST_BLOCKS})
     * that are remote when looked at ({@link SwapStore#copyOut} into {@code c} notes each
     * generation), into {@code f} (count 0: none was).
     */
    void fetchRemote(int[] blocks, int n, RemoteTier tier, SwapStore.Fetch f, SwapStore.BlockCopy c) {
        f.count = 0;
        for (int j = 0; j < n && f.count < f.blocks.length; j++) {
            long e = store.copyOut(blocks[j], c);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE) {
                f.add(j, blocks[j], c.generation, e);
            }
        }
        if (f.count > 0) {
            store.timedFetch(tier, f);
        }
    }

    /**
     * Puts a remote block's fetched page into the pool and points the block at it, if the block's
     * generation is still {@code generation}; then its remote copies are deleted and the move is
     * counted (pool, remote, and {@code countAs}). Returns 1, 0 when the block changed meanwhile,
     * {@link #HOME_RESERVE_EMPTY} when the pool's reserve was empty (its grower refills it), or
     * {@link #HOME_POOL_FULL} when the pool refused at its limit.
     */
    int moveHome(int block, int generation, byte[] page, int length, RemoteTier tier, Counter countAs) {
        long handle = pool.allocate(length);
        if (handle == LocalPool.REFUSED_RESERVE_EMPTY) {
            return HOME_RESERVE_EMPTY;
        }
        if (handle < 0) {
            return HOME_POOL_FULL;
        }
        OffHeap.copyToNative(page, 0, pool.address(handle), length);
        long e = table.lock(block);
        if (table.generation(block) != generation) {
            table.unlock(block, e);
            pool.free(handle, length);
            return 0;
        }
        table.publish(block, BlockTable.entry(BlockTable.STATE_LOCAL, length, handle));
        store.uncountRemote(tier, e);
        counters.increment(Counter.PERS_ZPAGES);
        counters.add(Counter.PERS_ZBYTES, length);
        counters.increment(countAs);
        tier.forget(BlockTable.handle(e));
        return 1;
    }

    /** Counts a page now held remote under {@code handle}. */
    void countRemote(RemoteTier tier, long handle, int length) {
        boolean misplaced;
        try {
            misplaced = tier.needsReplacing(handle);
        } catch (RuntimeException e) { // the member is stopping, say: a commit must not fail halfway for a look
            misplaced = true; // costs one sweep at most
        }
        if (misplaced) {
            misplacedCommits.incrementAndGet();
        }
        counters.increment(Counter.REMOTE_PERS_PAGES);
        counters.add(Counter.REMOTE_PERS_ZBYTES, length);
        if (tier.copies(handle) < 2) {
            counters.increment(Counter.REMOTE_PAGES_ONE_COPY);
        }
    }
}
