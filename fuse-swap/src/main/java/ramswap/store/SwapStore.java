package ramswap.store;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import ramswap.sys.OffHeap;

/**
 * The swap file's contents: a {@link BlockTable} of 4 KiB blocks whose data lives as fill words,
 * in the {@link LocalPool}, or (later) on another node.
 *
 * <p>Write order, as zram's: validate, same-filled test, compress into this thread's scratch,
 * raw if compression gains too little, allocate in the pool, publish the entry under the block's
 * lock, free the old location, count. Reads copy a block's bytes out under its lock and decode
 * outside it.
 *
 * <p>Lock order: a block's lock, then a pool size class's lock, then the pool's slab lock. Whole-
 * block writes allocate before they lock; only read-modify-write of a partial block allocates
 * while holding the block's lock.
 *
 * <p>Nothing here allocates per block: scratch buffers are per thread and made once.
 */
public final class SwapStore {

    /** Largest request {@link #read} and {@link #write} take in one call; FUSE sends at most 128 KiB. */
    public static final int MAX_REQUEST_BYTES = 1 << 20;
    private static final int FILL_WORDS = 4096;

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

    /** Per-thread buffers: a page for read-modify-write and room for one compressed page. */
    private static final class Scratch {
        final byte[] page = new byte[BLOCK_SIZE];
        final byte[] compressed;

