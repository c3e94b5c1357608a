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
 * a page by its key ({@link RemoteKey}: node, incarnation, sequence) is a table in native memory
 * (so that the heap does not grow with the quota), open addressing with linear probing, of 8-byte
 * entries: the slot's handle and the key's 32-bit hash. A probe reads a page's key from its slab,
 * a cache miss, only where the hash matches, and moving or placing an entry again reads no slab
 * (reading every key met was 22% of a lender's Java time in the all-remote benchmark). The table
 * doubles past 3/4 full and halves below 1/4, so past its first 1024 entries (8 KiB) it costs
 * 10.7 to 32 bytes per page, 10.7 to 21.3 while pages arrive.
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
    private static final long EMPTY = -1;
    private static final int SLOT_BITS = 13;
    private static final int POOL_SLOT_BITS = 16;

    private final LocalPool pool;
    /**
     * The index: {@link #tableSize} longs in native memory, each {@link #EMPTY} or the key's hash
     * (high 32 bits) and the packed slot handle (low 31).
     */
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
        int hash = hash(key);
        int i = probe(key, hash);
        long old = at(i);
        boolean held = old != EMPTY;
        if (held) {
            freePage(old);
        }
        long handle = pool.allocate(length + HEADER_BYTES);
        if (handle < 0) {
            if (held) {
                deleteAt(i);
            }
            return false;
        }
        long at = pool.address(handle);
        OffHeap.putLong(at, key);
        putLength(at, length);
        OffHeap.copyToNative(src, offset, at + HEADER_BYTES, length);
        set(i, entry(hash, handle));
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
        long e = at(probe(key, hash(key)));
        if (e == EMPTY) {
            return null;
        }
        long at = pool.address(handle(e));
        byte[] page = new byte[length(at)];
        OffHeap.copyFromNative(at + HEADER_BYTES, page, 0, page.length);
        return page;
    }

    /** Whether a page is stored under {@code key}. */
    public synchronized boolean contains(long key) {
        checkOpen();
        return at(probe(key, hash(key))) != EMPTY;
    }

    /** Frees the page under {@code key}; false if there was none. */
    public synchronized boolean remove(long key) {
        checkOpen();
        boolean removed = removeKey(key);
        if (removed && pages < tableSize / 4 && tableSize > MIN_TABLE) {
            resize(tableSize / 2);
        }
        return removed;
    }

    /** Frees every page whose key {@code doomed} accepts (a node gone, an earlier life): how many. */
    public synchronized int removeIf(LongPredicate doomed) {
        int removed = 0;
        for (int i = 0; i < tableSize; i++) {
            long e = at(i);
            if (e != EMPTY) {
                long at = pool.address(handle(e));
                if (doomed.test(OffHeap.getLong(at))) {
                    int length = length(at);
                    pool.free(handle(e), length + HEADER_BYTES);
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
            long e = at(i);
            if (e == EMPTY) {
                continue;
            }
            long from = handle(e);
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
            set(i, entry(hashOf(e), to));
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
            long e = at(t);
            if (e != EMPTY) {
                each.accept(OffHeap.getLong(pool.address(handle(e))));
            }
        }
    }

    /** How many pages stored have a key that {@code which} accepts. */
    public synchronized int count(LongPredicate which) {
        int n = 0;
        for (int t = 0; t < tableSize; t++) {
            long e = at(t);
            if (e != EMPTY && which.test(OffHeap.getLong(pool.address(handle(e))))) {
                n++;
            }
        }
        return n;
    }

    /** The node numbers of the pages stored, each once. */
    public synchronized java.util.SortedSet<Integer> nodes() {
        java.util.SortedSet<Integer> nodes = new java.util.TreeSet<>();
        for (int t = 0; t < tableSize; t++) {
            long e = at(t);
            if (e != EMPTY) {
                nodes.add(RemoteKey.node(OffHeap.getLong(pool.address(handle(e)))));
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
        return (long) tableSize * Long.BYTES;
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

    /** The index of {@code key}'s entry ({@code hash} its hash), or of the empty entry where it would go. */
    private int probe(long key, int hash) {
        int mask = tableSize - 1;
        for (int i = hash & mask; ; i = (i + 1) & mask) {
            long e = at(i);
            if (e == EMPTY || hashOf(e) == hash && OffHeap.getLong(pool.address(handle(e))) == key) {
                return i;
            }
        }
    }

    private boolean removeKey(long key) {
        int i = probe(key, hash(key));
        long e = at(i);
        if (e == EMPTY) {
            return false;
        }
        freePage(e);
        deleteAt(i);
        return true;
    }

    /** Frees the slot of entry {@code e}'s page; its entry stays for the caller to reuse or delete. */
    private void freePage(long e) {
        long handle = handle(e);
        int length = length(pool.address(handle));
        pool.free(handle, length + HEADER_BYTES);
        pages--;
        pageBytes -= length;
    }

    /** Empties entry {@code i} by backward-shift deletion: every entry of the run the hole would hide moves up. */
    private void deleteAt(int i) {
        int mask = tableSize - 1;
        int hole = i;
        for (int j = (i + 1) & mask; at(j) != EMPTY; j = (j + 1) & mask) {
            int home = hashOf(at(j)) & mask;
            if (((j - home) & mask) >= ((j - hole) & mask)) {
                set(hole, at(j));
                hole = j;
            }
        }
        set(hole, EMPTY);
    }

    private void resize(int size) {
        long old = table;
        int oldSize = tableSize;
        table = newTable(size);
        tableSize = size;
        int mask = size - 1;
        for (int t = 0; t < oldSize; t++) {
            long e = OffHeap.getLong(old + (long) t * Long.BYTES);
            if (e != EMPTY) {
                int i = hashOf(e) & mask;
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
        long t = OffHeap.allocate((long) size * Long.BYTES);
        OffHeap.setMemory(t, (long) size * Long.BYTES, (byte) 0xFF);
        return t;
    }

    private long at(int i) {
        return OffHeap.getLong(table + (long) i * Long.BYTES);
    }

    private void set(int i, long e) {
        OffHeap.putLong(table + (long) i * Long.BYTES, e);
    }

    private static int hash(long key) {
        long h = key * 0x9E3779B97F4A7C15L;
        return (int) (h ^ (h >>> 32));
    }

    /**
     * An entry: {@code hash} in the high 32 bits, the pool handle ({@code slab << 16 | slot}) in the
     * low 31, slab 18 bits and slot 13 (8192 slots of 32 bytes). Bit 31 is clear, so no entry is
     * {@link #EMPTY}.
     */
    private static long entry(int hash, long handle) {
        long packed = (handle >>> POOL_SLOT_BITS) << SLOT_BITS | (handle & ((1 << SLOT_BITS) - 1));
        return (long) hash << 32 | packed;
    }

    /** The key's hash kept in entry {@code e}. */
    private static int hashOf(long e) {
        return (int) (e >>> 32);
    }

    /** The pool handle of entry {@code e}. */
    private static long handle(long e) {
        int packed = (int) e & Integer.MAX_VALUE;
        return ((long) (packed >>> SLOT_BITS) << POOL_SLOT_BITS) | (packed & ((1 << SLOT_BITS) - 1));
    }

    private static void putLength(long slot, int length) {
        OffHeap.putShort(slot + Long.BYTES, (short) length);
    }

    /** The sealed length in a slot's header. */
    private static int length(long slot) {
        return OffHeap.getShort(slot + Long.BYTES) & 0xFFFF;
    }
}
