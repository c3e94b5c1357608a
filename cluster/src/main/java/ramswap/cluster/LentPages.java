package ramswap.cluster;

import java.util.function.LongPredicate;
import ramswap.store.LocalPool;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

/**
 * A lender's store of other nodes' pages, off the Java heap. Each sealed page lives in a slot of
 * a {@link LocalPool} of its own (size classes of {@value LocalPool#CLASS_STEP} bytes, slabs of
 * 256 KiB backed as pages arrive, locked as they are touched when the daemon locks its memory,
 * given back to the kernel when emptied), headed by its key and its length. The index that finds
 * a page by its key ({@link RemoteKey}: node, incarnation, sequence) is a table of the slots'
 * handles, 4 bytes each, in native memory (so that the heap does not grow with the quota), open
 * addressing with linear probing: it doubles past 3/4 full and halves below 1/8, so past its first
 * 1024 entries (4 KiB) it costs 5.3 to 32 bytes per page, 5.3 to 10.7 while pages arrive.
 *
 * <pre>
 * slot: key (8 bytes) | sealed length (2 bytes) | sealed page
 * </pre>
 *
 * <p><b>Quota.</b> The pool's limit is the quota: a page that would need a slab past it is
 * refused ({@link #put} returns false) and nothing is stored. The quota bounds what is resident,
 * slabs' free slots included, not only the pages' bytes.
 *
 * <p><b>Compaction.</b> A slab left sparse by frees keeps its memory until its last page leaves;
 * {@link #compact} moves pages out of sparse slabs into denser ones of their class, so that the
 * sparse ones empty and go back to the kernel.
 *
 * <p>Thread-safe: every operation holds this store's lock (the callers are Hazelcast's threads,
 * a batch per call). Nothing here is on a node's serving path.
 */
public final class LentPages implements AutoCloseable {

    static final int HEADER_BYTES = Long.BYTES + Short.BYTES;
    /** The longest sealed page a slot takes: a block sealed, with room to spare. */
    public static final int MAX_PAGE_BYTES = LocalPool.MAX_LENGTH - HEADER_BYTES;
    /** Slabs addressable by an index entry (slab id 18 bits, slot 13): 64 GiB of slabs. */
    static final long MAX_QUOTA_BYTES = (1L << 18) * LocalPool.SLAB_BYTES;

    private static final int MIN_TABLE = 1024;
    private static final int EMPTY = -1;
    private static final int SLOT_BITS = 13;
    private static final int POOL_SLOT_BITS = 16;

    private final LocalPool pool;
    /** The index: {@link #tableSize} ints in native memory, each a packed slot handle or {@link #EMPTY}. */
    private long table = newTable(MIN_TABLE);

    private int tableSize = MIN_TABLE;
    private boolean closed;
    private int pages;
    private long pageBytes;
    private int compactCursor;
    private long refusedPages;
    private long droppedPages;

    /**
     * @param quotaBytes  the most this store keeps resident: slabs of 256 KiB, used or partly used
     * @param lockOnFault the process locks its memory: the store's range is locked as it is touched,
     *                    not populated whole when it is mapped
     */
    public LentPages(Posix posix, long quotaBytes, boolean lockOnFault) {
        if (quotaBytes < LocalPool.SLAB_BYTES || quotaBytes > MAX_QUOTA_BYTES) {
            throw new IllegalArgumentException("a lend quota must be between " + LocalPool.SLAB_BYTES + " and "
                    + MAX_QUOTA_BYTES + " bytes, got " + quotaBytes);
        }
        this.pool = new LocalPool(posix, quotaBytes, quotaBytes, 0, lockOnFault);
    }

    /**
     * Stores {@code length} bytes of {@code src} from {@code offset} under {@code key}, in place of
     * what the key held. False, and nothing stored (what the key held is gone), when the quota is
     * full.
     */
    public synchronized boolean put(long key, byte[] src, int offset, int length) {
        checkOpen();
        if (length < 1 || length > MAX_PAGE_BYTES) {
            throw new IllegalArgumentException("a lent page is 1 to " + MAX_PAGE_BYTES + " bytes, got " + length);
        }
        removeKey(key);
        long handle = pool.allocate(length + HEADER_BYTES);
        if (handle < 0) {
            return false;
        }
        long at = pool.address(handle);
        OffHeap.putLong(at, key);
        putLength(at, length);
        OffHeap.copyToNative(src, offset, at + HEADER_BYTES, length);
        int i = probe(key);
        set(i, pack(handle));
        pages++;
        pageBytes += length;
        if (pages > tableSize / 4 * 3) {
            resize(tableSize * 2);
        }
        return true;
    }

