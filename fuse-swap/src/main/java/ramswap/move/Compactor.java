package ramswap.move;

import java.time.Duration;
import ramswap.agent.PeriodicAgent;
import ramswap.store.BlockTable;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.LocalPool;
import ramswap.store.SwapStore;
import ramswap.sys.OffHeap;

/**
 * Keeps the pool's mapped memory near what it holds: when the pool maps much more than its pages
 * take (pages went remote, or were discarded, and left slabs partly used), pooled blocks move from
 * sparse slabs into denser ones until the sparse slabs empty and go back to the kernel.
 */
public final class Compactor extends PeriodicAgent {

    private static final Duration INTERVAL = Duration.ofMillis(500);
    /** Blocks looked at per tick: a 4 GiB swap file's table is a million blocks, seen in a few seconds. */
    private static final int SCAN_PER_TICK = 131_072;
    /** Mapped memory beyond this many times what the pages take counts as worth compacting. */
    private static final double SLACK_RATIO = 1.5;
    /** ... and beyond this many bytes: a small pool is left alone (size classes round up, a slab per class). */
    private static final long SLACK_BYTES = 32L << 20;

    private final Moves moves;
    private final BlockTable table;
    private final LocalPool pool;
    private final Counters counters;
    private final Moves.Hand hand = new Moves.Hand();
    /** Where a block's bytes are copied out before they move. */
    private final SwapStore.BlockCopy copy;

    public Compactor(Moves moves) {
        super(INTERVAL);
        this.moves = moves;
        this.table = moves.table();
        this.pool = moves.pool();
        this.counters = moves.counters();
        this.copy = moves.newCopy();
    }

    @Override
    public String roleName() {
        return "ramswap-compactor";
    }

    @Override
    protected void tick() {
        long mapped = pool.mappedBytes();
        long held = counters.get(Counter.PERS_ZBYTES);
        if (mapped > held * SLACK_RATIO + SLACK_BYTES) {
            counters.add(Counter.POOL_COMPACTED_PAGES, compact(SCAN_PER_TICK));
        }
    }

    /**
     * Moves pooled blocks out of sparse slabs into denser ones, looking at most at
     * {@code maxScan} blocks, so that emptied slabs go back to the kernel and the pool's mapped
     * memory follows what it holds down (after pages went remote or were discarded). A move
     * commits only against an unchanged generation. Returns the blocks moved.
     */
    public int compact(int maxScan) {
        SwapStore.BlockCopy s = copy;
        int moved = 0;
        int blocks = table.blocks();
        for (int scanned = 0; scanned < maxScan; scanned++) {
            int block = hand.next(blocks);
            long e = table.peek(block);
            if (BlockTable.state(e) != BlockTable.STATE_LOCAL
                    || !pool.sparse(BlockTable.handle(e), BlockTable.length(e))) {
                continue;
            }
            e = moves.store().copyOut(block, s);
            if (BlockTable.state(e) != BlockTable.STATE_LOCAL) {
                continue;
            }
            int length = BlockTable.length(e);
            long to = pool.allocateDenser(BlockTable.handle(e), length);
            if (to < 0) {
                continue;
            }
            OffHeap.copyToNative(s.bytes, 0, pool.address(to), length);
            long now = table.lock(block);
            if (table.generation(block) != s.generation) {
                table.unlock(block, now);
                pool.free(to, length);
                continue;
            }
            table.publish(block, BlockTable.entry(BlockTable.STATE_LOCAL, length, to));
            pool.free(BlockTable.handle(e), length);
            moved++;
        }
        return moved;
    }
}
