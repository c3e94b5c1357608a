package ramswap.store;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import ramswap.sys.OffHeap;

/**
 * The swap file's contents: a {@link BlockTable} of 4 KiB blocks whose data lives as fill words,
 * in the {@link LocalPool}, or (later) on another node.
 *
 * <p>Every request is all or nothing: a write stores every block it covers or changes none, so
 * that a refusal (pool full, reserve empty, a corrupt block under a partial write) is a failed
 * request the kernel retries, never a short count it would take for success. A request is
 * prepared first, outside every lock: each block encoded and its pool memory allocated; blocks
 * the request covers only in part are read, patched and encoded, and their generation noted.
 * Then it commits: the blocks' locks taken in ascending order, and if no part-covered block
 * changed meanwhile, every new entry published at once. A refusal frees what was prepared;
 * a part-covered block changed by another writer sends the request back to prepare.
 *
 * <p>Write order, as zram's: validate, same-filled test, compress into this thread's scratch,
 * raw if compression gains too little, allocate in the pool, publish the entries under their
 * locks, free the old locations, count.
 *
 * <p>Lock order: block locks in ascending block order, then a pool size class's lock, then the
 * pool's slab lock. Nothing allocates pool memory while it holds a block's lock.
 *
 * <p>Nothing here allocates on the heap per request: scratch buffers are per thread and made once.
 */
public final class SwapStore {

    /** Largest read or write in one call: FUSE's max_read and max_write, stated once here. */
    public static final int MAX_REQUEST_BYTES = 128 * 1024;
    /** Blocks one request can touch: an unaligned request of the largest size spans one more. */
    static final int MAX_REQUEST_BLOCKS = MAX_REQUEST_BYTES / BLOCK_SIZE + 1;
    private static final int FILL_WORDS = 4096;
    private static final byte[] ZEROS = new byte[BLOCK_SIZE];

    private final long sizeBytes;
    private final BlockTable table;
    private final LocalPool pool;
    private final Counters counters;
    private final BlockCodec codec = new BlockCodec();
    private final FillWords fillWords = new FillWords(FILL_WORDS);
    private final ThreadLocal<Scratch> scratch;

    public SwapStore(long sizeBytes, LocalPool pool, Counters counters) {
        if (sizeBytes <= 0 || sizeBytes % BLOCK_SIZE != 0) {
            throw new IllegalArgumentException("swap size must be a positive multiple of 4096 bytes, got " + sizeBytes);
        }
        if (sizeBytes / BLOCK_SIZE > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("swap size too large: " + sizeBytes);
        }
        this.sizeBytes = sizeBytes;
        this.table = new BlockTable((int) (sizeBytes / BLOCK_SIZE));
        this.pool = pool;
        this.counters = counters;
        int compressedBytes = codec.maxCompressedLength();
        this.scratch = ThreadLocal.withInitial(() -> new Scratch(compressedBytes));
    }

    /** Per-thread buffers: a page to patch, room for one compressed page, and one prepared request. */
    private static final class Scratch {
        final byte[] page = new byte[BLOCK_SIZE];
        final byte[] compressed;
        final Span span = new Span();
        /** The prepared request, in ascending block order. */
        final int[] blocks = new int[MAX_REQUEST_BLOCKS];
        final long[] entries = new long[MAX_REQUEST_BLOCKS];
        final long[] oldEntries = new long[MAX_REQUEST_BLOCKS];
        final boolean[] partial = new boolean[MAX_REQUEST_BLOCKS];
        final int[] generations = new int[MAX_REQUEST_BLOCKS];
        /** The generation {@link #copyOut} saw last. */
        int generation;

        Scratch(int compressedBytes) {
            this.compressed = new byte[compressedBytes];
        }
    }

    /**
     * The blocks of a byte range: the one walk over a request. Block {@code i} of the span is
     * {@code block(i)}; the request covers {@code bytes(i)} of it from {@code inBlock(i)}, which
     * are bytes {@code dataOffset(i)} onward of the caller's buffer.
     */
    static final class Span {
        private long offset;
        private long end;
        private int first;
        int count;

        Span set(long offset, long length) {
            this.offset = offset;
            this.end = offset + length;
            this.first = (int) (offset / BLOCK_SIZE);
            this.count = length == 0 ? 0 : (int) ((end - 1) / BLOCK_SIZE - first + 1);
            return this;
        }

