package ramswap.store;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;

/** The values of every {@link Counter}; each on its own cache line, since two cores update them per block. */
public final class Counters {

    private static final int STRIDE = 8; // longs per 64-byte line

    private final AtomicLongArray values = new AtomicLongArray(Counter.values().length * STRIDE);

    public long get(Counter c) {
        return values.get(c.ordinal() * STRIDE);
    }

    public void add(Counter c, long delta) {
        values.getAndAdd(c.ordinal() * STRIDE, delta);
    }

    public void increment(Counter c) {
        add(c, 1);
    }

    public void set(Counter c, long value) {
        values.set(c.ordinal() * STRIDE, value);
    }

    /** Raises {@code max} to {@code value} if it is higher. */
    public void raiseMax(Counter max, long value) {
        int i = max.ordinal() * STRIDE;
        long cur;
        while (value > (cur = values.get(i))) {
            if (values.compareAndSet(i, cur, value)) {
                return;
            }
        }
    }

    /** Every counter by file name, in declaration order; allocates, so not for the hot path. */
    public Map<String, Long> snapshot() {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Counter c : Counter.values()) {
            m.put(c.fileName(), get(c));
        }
        return m;
    }
}
