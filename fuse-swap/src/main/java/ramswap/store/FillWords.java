package ramswap.store;

/**
 * The distinct 8-byte words of same-filled pages, so that a table entry can name one by index.
 * A table entry has no room for a whole word beside its state bits; real swap holds very few
 * distinct fill words (zero above all), so a small interned table costs almost nothing.
 * Words are never removed: the table only grows, up to its capacity, after which a new word's
 * page is simply compressed like any other page.
 */
final class FillWords {

    static final int ZERO_INDEX = 0;

    private final long[] words;
    private final long[] slotsKey;
    private final int[] slotsIndex;
    private int count;

    FillWords(int capacity) {
        if (capacity < 1 || Integer.bitCount(capacity) != 1) {
            throw new IllegalArgumentException("capacity must be a power of two, got " + capacity);
        }
        this.words = new long[capacity];
        this.slotsKey = new long[capacity * 2];
        this.slotsIndex = new int[capacity * 2];
        java.util.Arrays.fill(slotsIndex, -1);
        this.count = 1; // index 0 is the zero word, always present
    }

    /** The word's index, interning it if new; -1 when the table is full. */
    int indexOf(long word) {
        if (word == 0L) {
            return ZERO_INDEX;
        }
        synchronized (this) {
            int mask = slotsKey.length - 1;
            int slot = mix(word) & mask;
            for (int probes = 0; probes < slotsKey.length; probes++) {
                int idx = slotsIndex[slot];
                if (idx < 0) {
                    if (count == words.length) {
                        return -1;
                    }
                    idx = count++;
                    words[idx] = word;
                    slotsKey[slot] = word;
                    slotsIndex[slot] = idx;
                    return idx;
                }
                if (slotsKey[slot] == word) {
                    return idx;
                }
                slot = (slot + 1) & mask;
            }
            return -1;
        }
    }

    /**
     * The word at an index obtained from {@link #indexOf}. The index reached the reader through a
     * volatile table entry written after the word, so the word is visible without a lock.
     */
    long word(int index) {
        return words[index];
    }

    private static int mix(long word) {
        long h = word * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }
}