        int block(int i) {
            return first + i;
        }

        private long start(int i) {
            return Math.max(offset, (long) (first + i) * BLOCK_SIZE);
        }

        int inBlock(int i) {
            return (int) (start(i) - (long) (first + i) * BLOCK_SIZE);
        }

        int bytes(int i) {
            return (int) (Math.min(end, (long) (first + i + 1) * BLOCK_SIZE) - start(i));
        }

        int dataOffset(int i) {
            return (int) (start(i) - offset);
        }

        boolean whole(int i) {
            return bytes(i) == BLOCK_SIZE;
        }
    }

    public long sizeBytes() {
        return sizeBytes;
    }

    public int blocks() {
        return table.blocks();
    }

    public Counters counters() {
        return counters;
    }

    public LocalPool pool() {
        return pool;
    }

    /** For tests of this package: the table itself. */
    BlockTable table() {
        return table;
    }

    // ================================================================ reads

    /**
     * Reads {@code length} bytes at {@code offset} into {@code dst}; the range must lie inside the
     * file and be at most {@link #MAX_REQUEST_BYTES}. {@link IoResult#CORRUPT} when a stored block
     * failed to decode (each such block counted in corrupt_reads).
     */
    public IoResult read(byte[] dst, int dstOffset, long offset, int length) {
        checkRange(offset, length);
        Scratch s = scratch.get();
        Span r = s.span.set(offset, length);
        IoResult result = IoResult.DONE;
        for (int i = 0; i < r.count; i++) {
            long e = copyOut(r.block(i), s);
            boolean ok;
            if (r.whole(i)) {
                ok = decode(e, s, dst, dstOffset + r.dataOffset(i));
            } else {
                ok = decode(e, s, s.page, 0);
                System.arraycopy(s.page, r.inBlock(i), dst, dstOffset + r.dataOffset(i), r.bytes(i));
            }
            counters.increment(Counter.PAGES_READ);
            if (!ok) {
                result = refused(IoResult.CORRUPT);
            }
        }
        return result;
    }

    /** Takes a block's entry and, for a pooled block, copies its stored bytes into scratch, under the block's lock. */
    private long copyOut(int block, Scratch s) {
        long e = table.lock(block);
        if (BlockTable.state(e) == BlockTable.STATE_LOCAL) {
            OffHeap.copyFromNative(pool.address(BlockTable.handle(e)), s.compressed, 0, BlockTable.length(e));
        }
        s.generation = table.generation(block);
        table.unlock(block, e);
        return e;
    }

    /** A block's contents from its entry (and, for a pooled block, the bytes {@link #copyOut} took); false if they do not decode. */
    private boolean decode(long e, Scratch s, byte[] dst, int dstOffset) {
        switch (BlockTable.state(e)) {
            case BlockTable.STATE_EMPTY -> BlockCodec.fill(dst, dstOffset, 0L);
            case BlockTable.STATE_SAME -> BlockCodec.fill(dst, dstOffset, fillWords.word((int) BlockTable.handle(e)));
            case BlockTable.STATE_LOCAL -> {
                return codec.decompress(s.compressed, BlockTable.length(e), dst, dstOffset);
            }
            default -> throw new IllegalStateException("remote block; this store has no remote tier");
        }
        return true;
    }

    // ================================================================ writes

    /**
     * Writes {@code length} bytes at {@code offset}, all or nothing; the range must lie inside the
     * file and be at most {@link #MAX_REQUEST_BYTES}. On a refusal no block has changed.
     */
    public IoResult write(byte[] src, int srcOffset, long offset, int length) {
        checkRange(offset, length);
        Scratch s = scratch.get();
        Span r = s.span.set(offset, length);
        while (true) {
            int n = 0;
            IoResult result = IoResult.DONE;
            for (int i = 0; i < r.count && result == IoResult.DONE; i++) {
                result = prepare(r, i, src, srcOffset + r.dataOffset(i), s, n++);
            }
            if (result != IoResult.DONE) {
                dropPrepared(n, s);
                return refused(result);
            }
            if (commit(n, s)) {
                counters.add(Counter.PAGES_WRITTEN, n);
                return IoResult.DONE;
            }
            dropPrepared(n, s); // another writer changed a block this request patches: prepare again
        }
    }