        Scratch(int compressedBytes) {
            this.compressed = new byte[compressedBytes];
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

    // ================================================================ reads

    /**
     * Reads {@code length} bytes at {@code offset} into {@code dst}. The range must lie inside the
     * file. Returns false when a stored block failed to decode (counted in corrupt_reads).
     */
    public boolean read(byte[] dst, int dstOffset, long offset, int length) {
        checkRange(offset, length);
        Scratch s = scratch.get();
        boolean ok = true;
        long pos = offset;
        long end = offset + length;
        int out = dstOffset;
        while (pos < end) {
            int block = (int) (pos / BLOCK_SIZE);
            int inBlock = (int) (pos % BLOCK_SIZE);
            int n = (int) Math.min(BLOCK_SIZE - inBlock, end - pos);
            if (n == BLOCK_SIZE) {
                ok &= readBlock(block, dst, out, s);
            } else {
                ok &= readBlock(block, s.page, 0, s);
                System.arraycopy(s.page, inBlock, dst, out, n);
            }
            pos += n;
            out += n;
        }
        return ok;
    }

    private boolean readBlock(int block, byte[] dst, int dstOffset, Scratch s) {
        long e = table.lock(block);
        int state = BlockTable.state(e);
        int length = BlockTable.length(e);
        if (state == BlockTable.STATE_LOCAL) {
            OffHeap.copyFromNative(pool.address(BlockTable.handle(e)), s.compressed, 0, length);
        }
        table.unlock(block, e);
        counters.increment(Counter.PAGES_READ);
        switch (state) {
            case BlockTable.STATE_EMPTY -> BlockCodec.fill(dst, dstOffset, 0L);
            case BlockTable.STATE_SAME -> BlockCodec.fill(dst, dstOffset, fillWords.word((int) BlockTable.handle(e)));
            case BlockTable.STATE_LOCAL -> {
                if (!codec.decompress(s.compressed, length, dst, dstOffset)) {
                    counters.increment(Counter.CORRUPT_READS);
                    return false;
                }
            }
            default -> throw new IllegalStateException("block " + block + " is remote; this store has no remote tier");
        }
        return true;
    }

    // ================================================================ writes

    /**
     * Writes {@code length} bytes at {@code offset}; the range must lie inside the file. Returns the
     * bytes written: fewer than asked only when the pool reached its limit (counted in
     * pool_limit_hit); blocks before that point are written, the rest unchanged.
     */
    public int write(byte[] src, int srcOffset, long offset, int length) {
        checkRange(offset, length);
        Scratch s = scratch.get();
        long pos = offset;
        long end = offset + length;
        int in = srcOffset;
        while (pos < end) {
            int block = (int) (pos / BLOCK_SIZE);
            int inBlock = (int) (pos % BLOCK_SIZE);
            int n = (int) Math.min(BLOCK_SIZE - inBlock, end - pos);
            boolean ok = n == BLOCK_SIZE
                    ? writeBlock(block, src, in, s)
                    : patchBlock(block, inBlock, src, in, n, false, s);
            if (!ok) {
                return (int) (pos - offset);
            }
            pos += n;
            in += n;
        }
        return length;
    }

    /** A whole block: encode and allocate outside the lock, then swap the entry. */
    private boolean writeBlock(int block, byte[] src, int srcOffset, Scratch s) {
        long entry = encode(src, srcOffset, s);
        if (entry < 0) {
            return false;
        }
        release(table.exchange(block, entry));
        counters.increment(Counter.PAGES_WRITTEN);
        return true;
    }

    /** Part of a block, written or zeroed: read, modify and write back under the block's lock. */
    private boolean patchBlock(int block, int inBlock, byte[] src, int srcOffset, int n, boolean zero, Scratch s) {
        long old = table.lock(block);
        long entry;
        try {
            if (!decodeLocked(old, s.page, s)) {
                counters.increment(Counter.CORRUPT_READS);
                table.unlock(block, old);
                return false;
            }
            if (zero) {
                java.util.Arrays.fill(s.page, inBlock, inBlock + n, (byte) 0);
            } else {
                System.arraycopy(src, srcOffset, s.page, inBlock, n);
            }
            entry = encode(s.page, 0, s);
        } catch (RuntimeException | Error e) {
            table.unlock(block, old);
            throw e;
        }
        if (entry < 0) {
            table.unlock(block, old);
            return false;
        }
        table.unlock(block, entry);
        release(old);
        counters.increment(Counter.PAGES_WRITTEN);
        return true;
    }

    /** Decodes a block whose lock the caller holds. */
    private boolean decodeLocked(long e, byte[] dst, Scratch s) {
        switch (BlockTable.state(e)) {
            case BlockTable.STATE_EMPTY -> BlockCodec.fill(dst, 0, 0L);
            case BlockTable.STATE_SAME -> BlockCodec.fill(dst, 0, fillWords.word((int) BlockTable.handle(e)));
            case BlockTable.STATE_LOCAL -> {
                int length = BlockTable.length(e);
                OffHeap.copyFromNative(pool.address(BlockTable.handle(e)), s.compressed, 0, length);
                return codec.decompress(s.compressed, length, dst, 0);
            }
            default -> throw new IllegalStateException("remote block; this store has no remote tier");
        }
        return true;
    }

    /**
     * The new table entry for a block's contents, its data already in the pool; -1 when the pool
     * is full. Counts what it stored.
     */
    private long encode(byte[] src, int srcOffset, Scratch s) {
        if (BlockCodec.isSameFilled(src, srcOffset)) {
            int index = fillWords.indexOf(BlockCodec.fillWord(src, srcOffset));
            if (index >= 0) {
                counters.increment(Counter.ZERO_FILLED_PAGES);
                counters.increment(Counter.STORED_PAGES);
                counters.raiseMax(Counter.STORED_PAGES_MAX, counters.get(Counter.STORED_PAGES));
                return BlockTable.entry(BlockTable.STATE_SAME, 0, index);
            }
        }
        int length = codec.compress(src, srcOffset, s.compressed);
        long handle = pool.allocate(length);
        if (handle < 0) {
            return -1; // the pool counts why: its limit or an empty reserve (refreshGauges copies both)
        }
        if (length == BLOCK_SIZE) {
            OffHeap.copyToNative(src, srcOffset, pool.address(handle), BLOCK_SIZE);
            counters.increment(Counter.COMPRESS_POOR);
        } else {
            OffHeap.copyToNative(s.compressed, 0, pool.address(handle), length);
        }
        counters.increment(Counter.PERS_ZPAGES);
        counters.add(Counter.PERS_ZBYTES, length);
        counters.increment(Counter.STORED_PAGES);
        counters.raiseMax(Counter.STORED_PAGES_MAX, counters.get(Counter.STORED_PAGES));
        return BlockTable.entry(BlockTable.STATE_LOCAL, length, handle);
    }

    /** Frees a replaced entry's location and uncounts it. */
    private void release(long old) {
        switch (BlockTable.state(old)) {
            case BlockTable.STATE_EMPTY -> {
                return;
            }
            case BlockTable.STATE_SAME -> counters.add(Counter.ZERO_FILLED_PAGES, -1);
            case BlockTable.STATE_LOCAL -> {
                int length = BlockTable.length(old);
                pool.free(BlockTable.handle(old), length);
                counters.add(Counter.PERS_ZPAGES, -1);
                counters.add(Counter.PERS_ZBYTES, -length);
            }
            default -> throw new IllegalStateException("remote block; this store has no remote tier");
        }
        counters.add(Counter.STORED_PAGES, -1);
    }

    // ================================================================ discard

    /**
     * Frees the range (fallocate PUNCH_HOLE): whole blocks lose their data, the parts of blocks at
     * either edge are zeroed. The range is clipped to the file. Returns false only when an edge
     * block could not be rewritten (pool full or corrupt).
     */
    public boolean discard(long offset, long length) {
        if (offset < 0 || length < 0) {
            throw new IllegalArgumentException("negative discard range: " + offset + "+" + length);
        }
        long end = Math.min(sizeBytes, offset + length);
        Scratch s = scratch.get();
        boolean ok = true;
        long pos = offset;
        while (pos < end) {
            int block = (int) (pos / BLOCK_SIZE);
            int inBlock = (int) (pos % BLOCK_SIZE);
            int n = (int) Math.min(BLOCK_SIZE - inBlock, end - pos);
            if (n == BLOCK_SIZE) {
                long old = table.exchange(block, BlockTable.EMPTY);
                if (BlockTable.state(old) != BlockTable.STATE_EMPTY) {
                    release(old);
                    counters.increment(Counter.PAGES_DISCARDED);
                }
            } else if (BlockTable.state(table.peek(block)) != BlockTable.STATE_EMPTY) {
                ok &= patchBlock(block, inBlock, null, 0, n, true, s);
            }
            pos += n;
        }
        return ok;
    }

    // ================================================================ helpers

    /** Gauges that live in the pool, copied into the counters when someone looks. */
    public void refreshGauges() {
        counters.set(Counter.POOL_BYTES, pool.mappedBytes());
        counters.set(Counter.POOL_LIMIT_HIT, pool.limitHits());
        counters.set(Counter.POOL_RESERVE_EMPTY, pool.reserveEmptyHits());
    }

    private void checkRange(long offset, int length) {
        if (offset < 0 || length < 0 || length > MAX_REQUEST_BYTES || offset > sizeBytes - length) {
            throw new IllegalArgumentException("request outside the swap file: offset " + offset + " length " + length
                    + " file " + sizeBytes);
        }
    }
}