    /** A copy of the page under {@code key}, of its length, or null if none. */
    public synchronized byte[] get(long key) {
        checkOpen();
        int e = at(probe(key));
        if (e == EMPTY) {
            return null;
        }
        long at = pool.address(unpack(e));
        byte[] page = new byte[length(at)];
        OffHeap.copyFromNative(at + HEADER_BYTES, page, 0, page.length);
        return page;
    }

    /** Whether a page is stored under {@code key}. */
    public synchronized boolean contains(long key) {
        checkOpen();
        return at(probe(key)) != EMPTY;
    }

    /** Frees the page under {@code key}; false if there was none. */
    public synchronized boolean remove(long key) {
        checkOpen();
        boolean removed = removeKey(key);
        if (removed && pages < tableSize / 8 && tableSize > MIN_TABLE) {
            resize(tableSize / 2);
        }
        return removed;
    }

    /** Frees every page whose key {@code doomed} accepts (a node gone, an earlier life): how many. */
    public synchronized int removeIf(LongPredicate doomed) {
        int removed = 0;
        for (int i = 0; i < tableSize; i++) {
            int e = at(i);
            if (e != EMPTY) {
                long at = pool.address(unpack(e));
                if (doomed.test(OffHeap.getLong(at))) {
                    int length = length(at);
                    pool.free(unpack(e), length + HEADER_BYTES);
                    set(i, EMPTY);
                    pages--;
                    pageBytes -= length;
                    removed++;
                }
            }
        }
        if (removed > 0) { // the holes broke probe runs: place every survivor again
            resize(tableSizeFor(pages));
        }
        return removed;
    }

    /**
     * Moves at most {@code maxMoves} pages out of sparse slabs into denser ones of their class,
     * looking at most at {@code maxLooks} entries from where the last call stopped: how many moved.
     */
    public synchronized int compact(int maxMoves, int maxLooks) {
        checkOpen();
        int moved = 0;
        for (int looks = 0; looks < maxLooks && moved < maxMoves && pages > 0; looks++) {
            int i = compactCursor;
            compactCursor = (compactCursor + 1) & (tableSize - 1);
            int e = at(i);
            if (e == EMPTY) {
                continue;
            }
            long from = unpack(e);
            long at = pool.address(from);
            int slotLength = length(at) + HEADER_BYTES;
            if (!pool.sparse(from, slotLength)) {
                continue;
            }
            long to = pool.allocateDenser(from, slotLength);
            if (to < 0) {
                continue;
            }
            OffHeap.copyNative(at, pool.address(to), slotLength);
            set(i, pack(to));
            pool.free(from, slotLength);
            moved++;
        }
        return moved;
    }

    /**
     * Gives back the empty slab each size class keeps, for the classes that neither stored nor
     * freed since the last call (see {@link LocalPool#giveBackIdleEmpties}): how many it gave back.
     */
    public synchronized int giveBackIdleSlabs() {
        checkOpen();
        return pool.giveBackIdleEmpties();
    }

    /** Gives every stored page's key to {@code each}, under this store's lock. */
    public synchronized void forEachKey(java.util.function.LongConsumer each) {
        for (int t = 0; t < tableSize; t++) {
            int e = at(t);
            if (e != EMPTY) {
                each.accept(OffHeap.getLong(pool.address(unpack(e))));
            }
        }
    }

    /** How many pages stored have a key that {@code which} accepts. */
    public synchronized int count(LongPredicate which) {
        int n = 0;
        for (int t = 0; t < tableSize; t++) {
            int e = at(t);
            if (e != EMPTY && which.test(OffHeap.getLong(pool.address(unpack(e))))) {
                n++;
            }
        }
        return n;
    }

    /** The node numbers of the pages stored, each once. */
    public synchronized java.util.SortedSet<Integer> nodes() {
        java.util.SortedSet<Integer> nodes = new java.util.TreeSet<>();
        for (int t = 0; t < tableSize; t++) {
            int e = at(t);
            if (e != EMPTY) {
                nodes.add(RemoteKey.node(OffHeap.getLong(pool.address(unpack(e)))));
            }
        }
        return nodes;
    }

    /** Pages stored. */
    public synchronized int pages() {
        return pages;
    }

    /** The sealed bytes of the pages stored, without their slots' headers and slack. */
    public synchronized long pageBytes() {
        return pageBytes;
    }