    /**
     * Prepares slot {@code k} of the request: the new entry of the span's block {@code i}, its
     * contents {@code src} from {@code srcOffset} (the covered bytes only, for a part-covered block),
     * its data already in the pool. Counts a refusal where it happens.
     */
    private IoResult prepare(Span r, int i, byte[] src, int srcOffset, Scratch s, int k) {
        int block = r.block(i);
        s.blocks[k] = block;
        s.partial[k] = !r.whole(i);
        long entry;
        if (!s.partial[k]) {
            entry = encode(src, srcOffset, s);
        } else {
            long old = copyOut(block, s);
            s.generations[k] = s.generation;
            if (!decode(old, s, s.page, 0)) {
                s.entries[k] = BlockTable.EMPTY; // nothing to drop
                return IoResult.CORRUPT;
            }
            System.arraycopy(src, srcOffset, s.page, r.inBlock(i), r.bytes(i));
            boolean staysEmpty = BlockTable.state(old) == BlockTable.STATE_EMPTY
                    && BlockCodec.isSameFilled(s.page, 0) && BlockCodec.fillWord(s.page, 0) == 0L;
            entry = staysEmpty ? BlockTable.EMPTY : encode(s.page, 0, s);
        }
        if (entry == LocalPool.REFUSED_LIMIT) {
            s.entries[k] = BlockTable.EMPTY;
            return IoResult.POOL_LIMIT;
        }
        if (entry == LocalPool.REFUSED_RESERVE_EMPTY) {
            s.entries[k] = BlockTable.EMPTY;
            return IoResult.RESERVE_EMPTY;
        }
        s.entries[k] = entry;
        return IoResult.DONE;
    }

    /**
     * The table entry for a block's contents, its data already in the pool; a pool refusal
     * ({@link LocalPool#REFUSED_LIMIT}, {@link LocalPool#REFUSED_RESERVE_EMPTY}) when there is no room.
     */
    private long encode(byte[] src, int srcOffset, Scratch s) {
        if (BlockCodec.isSameFilled(src, srcOffset)) {
            int index = fillWords.indexOf(BlockCodec.fillWord(src, srcOffset));
            if (index >= 0) {
                return BlockTable.entry(BlockTable.STATE_SAME, 0, index);
            }
        }
        int length = codec.compress(src, srcOffset, s.compressed);
        long handle = pool.allocate(length);
        if (handle < 0) {
            return handle;
        }
        if (length == BLOCK_SIZE) {
            OffHeap.copyToNative(src, srcOffset, pool.address(handle), BLOCK_SIZE);
        } else {
            OffHeap.copyToNative(s.compressed, 0, pool.address(handle), length);
        }
        return BlockTable.entry(BlockTable.STATE_LOCAL, length, handle);
    }

    /**
     * Publishes the {@code n} prepared entries together: locks their blocks in ascending order,
     * and if no part-covered block changed since it was read, publishes every entry, then frees
     * the old locations and counts. False, with nothing changed, when one did change.
     */
    private boolean commit(int n, Scratch s) {
        for (int k = 0; k < n; k++) {
            s.oldEntries[k] = table.lock(s.blocks[k]);
        }
        for (int k = 0; k < n; k++) {
            if (s.partial[k] && table.generation(s.blocks[k]) != s.generations[k]) {
                for (int j = 0; j < n; j++) {
                    table.unlock(s.blocks[j], s.oldEntries[j]);
                }
                return false;
            }
        }
        for (int k = 0; k < n; k++) {
            table.publish(s.blocks[k], s.entries[k]);
        }
        for (int k = 0; k < n; k++) {
            countStored(s.entries[k]);
            release(s.oldEntries[k]);
        }
        counters.raiseMax(Counter.STORED_PAGES_MAX, counters.get(Counter.STORED_PAGES));
        return true;
    }

    /** Frees the pool memory of prepared entries that will not be published. */
    private void dropPrepared(int n, Scratch s) {
        for (int k = 0; k < n; k++) {
            long e = s.entries[k];
            if (BlockTable.state(e) == BlockTable.STATE_LOCAL) {
                pool.free(BlockTable.handle(e), BlockTable.length(e));
            }
        }
    }

