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
    /** The target list, as set; its first element is also the knob's value. */
    private volatile int[] targets = {};

    public Knobs() {
        for (Knob k : Knob.values()) {
            values.set(k.ordinal(), k.defaultValue());
            locks[k.ordinal()] = new Object();
        }
    }

    public long get(Knob k) {
        return values.get(k.ordinal());
    }

    /** The knob as an operator reads it: its number, or for the target list the list ("2,1"). */
    public String text(Knob k) {
        if (k.isList()) {
            int[] t = targets;
            if (t.length == 0) {
                return "-1";
            }
            StringBuilder b = new StringBuilder();
            for (int n : t) {
                b.append(b.length() == 0 ? "" : ",").append(n);
            }
            return b.toString();
        }
        return Long.toString(get(k));
    }

    /** The nodes that take this node's pages, in the order they are tried; empty for none. */
    public int[] targets() {
        return targets.clone();
    }

    /**
     * Sets a knob from an operator's text ("10", "10\n"; for the target list also "2,1"). Returns
     * null when done, or a message saying why the value was refused.
     */
    public String set(Knob k, String text) {
        if (k.isList()) {
            return setTargets(k, text.strip());
        }
        long v;
        try {
            v = Long.parseLong(text.strip());
        } catch (NumberFormatException e) {
            return k.fileName() + ": not an integer: '" + text.strip() + "'";
        }
        return set(k, v);
    }

    public String set(Knob k, long v) {
        if (k.isList()) {
            return set(k, Long.toString(v));
        }
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

    private String setTargets(Knob k, String text) {
        String[] parts = text.split(",", -1);
        int[] list = new int[parts.length];
        for (int i = 0; i < parts.length; i++) {
            long v;
            try {
                v = Long.parseLong(parts[i].strip());
            } catch (NumberFormatException e) {
                return k.fileName() + ": not a node number: '" + parts[i].strip()
                        + "'; give -1, a node number or a list such as 2,1";
            }
            if (v == -1 && parts.length == 1) {
                list = new int[0];
                break;
            }
            if (v < 0 || v > k.max()) {
                return k.fileName() + ": node " + v + " is out of range [0, " + k.max() + "] (-1 alone means none)";
            }
            for (int j = 0; j < i; j++) {
                if (list[j] == v) {
                    return k.fileName() + ": node " + v + " is listed twice";
                }
            }
            list[i] = (int) v;
        }
        synchronized (locks[k.ordinal()]) {
            targets = list;
            values.set(k.ordinal(), list.length == 0 ? -1 : list[0]);
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