    /** Counts {@code n} pages a store call could not keep: the quota was full. */
    public synchronized void refused(int n) {
        refusedPages += n;
    }

    /** Pages refused for the quota, ever. */
    public synchronized long refusedPages() {
        return refusedPages;
    }

    /**
     * Counts {@code n} pages dropped because the life of the node that sent them is over (orphans:
     * the node restarted, or is gone for the grace).
     */
    public synchronized void dropped(int n) {
        droppedPages += n;
    }

    /** Pages dropped as orphans, ever. */
    public synchronized long droppedPages() {
        return droppedPages;
    }

    /** Bytes of the slabs backed: what the pages cost in memory, off the heap. */
    public long mappedBytes() {
        return pool.mappedBytes();
    }

    /** Bytes of the index, off the heap. */
    public synchronized long indexBytes() {
        return (long) tableSize * Integer.BYTES;
    }

    public long quotaBytes() {
        return pool.limitBytes();
    }

    /** Frees every page and gives the store's memory back; call it once no call can reach the store. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        pool.close();
        OffHeap.free(table);
        table = 0;
        tableSize = 0;
        pages = 0;
        pageBytes = 0;
    }

    // ---------------------------------------------------------------- the index

    /** The index of {@code key}'s entry, or of the empty entry where it would go. */
    private int probe(long key) {
        int mask = tableSize - 1;
        for (int i = hash(key) & mask; ; i = (i + 1) & mask) {
            int e = at(i);
            if (e == EMPTY || OffHeap.getLong(pool.address(unpack(e))) == key) {
                return i;
            }
        }
    }

    private boolean removeKey(long key) {
        int i = probe(key);
        int e = at(i);
        if (e == EMPTY) {
            return false;
        }
        long handle = unpack(e);
        int length = length(pool.address(handle));
        pool.free(handle, length + HEADER_BYTES);
        pages--;
        pageBytes -= length;
        // backward-shift deletion: move up every entry of the run that the hole would hide
        int mask = tableSize - 1;
        int hole = i;
        for (int j = (i + 1) & mask; at(j) != EMPTY; j = (j + 1) & mask) {
            int home = hash(OffHeap.getLong(pool.address(unpack(at(j))))) & mask;
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                set(hole, at(j));
                hole = j;
            }
        }
        set(hole, EMPTY);
        return true;
    }

    private void resize(int size) {
        long old = table;
        int oldSize = tableSize;
        table = newTable(size);
        tableSize = size;
        int mask = size - 1;
        for (int t = 0; t < oldSize; t++) {
            int e = OffHeap.getInt(old + (long) t * Integer.BYTES);
            if (e != EMPTY) {
                int i = hash(OffHeap.getLong(pool.address(unpack(e)))) & mask;
                while (at(i) != EMPTY) {
                    i = (i + 1) & mask;
                }
                set(i, e);
            }
        }
        OffHeap.free(old);
        compactCursor = 0;
    }

    /** The table size that holds {@code n} entries at most half full. */
    private static int tableSizeFor(int n) {
        int size = MIN_TABLE;
        while (size / 2 < n) {
            size *= 2;
        }
        return size;
    }

    /** A closed store's memory is gone: a late call fails instead of reading it. */
    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("this lender's store is closed");
        }
    }

    /** A table of {@code size} empty entries (all bits set), in native memory. */
    private static long newTable(int size) {
        long t = OffHeap.allocate((long) size * Integer.BYTES);
        OffHeap.setMemory(t, (long) size * Integer.BYTES, (byte) 0xFF);
        return t;
    }

    private int at(int i) {
        return OffHeap.getInt(table + (long) i * Integer.BYTES);
    }

    private void set(int i, int e) {
        OffHeap.putInt(table + (long) i * Integer.BYTES, e);
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /** A pool handle ({@code slab << 16 | slot}) in 31 bits: slab 18 bits, slot 13 (8192 slots of 32 bytes). */
    private static int pack(long handle) {
        return (int) ((handle >>> POOL_SLOT_BITS) << SLOT_BITS | (handle & ((1 << SLOT_BITS) - 1)));
    }

    private static long unpack(int e) {
        return ((long) (e >>> SLOT_BITS) << POOL_SLOT_BITS) | (e & ((1 << SLOT_BITS) - 1));
    }

    private static void putLength(long slot, int length) {
        OffHeap.putShort(slot + Long.BYTES, (short) length);
    }

    /** The sealed length in a slot's header. */
    private static int length(long slot) {
        return OffHeap.getShort(slot + Long.BYTES) & 0xFFFF;
    }
}