    /** Counts a published entry. */
    private void countStored(long e) {
        switch (BlockTable.state(e)) {
            case BlockTable.STATE_EMPTY -> {
                return;
            }
            case BlockTable.STATE_SAME -> counters.increment(Counter.ZERO_FILLED_PAGES);
            case BlockTable.STATE_LOCAL -> {
                int length = BlockTable.length(e);
                counters.increment(Counter.PERS_ZPAGES);
                counters.add(Counter.PERS_ZBYTES, length);
                if (length == BLOCK_SIZE) {
                    counters.increment(Counter.COMPRESS_POOR);
                }
            }
            default -> throw new IllegalStateException("remote block; this store has no remote tier");
        }
        counters.increment(Counter.STORED_PAGES);
    }

    /**
     * Frees a replaced entry's location and uncounts it. The replacement is published already, so
     * a failure here must not fail the request: it is counted (free_failed) and the slot leaks.
     */
    private void release(long old) {
        int state = BlockTable.state(old);
        if (state == BlockTable.STATE_EMPTY) {
            return;
        }
        counters.add(Counter.STORED_PAGES, -1);
        try {
            switch (state) {
                case BlockTable.STATE_SAME -> counters.add(Counter.ZERO_FILLED_PAGES, -1);
                case BlockTable.STATE_LOCAL -> {
                    int length = BlockTable.length(old);
                    counters.add(Counter.PERS_ZPAGES, -1);
                    counters.add(Counter.PERS_ZBYTES, -length);
                    pool.free(BlockTable.handle(old), length);
                }
                default -> throw new IllegalStateException("remote block; this store has no remote tier");
            }
        } catch (RuntimeException e) {
            counters.increment(Counter.FREE_FAILED);
        }
    }

    /** Counts a refusal under its cause and returns it. */
    private IoResult refused(IoResult result) {
        counters.increment(result.counter());
        return result;
    }

    // ================================================================ discard

    /**
     * Frees the range (fallocate PUNCH_HOLE or ZERO_RANGE), clipped to the file, all or nothing:
     * whole blocks lose their data, the parts of blocks at either edge are zeroed. Zeroing part of
     * a block re-encodes it and can be refused (pool full, corrupt block); that is done first, and
     * a refusal leaves the whole range unchanged. Freeing whole blocks cannot fail.
     */
    public IoResult discard(long offset, long length) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative discard range: " + offset + "+" + length);
        }
        if (offset >= sizeBytes || length == 0) {
            return IoResult.DONE;
        }
        Scratch s = scratch.get();
        Span r = s.span.set(offset, Math.min(length, sizeBytes - offset)); // no offset + length: it can wrap
        IoResult edges = zeroEdges(r, s);
        if (edges != IoResult.DONE) {
            return edges;
        }
        for (int i = 0; i < r.count; i++) {
            if (r.whole(i)) {
                long old = table.exchange(r.block(i), BlockTable.EMPTY);
                if (BlockTable.state(old) != BlockTable.STATE_EMPTY) {
                    release(old);
                    counters.increment(Counter.PAGES_DISCARDED);
                }
            }
        }
        return IoResult.DONE;
    }

    /** Zeroes the part-covered blocks at the span's edges (at most two), together or not at all. */
    private IoResult zeroEdges(Span r, Scratch s) {
        int last = r.count - 1;
        while (true) {
            int n = 0;
            IoResult result = IoResult.DONE;
            if (!r.whole(0)) {
                result = prepare(r, 0, ZEROS, 0, s, n++);
            }
            if (result == IoResult.DONE && last > 0 && !r.whole(last)) {
                result = prepare(r, last, ZEROS, 0, s, n++);
            }
            if (result != IoResult.DONE) {
                dropPrepared(n, s);
                return refused(result);
            }
            if (n == 0 || commit(n, s)) {
                return IoResult.DONE;
            }
            dropPrepared(n, s);
        }
    }

    // ================================================================ helpers

    /** Gauges that live in the pool, copied into the counters when someone looks. */
    public void refreshGauges() {
        counters.set(Counter.POOL_BYTES, pool.mappedBytes());
    }

    private void checkRange(long offset, int length) {
        if (offset < 0 || length < 0 || length > MAX_REQUEST_BYTES || offset > sizeBytes - length) {
            throw new IllegalArgumentException("request outside the swap file: offset " + offset + " length " + length
                    + " file " + sizeBytes);
        }
    }
}
