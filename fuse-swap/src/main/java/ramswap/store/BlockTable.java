package ramswap.store;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;

/**
 * One {@code long} per 4 KiB block of the swap file, packing where the block is, its stored
 * length and its handle (zram's table entry: handle + size + flags in one word, a lock per slot).
 *
 * <pre>
 *  63    62..61  60..48   47..0
 *  LOCK  state   length   handle (pool handle, fill-word index or remote key)
 * </pre>
 *
 * Beside each entry, a generation that every {@link #publish} advances: a mover that copied a
 * block commits only if the generation is still the one it saw, since the pool reuses freed
 * addresses and an entry can come back bit for bit with other contents.
 *
 * <p>Lock order: block locks are taken in ascending block order, and they are the innermost
 * locks; nothing else is taken while one is held except reading the pool's memory.
 */
public final class BlockTable {

    public static final int STATE_EMPTY = 0;
    public static final int STATE_SAME = 1;
    public static final int STATE_LOCAL = 2;
    public static final int STATE_REMOTE = 3;

    private static final long LOCK_BIT = 1L << 63;
    private static final int STATE_SHIFT = 61;
    private static final int LENGTH_SHIFT = 48;
    private static final long LENGTH_MASK = 0x1FFFL;
    public static final long HANDLE_MASK = (1L << LENGTH_SHIFT) - 1;
    public static final long EMPTY = 0L;

    private static final VarHandle ENTRY = MethodHandles.arrayElementVarHandle(long[].class);
    private static final int SPINS_BEFORE_YIELD = 256;

    /** Bytes of table per block: the entry, its generation and its clock mark. */
    public static final int BYTES_PER_BLOCK = Long.BYTES + Integer.BYTES + 1;

    /** Clock marks: not used since the hand passed, used (read or written), or being sent remote. */
    public static final byte MARK_COLD = 0;

    public static final byte MARK_USED = 1;
    public static final byte MARK_SENDING = 2;

    private final long[] entries;
    /** Written only under the block's lock; read under it (the lock's volatile accesses order them). */
    private final int[] generations;
    /**
     * The clock of the remotifier's approximate LRU: serving threads mark a block used, the hand
     * clears the mark and takes blocks it finds unmarked. Plain accesses: a lost mark only makes
     * the approximation coarser.
     */
    private final byte[] marks;

    public BlockTable(int blocks) {
        if (blocks <= 0) {
            throw new IllegalArgumentException("a block table needs at least one block, got " + blocks);
        }
        this.entries = new long[blocks];
        this.generations = new int[blocks];
        this.marks = new byte[blocks];
    }

    public int blocks() {
        return entries.length;
    }

    // ---------------------------------------------------------------- encoding

    public static long entry(int state, int length, long handle) {
        if (state < STATE_EMPTY
                || state > STATE_REMOTE
                || length < 0
                || length > LENGTH_MASK
                || handle < 0
                || handle > HANDLE_MASK) {
            throw new IllegalArgumentException("bad entry: state " + state + " length " + length + " handle " + handle);
        }
        return ((long) state << STATE_SHIFT) | ((long) length << LENGTH_SHIFT) | handle;
    }

    public static int state(long entry) {
        return (int) ((entry >>> STATE_SHIFT) & 0x3);
    }

    public static int length(long entry) {
        return (int) ((entry >>> LENGTH_SHIFT) & LENGTH_MASK);
    }

    public static long handle(long entry) {
        return entry & HANDLE_MASK;
    }

    // ---------------------------------------------------------------- access

    /** The entry as last published, without locking; for statistics and tests. */
    public long peek(int block) {
        return (long) ENTRY.getVolatile(entries, block) & ~LOCK_BIT;
    }

    /** Takes the block's lock and returns its entry. Hold it only for a copy or a swap of the entry. */
    public long lock(int block) {
        int spins = 0;
        while (true) {
            long e = (long) ENTRY.getVolatile(entries, block);
            if ((e & LOCK_BIT) == 0 && ENTRY.compareAndSet(entries, block, e, e | LOCK_BIT)) {
                return e;
            }
            if (++spins < SPINS_BEFORE_YIELD) {
                Thread.onSpinWait();
            } else {
                Thread.yield();
            }
        }
    }

    /** Releases the lock taken by {@link #lock}, the entry unchanged: {@code entry} is what lock returned. */
    public void unlock(int block, long entry) {
        ENTRY.setVolatile(entries, block, entry & ~LOCK_BIT);
    }

    /** Publishes {@code entry} under the block's lock and returns the old one, whose location the caller frees. */
    public long exchange(int block, long entry) {
        long old = lock(block);
        publish(block, entry);
        return old;
    }

    /** The block's generation; call it while holding the block's lock. */
    public int generation(int block) {
        return generations[block];
    }

    /** Marks the block used (a read or a write), for the clock. */
    void markUsed(int block) {
        if (marks[block] != MARK_USED) {
            marks[block] = MARK_USED;
        }
    }

    /** The block's clock mark ({@link #MARK_COLD}, {@link #MARK_USED}, {@link #MARK_SENDING}). */
    public byte mark(int block) {
        return marks[block];
    }

    public void setMark(int block, byte mark) {
        marks[block] = mark;
    }

    /** True if the block's generation is no longer {@code generation}: it changed since it was read. */
    public boolean changedSince(int block, int generation) {
        long e = lock(block);
        boolean changed = generation(block) != generation;
        unlock(block, e);
        return changed;
    }

    /** Publishes a new entry, advances the generation and releases the lock taken by {@link #lock}. */
    public void publish(int block, long entry) {
        generations[block]++;
        ENTRY.setVolatile(entries, block, entry & ~LOCK_BIT);
    }
}
