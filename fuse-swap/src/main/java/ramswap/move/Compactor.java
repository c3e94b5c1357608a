package ramswap.store;

import java.time.Duration;
import ramswap.agent.PeriodicAgent;

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

    private final SwapStore store;
    private final Counters counters;

    public Compactor(SwapStore store) {
        super(INTERVAL);
        this.store = store;
        this.counters = store.counters();
    }

    @Override
    public String roleName() {
        return "ramswap-compactor";
    }

    @Override
    protected void tick() {
        long mapped = store.pool().mappedBytes();
        long held = counters.get(Counter.PERS_ZBYTES);
        if (mapped > held * SLACK_RATIO + SLACK_BYTES) {
            counters.add(Counter.POOL_COMPACTED_PAGES, store.compact(SCAN_PER_TICK));
        }
    }
}
