package ramswap.store;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import java.util.function.LongSupplier;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
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
    /** {@link #fetchOne}: the block changed while it was fetched. */
    private static final byte[] CHANGED = new byte[0];
    /** Reads of a block that moved while it was fetched, before the read gives up. */
    private static final int MAX_REFETCH = 8;

    private static final System.Logger LOG = System.getLogger(SwapStore.class.getName());

    private final long sizeBytes;
    private final BlockTable table;
    private final LocalPool pool;
    private final Counters counters;
    private final BlockCodec codec = new BlockCodec();
    private final FillWords fillWords = new FillWords(FILL_WORDS);
    private final ThreadLocal<Scratch> scratch;
    /** Where remote blocks live; null while this store keeps every block home. */
    private volatile RemoteTier remote;

    private volatile LongSupplier remoteTimeoutMillis = () -> 2_000;
    /** Fetch times in microseconds, 1 µs to 10 min, recorded without allocating or locking by the fetching threads. */
    private final Recorder fetchMicros = new Recorder(1, 600_000_000L, 2);

    private final Histogram fetchesSoFar = new Histogram(1, 600_000_000L, 2);
    private Histogram fetchInterval;

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

    /**
     * Lets blocks live remote: from now on the movers may send blocks to {@code tier}, and reads
     * fetch them from it, waiting at most {@code timeoutMillis} (read at each fetch).
     */
    public void useRemote(RemoteTier tier, LongSupplier timeoutMillis) {
        this.remoteTimeoutMillis = timeoutMillis;
        this.remote = tier;
    }

    RemoteTier remote() {
        return remote;
    }

    /** The size of a buffer that holds any stored (compressed) page. */
    public int compressedPageBytes() {
        return codec.maxCompressedLength();
    }

    /** True once blocks may live remote ({@link #useRemote}). */
    public boolean usesRemote() {
        return remote != null;
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
        /** Made at this thread's first remote block. */
        Fetch fetch;

        Scratch(int compressedBytes) {
            this.compressed = new byte[compressedBytes];
        }

        Fetch fetch() {
            if (fetch == null) {
                fetch = new Fetch(MAX_REQUEST_BLOCKS, compressed.length);
            }
            return fetch;
        }
    }

    /** The remote blocks of one request, fetched together: where each goes, and what came back. */
    static final class Fetch {
        final int[] spanIndex;
        final int[] blocks;
        final int[] generations;
        final long[] handles;
        final long[] entries;
        final byte[][] pages;
        final int[] lengths;
        int count;
        /** What the request's pages came to so far: {@link IoResult#DONE}, or its first failure. */
        IoResult result = IoResult.DONE;

        Fetch(int capacity, int pageBytes) {
            spanIndex = new int[capacity];
            blocks = new int[capacity];
            generations = new int[capacity];
            handles = new long[capacity];
            entries = new long[capacity];
            pages = new byte[capacity][pageBytes];
            lengths = new int[capacity];
        }

        void add(int i, int block, int generation, long entry) {
            spanIndex[count] = i;
            blocks[count] = block;
            generations[count] = generation;
            handles[count] = BlockTable.handle(entry);
            entries[count] = entry;
            count++;
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
        return read(dst, dstOffset, offset, length, null);
    }

    /**
     * Reads like {@link #read(byte[], int, long, int)}, but a request with remote blocks is not
     * waited for when {@code slots} gives it a {@link FetchSlot}: its local blocks are placed, the
     * slot takes them and the remote blocks, and the answer is {@link IoResult#PARKED}; the slot's
     * completion answers the request once its pages have come (on the thread that brought the
     * last of them, or on the tier's timer). Without a slot (none, or none free within the
     * owner's bound) the remote blocks are fetched here, as before.
     */
    public IoResult read(byte[] dst, int dstOffset, long offset, int length, FetchSlot.Source slots) {
        checkRange(offset, length);
        Scratch s = scratch.get();
        Span r = s.span.set(offset, length);
        IoResult result = IoResult.DONE;
        Fetch f = null;
        for (int i = 0; i < r.count; i++) {
            int block = r.block(i);
            table.markUsed(block);
            long e = copyOut(block, s);
            counters.increment(Counter.PAGES_READ);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE) {
                if (f == null) {
                    f = s.fetch();
                    f.count = 0;
                }
                f.add(i, block, s.generation, e); // fetched together below, outside every lock
            } else if (!place(e, s.compressed, r, i, dst, dstOffset, s)) {
                result = refused(IoResult.CORRUPT);
            }
        }
        if (f != null && slots != null) {
            FetchSlot slot = slots.take();
            if (slot != null) {
                counters.increment(Counter.REMOTE_READS_PARKED);
                park(slot, f, dst, dstOffset, offset, length, result);
                return IoResult.PARKED;
            }
        }
        if (f != null) {
            IoResult fetched = readRemote(r, f, dst, dstOffset, s);
            if (fetched != IoResult.DONE && result == IoResult.DONE) {
                result = fetched;
            }
        }
        return result;
    }

    /** Decodes block {@code i} of the span from its entry and stored bytes into its place in {@code dst}. */
    private boolean place(long e, byte[] stored, Span r, int i, byte[] dst, int dstOffset, Scratch s) {
        if (r.whole(i)) {
            return decode(e, stored, dst, dstOffset + r.dataOffset(i));
        }
        boolean ok = decode(e, stored, s.page, 0);
        System.arraycopy(s.page, r.inBlock(i), dst, dstOffset + r.dataOffset(i), r.bytes(i));
        return ok;
    }

    /**
     * Fetches the request's remote blocks together and places them. A page that is missing because
     * its block changed meanwhile (brought home, rewritten) is read again from its new entry; any
     * other failure is counted by cause and fails the request with EIO, never with wrong bytes.
     */
    private IoResult readRemote(Span r, Fetch f, byte[] dst, int dstOffset, Scratch s) {
        RemoteTier tier = remote;
        if (tier == null) {
            throw new IllegalStateException("a remote block, and no remote tier");
        }
        f.result = IoResult.DONE;
        for (int attempt = 0; f.count > 0; attempt++) {
            timedFetch(tier, f);
            f.count = placeFetched(f, r, dst, dstOffset, s, attempt < MAX_REFETCH);
        }
        return f.result == IoResult.REMOTE_FAILED ? refused(f.result) : f.result;
    }

    /**
     * Places the pages a fetch of {@code f} brought into {@code dst}, and records in
     * {@code f.result} what failed. A page that did not come because its block moved meanwhile
     * (brought home, rewritten) is read where it is now: a local block is placed, a remote one kept
     * at the front of {@code f} to be fetched again, when {@code mayRefetch}. Any other failure is
     * counted by cause and fails the request. Returns the number of pages to fetch again.
     */
    private int placeFetched(Fetch f, Span r, byte[] dst, int dstOffset, Scratch s, boolean mayRefetch) {
        int again = 0;
        for (int k = 0; k < f.count; k++) {
            long e = f.entries[k];
            int got = f.lengths[k];
            if (got == BlockTable.length(e)) {
                if (place(e, f.pages[k], r, f.spanIndex[k], dst, dstOffset, s)) {
                    counters.increment(Counter.REMOTE_PERS_PAGES_SUCC_GET);
                } else {
                    f.result = refused(IoResult.CORRUPT);
                }
                continue;
            }
            if (mayRefetch) { // whatever the failure: a block that moved meanwhile is read where it is now
                long now = copyOut(f.blocks[k], s);
                if (s.generation != f.generations[k]) {
                    if (BlockTable.state(now) == BlockTable.STATE_REMOTE) {
                        f.spanIndex[again] = f.spanIndex[k];
                        f.blocks[again] = f.blocks[k];
                        f.generations[again] = s.generation;
                        f.handles[again] = BlockTable.handle(now);
                        f.entries[again] = now;
                        again++;
                    } else if (!place(now, s.compressed, r, f.spanIndex[k], dst, dstOffset, s)) {
                        f.result = refused(IoResult.CORRUPT);
                    }
                    continue;
                }
            }
            countFailedGet(got);
            if (f.result == IoResult.DONE) {
                f.result = IoResult.REMOTE_FAILED;
            }
        }
        return again;
    }

    /**
     * Hands a request's remote blocks ({@code f}) and the bytes placed so far to {@code slot}, and
     * starts its first round. The slot's owner claimed it for the request.
     */
    private void park(FetchSlot slot, Fetch f, byte[] dst, int dstOffset, long offset, int length, IoResult local) {
        Fetch p = slot.fetch;
        System.arraycopy(f.spanIndex, 0, p.spanIndex, 0, f.count);
        System.arraycopy(f.blocks, 0, p.blocks, 0, f.count);
        System.arraycopy(f.generations, 0, p.generations, 0, f.count);
        System.arraycopy(f.handles, 0, p.handles, 0, f.count);
        System.arraycopy(f.entries, 0, p.entries, 0, f.count);
        p.count = f.count;
        System.arraycopy(dst, dstOffset, slot.data(), 0, length);
        slot.span.set(offset, length);
        slot.setLength(length);
        slot.store = this;
        slot.attempt = 0;
        p.result = local;
        slot.startNanos = System.nanoTime();
        fetchRound(slot);
    }

    /** Asks the tier for the slot's pages: one round, answered page by page, finished in {@link #finishRemote}. */
    private void fetchRound(FetchSlot slot) {
        RemoteTier tier = remote;
        int round = slot.newRound(
                System.nanoTime(), java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(remoteTimeoutMillis.getAsLong()));
        counters.increment(Counter.REMOTE_FETCHES);
        try {
            if (tier == null) {
                throw new IllegalStateException("a remote block, and no remote tier");
            }
            tier.fetch(slot);
        } catch (RuntimeException e) { // not asked: each page of the round as good as unanswered, and answered so
            LOG.log(System.Logger.Level.WARNING, "a remote fetch could not be sent", e);
            for (int k = 0; k < slot.count(); k++) {
                slot.answer(round, k, null, RemoteTier.TIMEOUT);
            }
        }
    }

    /**
     * A round of a parked request ended (its last page answered, or the deadline): places its
     * pages as {@link #readRemote} does, asks again for the blocks that moved meanwhile (a new
     * round of the same slot), or answers the request through the slot's completion. Runs on the
     * thread that ended the round; nothing here waits.
     */
    void finishRemote(FetchSlot slot) {
        if (!slot.startFinishing()) {
            return; // aborted meanwhile: the abort answered it
        }
        long micros = (System.nanoTime() - slot.startNanos) / 1_000;
        Fetch f = slot.fetch;
        IoResult result;
        try {
            int again = placeFetched(f, slot.span, slot.data(), 0, scratch.get(), slot.attempt < MAX_REFETCH);
            if (again > 0) {
                f.count = again;
                slot.attempt++;
                result = IoResult.PARKED;
            } else {
                fetchMicros.recordValue(Math.min(600_000_000L, Math.max(1, micros)));
                result = f.result == IoResult.REMOTE_FAILED ? refused(f.result) : f.result;
            }
        } catch (RuntimeException e) { // a fault here must not leave the request without its answer
            LOG.log(System.Logger.Level.ERROR, "finishing a parked read failed; it is answered EIO", e);
            result = refused(IoResult.CORRUPT);
        }
        if (result == IoResult.PARKED) {
            slot.reparked();
            fetchRound(slot); // never throws: a round it cannot send is answered TIMEOUT
        } else {
            slot.complete(result);
        }
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

    /**
     * A block's contents from its entry and, for a pooled or remote block, its stored bytes (what
     * {@link #copyOut} or a fetch took); false if they do not decode.
     */
    private boolean decode(long e, byte[] stored, byte[] dst, int dstOffset) {
        switch (BlockTable.state(e)) {
            case BlockTable.STATE_EMPTY -> BlockCodec.fill(dst, dstOffset, 0L);
            case BlockTable.STATE_SAME -> BlockCodec.fill(dst, dstOffset, fillWords.word((int) BlockTable.handle(e)));
            default -> {
                return codec.decompress(stored, BlockTable.length(e), dst, dstOffset);
            }
        }
        return true;
    }

    /**
     * The stored bytes of a remote block for a write that keeps part of it, fetched alone: the
     * buffer holding them, or null when the fetch failed (counted), or {@link #CHANGED} when the
     * page is missing because the block changed meanwhile: the commit will see the new generation
     * and prepare again.
     */
    private byte[] fetchOne(int block, long e, int generation, Scratch s) {
        Fetch f = s.fetch();
        f.count = 0;
        f.add(0, block, generation, e);
        timedFetch(remote, f);
        int got = f.lengths[0];
        if (got == BlockTable.length(e)) {
            counters.increment(Counter.REMOTE_PERS_PAGES_SUCC_GET);
            return f.pages[0];
        }
        if (changedSince(block, generation)) { // moved meanwhile, whatever the failure
            return CHANGED;
        }
        countFailedGet(got);
        return null;
    }

    /** Counts a remote page that could not be read, under its cause: the tier's code, or a length other than the one sealed. */
    private void countFailedGet(int got) {
        counters.increment(Counter.REMOTE_PERS_PAGES_UNSUCC_GET);
        counters.increment(
                switch (got) {
                    case RemoteTier.MISSING -> Counter.REMOTE_GET_MISSING;
                    case RemoteTier.TIMEOUT -> Counter.REMOTE_GET_TIMEOUTS;
                    default -> Counter.REMOTE_GET_UNAUTHENTIC; // opened, yet not the length sealed: as good as altered
                });
    }

    /** Fetches the pages {@code f} lists, and records how long it took. */
    private void timedFetch(RemoteTier tier, Fetch f) {
        long t0 = System.nanoTime();
        tier.fetch(f.count, f.blocks, f.generations, f.handles, f.pages, f.lengths, remoteTimeoutMillis.getAsLong());
        fetchMicros.recordValue(Math.min(600_000_000L, Math.max(1, (System.nanoTime() - t0) / 1_000)));
        counters.increment(Counter.REMOTE_FETCHES);
    }

    private boolean changedSince(int block, int generation) {
        long e = table.lock(block);
        boolean changed = table.generation(block) != generation;
        table.unlock(block, e);
        return changed;
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
        table.markUsed(block);
        s.blocks[k] = block;
        s.partial[k] = !r.whole(i);
        long entry;
        if (!s.partial[k]) {
            entry = encode(src, srcOffset, s);
        } else {
            long old = copyOut(block, s);
            s.generations[k] = s.generation;
            byte[] stored = s.compressed;
            if (BlockTable.state(old) == BlockTable.STATE_REMOTE) {
                stored = fetchOne(block, old, s.generation, s);
                if (stored == null) {
                    s.entries[k] = BlockTable.EMPTY;
                    return IoResult.REMOTE_FAILED;
                }
            }
            if (stored == CHANGED) {
                BlockCodec.fill(s.page, 0, 0L); // never published: the commit sees the change and prepares again
            } else if (!decode(old, stored, s.page, 0)) {
                s.entries[k] = BlockTable.EMPTY; // nothing to drop
                return IoResult.CORRUPT;
            }
            System.arraycopy(src, srcOffset, s.page, r.inBlock(i), r.bytes(i));
            boolean staysEmpty = BlockTable.state(old) == BlockTable.STATE_EMPTY
                    && BlockCodec.isSameFilled(s.page, 0)
                    && BlockCodec.fillWord(s.page, 0) == 0L;
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
            default -> throw new IllegalStateException("a write never publishes a remote entry");
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
                default -> {
                    uncountRemote(remote, old);
                    remote.forget(BlockTable.handle(old)); // asynchronous; the tier counts remote_pages_flushed
                }
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

    // ================================================================ movers

    /** The remotifier's clock hand and the repatriator's; each used by one mover thread. */
    private int sendHand;

    /** {@link #sending}: counted up by the remotifier's collect, down once its commit has published. */
    private final java.util.concurrent.atomic.AtomicInteger sending = new java.util.concurrent.atomic.AtomicInteger();

    private int homeHand;
    private int repairHand;
    /**
     * Handles of remote pages found lost ({@link #replace}): never repaired again, counted once.
     * Only the repairer's thread touches it.
     */
    private org.agrona.collections.LongHashSet lostHandles = new org.agrona.collections.LongHashSet();
    /** {@link RemoteTier#rejoins} when the lost pages were last judged; the repairer's thread. */
    private long rejoinsSeen;

    /**
     * Copies local blocks that the clock finds cold into {@code b} (at most {@code maxPages}),
     * looking at most at {@code maxScan} blocks: a block used since the hand last passed gets a
     * second chance, unless {@code anyBlock} (the local target is 0: every page goes). Each copy
     * notes the generation its remote entry will have, and the block is marked as being sent.
     */
    int collectCold(RemoteTier.Batch b, int maxPages, int maxScan, boolean anyBlock) {
        b.count = 0;
        int blocks = table.blocks();
        int want = Math.min(maxPages, b.capacity());
        for (int scanned = 0; scanned < maxScan && b.count < want; scanned++) {
            int block = sendHand;
            sendHand = block + 1 == blocks ? 0 : block + 1;
            if (BlockTable.state(table.peek(block)) != BlockTable.STATE_LOCAL) {
                continue;
            }
            byte mark = table.mark(block);
            if (mark == BlockTable.MARK_SENDING) {
                continue;
            }
            if (mark == BlockTable.MARK_USED && !anyBlock) {
                table.setMark(block, BlockTable.MARK_COLD);
                continue;
            }
            long e = table.lock(block);
            if (BlockTable.state(e) == BlockTable.STATE_LOCAL) {
                int k = b.count++;
                int length = BlockTable.length(e);
                OffHeap.copyFromNative(pool.address(BlockTable.handle(e)), b.pages[k], 0, length);
                b.blocks[k] = block;
                b.lengths[k] = length;
                b.generations[k] = table.generation(block) + 1;
                table.setMark(block, BlockTable.MARK_SENDING);
            }
            table.unlock(block, e);
        }
        sending.addAndGet(b.count);
        return b.count;
    }

    /**
     * Pages copied by {@link #collectCold} whose move is not committed yet ({@link #commitMoved}):
     * each becomes remote, or stays local, when its send lands. A drain waits for them.
     */
    int sending() {
        return sending.get();
    }

    /**
     * Commits the moves of a sent batch: a block unchanged since it was copied now points at its
     * remote copy and its pool memory is freed; a block that changed meanwhile keeps its new
     * contents and the copy sent is deleted. Pages the tier did not store stay local.
     */
    void commitMoved(RemoteTier.Batch b, RemoteTier.Sent sent) {
        try {
            commitEachMoved(b, sent);
        } finally {
            sending.addAndGet(-b.count);
        }
    }

    private void commitEachMoved(RemoteTier.Batch b, RemoteTier.Sent sent) {
        for (int k = 0; k < b.count; k++) {
            int block = b.blocks[k];
            long handle = sent.handles[k];
            if (table.mark(block) == BlockTable.MARK_SENDING) {
                table.setMark(block, BlockTable.MARK_COLD);
            }
            if (handle < 0) {
                continue;
            }
            long e = table.lock(block);
            if (table.generation(block) + 1 != b.generations[k] || BlockTable.state(e) != BlockTable.STATE_LOCAL) {
                table.unlock(block, e);
                remote.forget(handle);
                counters.increment(Counter.PERS_PAGES_REMOTE_RACED);
                continue;
            }
            int length = b.lengths[k];
            table.publish(block, BlockTable.entry(BlockTable.STATE_REMOTE, length, handle));
            counters.add(Counter.PERS_ZPAGES, -1);
            counters.add(Counter.PERS_ZBYTES, -length);
            countRemote(remote, handle, length);
            counters.increment(Counter.PERS_PAGES_REMOTED);
            try {
                pool.free(BlockTable.handle(e), length);
            } catch (RuntimeException ex) {
                counters.increment(Counter.FREE_FAILED);
            }
        }
    }

    /**
     * Finds up to {@code max} remote blocks into {@code out}, looking at most at {@code maxScan}
     * blocks from where the last call stopped; with {@code toReplace}, only those the tier says
     * need new copies ({@link RemoteTier#needsReplacing}), with their own hand; without, those
     * that are not lost ({@link RemoteTier#lost}).
     */
    int collectRemote(int[] out, int max, int maxScan, boolean toReplace) {
        RemoteTier tier = remote;
        if (tier == null) {
            return 0;
        }
        int n = 0;
        int blocks = table.blocks();
        int scan = Math.min(maxScan, blocks); // at most one lap: a block is found once per call
        for (int scanned = 0; scanned < scan && n < max; scanned++) {
            int block;
            if (toReplace) {
                block = repairHand;
                repairHand = block + 1 == blocks ? 0 : block + 1;
            } else {
                block = homeHand;
                homeHand = block + 1 == blocks ? 0 : block + 1;
            }
            long e = table.peek(block);
            if (BlockTable.state(e) != BlockTable.STATE_REMOTE) {
                continue;
            }
            long handle = BlockTable.handle(e);
            // the repatriator passes pages whose every copy went with a lender: a fetch could only fail. A loss
            // only seen, not real, is for the repairer to find out: it fetches, and gives the page a new handle
            if (toReplace ? needsReplacing(tier, handle) : !tier.lost(handle)) {
                out[n++] = block;
            }
        }
        return n;
    }

    /**
     * Remote blocks the tier says need new copies, over the whole table (the repair sweep's count),
     * those found lost apart. Forgets the lost handles no block holds any more. Repairer's thread.
     */
    long countToReplace() {
        RemoteTier tier = remote;
        if (tier == null) {
            return 0;
        }
        long rejoins = tier.rejoins();
        if (rejoins != rejoinsSeen) {
            rejoinsSeen = rejoins;
            if (!lostHandles.isEmpty()) {
                counters.add(Counter.REMOTE_PAGES_LOST, -lostHandles.size());
                LOG.log(
                        System.Logger.Level.WARNING,
                        lostHandles.size() + " remote pages found lost are tried again: this node merged back into the"
                                + " cluster it was cut off from, which may hold their copies");
                lostHandles = new org.agrona.collections.LongHashSet();
            }
        }
        long n = 0;
        org.agrona.collections.LongHashSet stillLost =
                lostHandles.isEmpty() ? lostHandles : new org.agrona.collections.LongHashSet();
        for (int block = 0; block < table.blocks(); block++) {
            long e = table.peek(block);
            if (BlockTable.state(e) != BlockTable.STATE_REMOTE) {
                continue;
            }
            long handle = BlockTable.handle(e);
            if (lostHandles.contains(handle)) {
                stillLost.add(handle);
            } else if (tier.needsReplacing(handle)) {
                n++;
            }
        }
        lostHandles = stillLost;
        return n;
    }

    /** A page to give new copies: the tier says so, and it was not found lost. */
    private boolean needsReplacing(RemoteTier tier, long handle) {
        return (lostHandles.isEmpty() || !lostHandles.contains(handle)) && tier.needsReplacing(handle);
    }

    /** Lets the tier free copies no block uses ({@link RemoteTier#sweepLeaks}); returns how many. */
    int sweepLeaks() {
        RemoteTier tier = remote;
        if (tier == null || counters.get(Counter.PERS_PAGES_REMOTED) == 0) {
            return 0; // nothing ever left this node: nothing to list, and nothing allocated on a node alone
        }
        org.agrona.collections.LongHashSet live = new org.agrona.collections.LongHashSet();
        for (int block = 0; block < table.blocks(); block++) {
            long e = table.peek(block);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE) {
                live.add(BlockTable.handle(e));
            }
        }
        int freed = tier.sweepLeaks(live::contains);
        counters.add(Counter.REMOTE_LEAKS_FREED, freed);
        return freed;
    }

    /**
     * Remote pages that already needed new copies when they committed: mostly a send placed before
     * a partition moved, whose put followed the partition to its new owner (this node's own member,
     * say) after the repair sweep that the move started had looked; also a one-copy page once a
     * second copy is worth trying again. The repairer sweeps again when this changes, since no
     * later move would make it look.
     */
    private final java.util.concurrent.atomic.AtomicLong misplacedCommits =
            new java.util.concurrent.atomic.AtomicLong();

    /** {@link #misplacedCommits}: the repairer sweeps again when it changed since its last sweep. */
    long misplacedCommits() {
        return misplacedCommits.get();
    }

    /** Where the repair sweep's hand is now (a block number), so that it knows when it went round once. */
    int repairHand() {
        return repairHand;
    }

    /**
     * Gives remote blocks new copies: fetches at most {@link #MAX_REQUEST_BLOCKS} of
     * {@code blocks[0..n)} (from whichever copy answers), sends them again, compressed as they are,
     * through {@code b}, and waits at most {@code sendTimeoutMillis} for the send. A block commits
     * its new handle only if unchanged since its entry was read; its old copies are then deleted,
     * and a copy sent for a block that changed meanwhile is deleted instead. A page no target takes
     * whose lender is leaving ({@link RemoteTier#leaving}) comes home into the pool. Returns the blocks
     * settled: given new copies, or changed meanwhile (so nothing is left to replace). Call from one
     * mover thread at a time.
     */
    int replace(int[] blocks, int n, RemoteTier.Batch b, long sendTimeoutMillis) {
        RemoteTier tier = remote;
        if (tier == null) {
            return 0;
        }
        Scratch s = scratch.get();
        Fetch f = fetchRemote(blocks, Math.min(n, b.capacity()), tier, s);
        if (f.count == 0) {
            return 0;
        }
        b.count = 0;
        long[] old = s.oldEntries;
        int settled = Math.min(n, b.capacity()) - f.count; // no longer remote when looked at
        for (int k = 0; k < f.count; k++) {
            int length = BlockTable.length(f.entries[k]);
            if (f.lengths[k] != length) {
                if (changedSince(f.blocks[k], f.generations[k])) {
                    settled++;
                } else {
                    countFailedGet(f.lengths[k]);
                    if (f.lengths[k] == RemoteTier.MISSING
                            && tier.holdersPresent() // cut off, "missing" came from this node's own empty partitions
                            && tier.lost(BlockTable.handle(f.entries[k]))) {
                        foundLost(f.blocks[k], BlockTable.handle(f.entries[k]));
                        settled++; // nothing left to replace it from
                    }
                }
                continue;
            }
            int j = b.count++;
            b.blocks[j] = f.blocks[k];
            b.generations[j] = f.generations[k] + 1;
            b.lengths[j] = length;
            System.arraycopy(f.pages[k], 0, b.pages[j], 0, length);
            old[j] = f.entries[k];
        }
        if (b.count == 0) {
            return settled;
        }
        RemoteTier.Sent sent;
        try {
            sent = tier.send(b).get(sendTimeoutMillis, java.util.concurrent.TimeUnit.MILLISECONDS);
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            return settled; // the copies that did arrive are orphans of this incarnation; deleted at stop or by the
            // lenders
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return settled;
        }
        for (int k = 0; k < b.count; k++) {
            long handle = sent.handles[k];
            if (handle < 0) {
                if (tier.leaving(BlockTable.handle(old[k]))
                        && moveHome(
                                        b.blocks[k],
                                        b.generations[k] - 1,
                                        b.pages[k],
                                        b.lengths[k],
                                        tier,
                                        Counter.REPATRIATED_PAGES)
                                > 0) {
                    settled++; // no target took it, and its lender is leaving: it came home
                }
                continue;
            }
            int block = b.blocks[k];
            long e = table.lock(block);
            if (table.generation(block) + 1 != b.generations[k] || e != old[k]) {
                table.unlock(block, e);
                tier.forget(handle);
                settled++;
                continue;
            }
            table.publish(block, BlockTable.entry(BlockTable.STATE_REMOTE, b.lengths[k], handle));
            uncountRemote(tier, e);
            countRemote(tier, handle, b.lengths[k]);
            tier.forget(BlockTable.handle(e));
            counters.increment(Counter.REMOTE_PAGES_REPLACED);
            settled++;
        }
        return settled;
    }

    /**
     * A remote page whose every copy was with a lender that left without handing it over, and that
     * no copy answered for: counted and logged once, and never repaired again. The block keeps its
     * entry, so that its reads fail with EIO, as they would anyway, until it is written or discarded.
     */
    private void foundLost(int block, long handle) {
        if (lostHandles.add(handle)) {
            counters.increment(Counter.REMOTE_PAGES_LOST);
            LOG.log(
                    System.Logger.Level.ERROR,
                    "remote page of block " + block + " (handle " + Long.toHexString(handle)
                            + ") is lost: every copy was with a lender that left without handing it over, and none answered;"
                            + " its reads fail with EIO, and it is not repaired");
        }
    }

    /**
     * Puts a remote block's fetched page into the pool and points the block at it, if the block's
     * generation is still {@code generation}; then its remote copies are deleted and the move is
     * counted (pool, remote, and {@code countAs}). Returns 1, 0 when the block changed meanwhile,
     * {@link #HOME_RESERVE_EMPTY} when the pool's reserve was empty (its grower refills it), or
     * {@link #HOME_POOL_FULL} when the pool refused at its limit.
     */
    private int moveHome(int block, int generation, byte[] page, int length, RemoteTier tier, Counter countAs) {
        long handle = pool.allocate(length);
        if (handle == LocalPool.REFUSED_RESERVE_EMPTY) {
            return HOME_RESERVE_EMPTY;
        }
        if (handle < 0) {
            return HOME_POOL_FULL;
        }
        OffHeap.copyToNative(page, 0, pool.address(handle), length);
        long e = table.lock(block);
        if (table.generation(block) != generation) {
            table.unlock(block, e);
            pool.free(handle, length);
            return 0;
        }
        table.publish(block, BlockTable.entry(BlockTable.STATE_LOCAL, length, handle));
        uncountRemote(tier, e);
        counters.increment(Counter.PERS_ZPAGES);
        counters.add(Counter.PERS_ZBYTES, length);
        counters.increment(countAs);
        tier.forget(BlockTable.handle(e));
        return 1;
    }

    /** Counts a page now held remote under {@code handle}. */
    private void countRemote(RemoteTier tier, long handle, int length) {
        boolean misplaced;
        try {
            misplaced = tier.needsReplacing(handle);
        } catch (RuntimeException e) { // the member is stopping, say: a commit must not fail halfway for a look
            misplaced = true; // costs one sweep at most
        }
        if (misplaced) {
            misplacedCommits.incrementAndGet();
        }
        counters.increment(Counter.REMOTE_PERS_PAGES);
        counters.add(Counter.REMOTE_PERS_ZBYTES, length);
        if (tier.copies(handle) < 2) {
            counters.increment(Counter.REMOTE_PAGES_ONE_COPY);
        }
    }

    /** Uncounts the remote page of entry {@code e}. */
    private void uncountRemote(RemoteTier tier, long e) {
        counters.add(Counter.REMOTE_PERS_PAGES, -1);
        counters.add(Counter.REMOTE_PERS_ZBYTES, -BlockTable.length(e));
        if (tier.copies(BlockTable.handle(e)) < 2) {
            counters.add(Counter.REMOTE_PAGES_ONE_COPY, -1);
        }
    }

    private int compactHand;

    /**
     * Moves pooled blocks out of sparse slabs into denser ones, looking at most at
     * {@code maxScan} blocks, so that emptied slabs go back to the kernel and the pool's mapped
     * memory follows what it holds down (after pages went remote or were discarded). A move
     * commits only against an unchanged generation. Returns the blocks moved. One thread.
     */
    int compact(int maxScan) {
        Scratch s = scratch.get();
        int moved = 0;
        int blocks = table.blocks();
        for (int scanned = 0; scanned < maxScan; scanned++) {
            int block = compactHand;
            compactHand = block + 1 == blocks ? 0 : block + 1;
            long e = table.peek(block);
            if (BlockTable.state(e) != BlockTable.STATE_LOCAL
                    || !pool.sparse(BlockTable.handle(e), BlockTable.length(e))) {
                continue;
            }
            e = copyOut(block, s);
            if (BlockTable.state(e) != BlockTable.STATE_LOCAL) {
                continue;
            }
            int length = BlockTable.length(e);
            long to = pool.allocateDenser(BlockTable.handle(e), length);
            if (to < 0) {
                continue;
            }
            OffHeap.copyToNative(s.compressed, 0, pool.address(to), length);
            long now = table.lock(block);
            if (table.generation(block) != s.generation) {
                table.unlock(block, now);
                pool.free(to, length);
                continue;
            }
            table.publish(block, BlockTable.entry(BlockTable.STATE_LOCAL, length, to));
            pool.free(BlockTable.handle(e), length);
            moved++;
        }
        return moved;
    }

    /**
     * Fetches together those of {@code blocks[0..n)} (at most {@link #MAX_REQUEST_BLOCKS}) that are
     * remote when looked at, into this thread's {@link Fetch}, which it returns (count 0: none was).
     */
    private Fetch fetchRemote(int[] blocks, int n, RemoteTier tier, Scratch s) {
        Fetch f = s.fetch();
        f.count = 0;
        for (int j = 0; j < n && f.count < MAX_REQUEST_BLOCKS; j++) {
            long e = copyOut(blocks[j], s);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE) {
                f.add(j, blocks[j], s.generation, e);
            }
        }
        if (f.count > 0) {
            timedFetch(tier, f);
        }
        return f;
    }

    /** {@link #bringHome}: the pool refused before any block came home. */
    static final int HOME_POOL_FULL = -1;
    /** {@link #bringHome}: nothing came home, the pool's reserve being empty for the moment (not full). */
    static final int HOME_RESERVE_EMPTY = -2;

    /**
     * Brings remote blocks home into the pool, fetched together: at most
     * {@link #MAX_REQUEST_BLOCKS} of {@code blocks[0..n)}. A block commits only if unchanged
     * since its entry was read; its remote copy is then deleted. Each block brought home is
     * counted in {@code countAs} (repatriated_pages, remote_pages_replaced). Returns how many came
     * home, or, when the pool refused the first, {@link #HOME_POOL_FULL} or {@link #HOME_RESERVE_EMPTY}.
     * Call from one mover thread at a time.
     */
    int bringHome(int[] blocks, int n, Counter countAs) {
        RemoteTier tier = remote;
        if (tier == null) {
            return 0;
        }
        Scratch s = scratch.get();
        Fetch f = fetchRemote(blocks, n, tier, s);
        if (f.count == 0) {
            return 0;
        }
        int home = 0;
        int refusal = 0; // HOME_POOL_FULL or HOME_RESERVE_EMPTY once the pool refused a block
        for (int k = 0; k < f.count; k++) {
            int block = f.blocks[k];
            int length = BlockTable.length(f.entries[k]);
            if (f.lengths[k] != length) {
                if (!changedSince(block, f.generations[k])) {
                    countFailedGet(f.lengths[k]);
                }
                continue;
            }
            if (refusal != 0) {
                continue;
            }
            int moved = moveHome(block, f.generations[k], f.pages[k], length, tier, countAs);
            if (moved == HOME_POOL_FULL || moved == HOME_RESERVE_EMPTY) {
                refusal = moved;
            } else if (moved > 0) {
                counters.increment(Counter.REMOTE_PERS_PAGES_SUCC_GET);
                home++;
            }
        }
        return refusal != 0 && home == 0 ? refusal : home;
    }

    // ================================================================ helpers

    /** Gauges that live in the pool, copied into the counters when someone looks. */
    public void refreshGauges() {
        counters.set(Counter.POOL_BYTES, pool.mappedBytes());
        synchronized (fetchesSoFar) {
            fetchInterval = fetchMicros.getIntervalHistogram(fetchInterval); // recycles: no allocation after the first
            fetchesSoFar.add(fetchInterval);
            if (fetchesSoFar.getTotalCount() > 0) {
                counters.set(Counter.REMOTE_FETCH_P50_US, fetchesSoFar.getValueAtPercentile(50));
                counters.set(Counter.REMOTE_FETCH_P99_US, fetchesSoFar.getValueAtPercentile(99));
                counters.set(Counter.REMOTE_FETCH_MAX_US, fetchesSoFar.getMaxValue());
            }
        }
    }

    private void checkRange(long offset, int length) {
        if (offset < 0 || length < 0 || length > MAX_REQUEST_BYTES || offset > sizeBytes - length) {
            throw new IllegalArgumentException(
                    "request outside the swap file: offset " + offset + " length " + length + " file " + sizeBytes);
        }
    }
}
