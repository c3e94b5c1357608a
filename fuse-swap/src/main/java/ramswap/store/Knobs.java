package ramswap.store;

import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.function.LongConsumer;

/**
 * Current values of every {@link Knob}, checked against its range when set. Setting a knob runs
 * its listener and stores the value as one step, one set at a time per knob, so that what the
 * listener applied last is always the value stored.
 */
public final class Knobs {

    private final AtomicLongArray values = new AtomicLongArray(Knob.values().length);
    private final Map<Knob, LongConsumer> listeners = new EnumMap<>(Knob.class);
    private final Object[] locks = new Object[Knob.values().length];

    public Knobs() {
        for (Knob k : Knob.values()) {
            values.set(k.ordinal(), k.defaultValue());
            locks[k.ordinal()] = new Object();
        }
    }

    public long get(Knob k) {
        return values.get(k.ordinal());
    }

    /**
     * Sets a knob from an operator's text ("10", "10\n"). Returns null when done, or a message
     * saying why the value was refused.
     */
    public String set(Knob k, String text) {
        long v;
        try {
            v = Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            return k.fileName() + ": not an integer: '" + text.strip() + "'";
        }
        return set(k, v);
    }

    public String set(Knob k, long v) {
        if (v < k.min() || v > k.max()) {
            return k.fileName() + ": " + v + " is out of range [" + k.min() + ", " + k.max() + "]";
        }
        LongConsumer l;
        synchronized (listeners) {
            l = listeners.get(k);
        }
        synchronized (locks[k.ordinal()]) {
            if (l != null) {
                try {
                    l.accept(v);
                } catch (IllegalArgumentException e) {
                    return e.getMessage();
                }
            }
            values.set(k.ordinal(), v);
        }
        return null;
    }

    /** Called with each new value before it is stored; it may refuse by throwing IllegalArgumentException. */
    public void onChange(Knob k, LongConsumer listener) {
        synchronized (listeners) {
            listeners.put(k, listener);
        }
    }
}
