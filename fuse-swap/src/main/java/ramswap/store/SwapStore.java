package ramswap.store;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import java.util.function.LongSupplier;
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
    public static final int MAX_REQUEST_BLOCKS = MAX_REQUEST_BYTES / BLOCK_SIZE + 1;

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
    /** Fetch times, recorded without allocating or locking by the fetching threads. */
    private final Latencies fetchTimes = new Latencies();

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

    /** Where remote blocks live; null while this store keeps every block home. */
    public RemoteTier remote() {
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
        /** What {@link #copyOut} took last; its bytes are {@link #compressed}. */
        final BlockCopy copy;
        /** Made at this thread's first remote block. */
        Fetch fetch;

        Scratch(int compressedBytes) {
            this.copy = new BlockCopy(compressedBytes);
            this.compressed = copy.bytes;
        }

        Fetch fetch() {
            if (fetch == null) {
                fetch = new Fetch(MAX_REQUEST_BLOCKS, compressed.length);
            }
            return fetch;
        }
    }

    /** A block's stored bytes and its generation, as {@link #copyOut} took them under the block's lock. */
    public static final class BlockCopy {
        public final byte[] bytes;
        public int generation;

        /** Room for any stored page: {@link #compressedPageBytes()}. */
        public BlockCopy(int pageBytes) {
            this.bytes = new byte[pageBytes];
        }
    }

    /**
     * Remote blocks fetched together (a request's, or a mover's batch): where each goes, and what
     * came back. Each owner fetches into its own.
     */
    public static final class Fetch {
        final int[] spanIndex;
        public final int[] blocks;
        public final int[] generations;
        public final long[] handles;
        public final long[] entries;
        public final byte[][] pages;
        public final int[] lengths;
        public int count;
        /** What the request's pages came to so far: {@link IoResult#DONE}, or its first failure. */
        IoResult result = IoResult.DONE;

        /** Room for {@code capacity} blocks of up to {@code pageBytes} stored bytes each. */
        public Fetch(int capacity, int pageBytes) {
            spanIndex = new int[capacity];
            blocks = new int[capacity];
            generations = new int[capacity];
            handles = new long[capacity];
            entries = new long[capacity];
            pages = new byte[capacity][pageBytes];
            lengths = new int[capacity];
        }

        /** Adds block {@code block} (item {@code i} of its owner's list) with its entry and generation. */
        public void add(int i, int block, int generation, long entry) {
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

    /** The table itself, for the movers ({@code ramswap.move}), which change blocks by its locks as the store does. */
    public BlockTable table() {
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
            long e = copyOut(block, s.copy);
            counters.increment(Counter.PAGES_READ);
            if (BlockTable.state(e) == BlockTable.STATE_REMOTE) {
                if (f == null) {
                    f = s.fetch();
                    f.count = 0;
                }
                f.add(i, block, s.copy.generation, e); // fetched together below, outside every lock
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
                long now = copyOut(f.blocks[k], s.copy);
                if (s.copy.generation != f.generations[k]) {
                    if (BlockTable.state(now) == BlockTable.STATE_REMOTE) {
                        f.spanIndex[again] = f.spanIndex[k];
                        f.blocks[again] = f.blocks[k];
                        f.generations[again] = s.copy.generation;
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
                fetchTimes.recordMicros(micros);
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

    /**
     * Takes a block's entry and its generation and, for a pooled block, copies its stored bytes
     * into {@code c}, under the block's lock. The movers copy blocks out with it too.
     */
    public long copyOut(int block, BlockCopy c) {
        long e = table.lock(block);
        if (BlockTable.state(e) == BlockTable.STATE_LOCAL) {
            OffHeap.copyFromNative(pool.address(BlockTable.handle(e)), c.bytes, 0, BlockTable.length(e));
        }
        c.generation = table.generation(block);
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
        if (table.changedSince(block, generation)) { // moved meanwhile, whatever the failure
            return CHANGED;
        }
        countFailedGet(got);
        return null;
    }

    /** Counts a remote page that could not be read, under its cause: the tier's code, or a length other than the one sealed. */
    public void countFailedGet(int got) {
        counters.increment(Counter.REMOTE_PERS_PAGES_UNSUCC_GET);
        counters.increment(
                switch (got) {
                    case RemoteTier.MISSING -> Counter.REMOTE_GET_MISSING;
                    case RemoteTier.TIMEOUT -> Counter.REMOTE_GET_TIMEOUTS;
                    default -> Counter.REMOTE_GET_UNAUTHENTIC; // opened, yet not the length sealed: as good as altered
                });
    }

    /**
     * Fetches the pages {@code f} lists on this thread ({@link RemoteTier#fetch}), waiting at most
     * the store's remote timeout, and records how long it took in the fetch latency counters.
     */
    public void timedFetch(RemoteTier tier, Fetch f) {
        long t0 = System.nanoTime();
        tier.fetch(f.count, f.blocks, f.generations, f.handles, f.pages, f.lengths, remoteTimeoutMillis.getAsLong());
        fetchTimes.recordSince(t0);
        counters.increment(Counter.REMOTE_FETCHES);
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
            long old = copyOut(block, s.copy);
            s.generations[k] = s.copy.generation;
            byte[] stored = s.compressed;
            if (BlockTable.state(old) == BlockTable.STATE_REMOTE) {
                stored = fetchOne(block, old, s.copy.generation, s);
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

    // ================================================================ helpers

    /**
     * Uncounts the remote page of entry {@code e}, which no block holds any more: a write replaced
     * it, or a mover brought it home or gave it new copies.
     */
    public void uncountRemote(RemoteTier tier, long e) {
        counters.add(Counter.REMOTE_PERS_PAGES, -1);
        counters.add(Counter.REMOTE_PERS_ZBYTES, -BlockTable.length(e));
        if (tier.copies(BlockTable.handle(e)) < 2) {
            counters.add(Counter.REMOTE_PAGES_ONE_COPY, -1);
        }
    }

    /** Gauges that live in the pool, copied into the counters when someone looks. */
    public void refreshGauges() {
        counters.set(Counter.POOL_BYTES, pool.mappedBytes());
        if (fetchTimes.count() > 0) {
            counters.set(Counter.REMOTE_FETCH_P50_US, fetchTimes.percentileMicros(50));
            counters.set(Counter.REMOTE_FETCH_P99_US, fetchTimes.percentileMicros(99));
            counters.set(Counter.REMOTE_FETCH_MAX_US, fetchTimes.maxMicros());
        }
    }

    /** Every remote fetch's time since start. */
    public Latencies fetchTimes() {
        return fetchTimes;
    }

    private void checkRange(long offset, int length) {
        if (offset < 0 || length < 0 || length > MAX_REQUEST_BYTES || offset > sizeBytes - length) {
            throw new IllegalArgumentException(
                    "request outside the swap file: offset " + offset + " length " + length + " file " + sizeBytes);
        }
    }
}
