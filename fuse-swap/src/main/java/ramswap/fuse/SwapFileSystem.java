package ramswap.fuse;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import com.kenai.jffi.MemoryIO;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import jnr.ffi.Pointer;
import ramswap.store.Counter;
import ramswap.store.FetchSlot;
import ramswap.store.IoResult;
import ramswap.store.Knobs;
import ramswap.store.Latencies;
import ramswap.store.SwapStore;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.Statvfs;

/**
 * The FUSE face of a {@link SwapStore}: the translation of libfuse 3's low-level requests into
 * store calls, and of their results into replies. Every request is validated at the door (zram's
 * valid_io_request); a store result becomes an errno in one place ({@link #errno}); every request
 * gets exactly one {@code fuse_reply_*}, sent as the last step of its method. The raw callbacks
 * are {@link LowLevelOps}'; the control files beside the swap file ({@code status},
 * {@code ramster/}, {@code stats/}) are {@link ControlFiles}'.
 *
 * <p>Names are a fixed table of inodes: the root (1), the two control directories (2, 3), and
 * every file at its {@link ControlFiles} number plus {@link #INO_FILES}; the swap file is told
 * apart by its inode, so the data path compares no strings. Requests are all or nothing: a write
 * answers its full size or an errno, never a short count, since a loop device in direct-I/O mode
 * completes a short write as success.
 *
 * <p>The open reply asks for direct I/O (the kernel's own swap cache is the cache) and, for the
 * swap file, parallel direct writes: without it a direct write holds the file's inode lock until
 * its reply, so one slow write would stop the writers of every loop device.
 */
public final class SwapFileSystem {

    public static final String SWAPFILE = "swapfile";
    public static final String STATUS = ControlFiles.STATUS;
    public static final String KNOB_DIR = ControlFiles.KNOB_DIR;
    public static final String COUNTER_DIR = ControlFiles.COUNTER_DIR;

    /** The file system's name, libfuse's argv[0]. */
    static final String NAME = "ramswap";

    /**
     * Requests the kernel may have in flight to the daemon in async direct I/O (they are
     * background requests; the kernel's default is 12, and a request beyond the limit waits in
     * the kernel): 128 per loop device, the depth of a loop device's queue, for 8 devices. A
     * fetch from a stalled lender holds one until it times out. The system property
     * {@code ramswap.fuse.max_background} overrides it, for the benchmark that measured it
     * (docs/benchmarks.md).
     */
    static final int MAX_BACKGROUND = Math.max(1, Integer.getInteger("ramswap.fuse.max_background", 1024));

    /** {@link #readSwap}: the request is parked, its slot answers it. */
    private static final int PARKED = Integer.MIN_VALUE;

    private static final long FH_SWAPFILE = 1;
    private static final long INO_FILES = 8;
    private static final long INO_SWAPFILE = FH_SWAPFILE + INO_FILES;
    /** How long the kernel keeps a name and its attributes before it asks again: libfuse 2's high-level default. */
    private static final double TIMEOUT_SECONDS = 1.0;

    private static final int O_ACCMODE = 3;
    /** A reply's small structs (stat, entry, statvfs, open), then a directory listing, then data. */
    private static final int META_BYTES = 512;

    private static final int DIR_BYTES = 4096;
    private static final int OPEN_OUT_BYTES = 16;

    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    private static final jnr.ffi.Runtime RUNTIME = jnr.ffi.Runtime.getSystemRuntime();
    private static final LibFuse3 FUSE = LibFuse3.load();

    private final SwapStore store;
    private final ControlFiles controls;
    private final LowLevelOps ops;
    private final long startSeconds = System.currentTimeMillis() / 1000;
    private final System.Logger log = System.getLogger(SwapFileSystem.class.getName());
    /** Reads, writes and fallocates taken up: the progress a stall watch looks for. */
    private final AtomicLong taken = new AtomicLong();
    /** What each serving thread replies from, made on its first request (the warm-up, before swap is on). */
    private final ThreadLocal<Scratch> scratch = ThreadLocal.withInitial(this::newScratch);

    private final List<Scratch> scratches = new CopyOnWriteArrayList<>();
    private volatile boolean serving;

    /** Read requests parked on their remote pages, answered from the fetches' completions; none for a node without a remote tier. */
    private final ParkedReads parked;

    /** The serving thread's time on each swap-file read and write, reply included (a parked read's: until it parked). */
    private final Latencies readTimes = new Latencies();

    private final Latencies writeTimes = new Latencies();

    public SwapFileSystem(SwapStore store, Knobs knobs, Supplier<String> status) {
        this.store = store;
        this.controls = new ControlFiles(store, knobs, status);
        this.ops = new LowLevelOps(this);
        this.parked = new ParkedReads(FUSE, store, store.usesRemote() ? ParkedReads.SLOTS : 0);
    }

    /** A serving thread's buffers: native memory for replies and a Java array for the store, touched now. */
    private final class Scratch implements FetchSlot.Source {
        final byte[] chunk = new byte[SwapStore.MAX_REQUEST_BYTES];
        final long memory;
        final long meta;
        final long dir;
        final long data;
        /** The request being read, for the slot it may park on. */
        long req;

        @Override
        public FetchSlot take() {
            return parked.take(req);
        }

        Scratch() {
            long bytes = META_BYTES + DIR_BYTES + (long) SwapStore.MAX_REQUEST_BYTES;
            memory = OffHeap.allocate(bytes);
            OffHeap.setMemory(memory, bytes, (byte) 0);
            meta = memory;
            dir = memory + META_BYTES;
            data = dir + DIR_BYTES;
        }
    }

    /**
     * Before the session goes (unmount, shutdown): every read still parked is answered EIO, and
     * the slots being answered are waited for, at most {@code bound}. True when every slot is free.
     */
    boolean answerParked(java.time.Duration bound) {
        return parked.answerAll(bound);
    }

    private Scratch newScratch() {
        Scratch s = new Scratch();
        scratches.add(s);
        return s;
    }

    /** Data requests taken up so far (read, write, fallocate); grows while the serving threads make progress. */
    public long requestsTaken() {
        return taken.get();
    }

    /**
     * Mounts on {@code dir} with libfuse's mount {@code options} and serves it from
     * {@code threads} threads of {@link ServingThreads}.
     */
    ServingThreads serve(Path dir, String options, int threads) throws IOException {
        synchronized (this) {
            if (serving) {
                throw new IOException("this file system is already mounted");
            }
            serving = true;
        }
        try {
            return ServingThreads.start(FUSE, ops.address(), new String[] {NAME, "-o", options}, threads, dir);
        } catch (IOException | RuntimeException e) {
            serving = false;
            throw e;
        }
    }

    /** Once every serving thread has stopped and every parked read is answered: their buffers go. */
    void released() {
        for (Scratch s : scratches) {
            OffHeap.free(s.memory);
        }
        scratches.clear();
        parked.released();
    }

    // ================================================================ the session

    /**
     * INIT: requests of the store's size, async direct I/O (libfuse 3 asks for it by default) with
     * room for every loop device's queue, and truncation as a setattr rather than an open flag.
     */
    void init(long conn) {
        OffHeap.putInt(conn + LibFuse3.CONN_MAX_WRITE, SwapStore.MAX_REQUEST_BYTES);
        OffHeap.putInt(conn + LibFuse3.CONN_MAX_READ, SwapStore.MAX_REQUEST_BYTES); // must equal -o max_read
        OffHeap.putInt(conn + LibFuse3.CONN_MAX_BACKGROUND, MAX_BACKGROUND);
        OffHeap.putInt(conn + LibFuse3.CONN_CONGESTION_THRESHOLD, Math.max(1, MAX_BACKGROUND * 3 / 4));
        int want = OffHeap.getInt(conn + LibFuse3.CONN_WANT) & ~LibFuse3.CAP_ATOMIC_O_TRUNC;
        OffHeap.putInt(conn + LibFuse3.CONN_WANT, want);
        // a loop device keeps several requests in flight only with async direct I/O
        boolean asyncDirectIo = (want & LibFuse3.CAP_ASYNC_DIO) != 0;
        log.log(
                System.Logger.Level.INFO,
                "FUSE session: async direct I/O " + (asyncDirectIo ? "on" : "refused by the kernel")
                        + ", max_background " + MAX_BACKGROUND);
    }

    // ================================================================ names

    /** The inode of a {@link ControlFiles} number or directory mark. */
    static long ino(long what) {
        return what < 0 ? -what - 1 : what + INO_FILES;
    }

    /** What an inode names, or {@link ControlFiles#NOT_FOUND}. */
    static long what(long ino) {
        if (ino >= 1 && ino <= 3) {
            return -ino - 1;
        }
        long what = ino - INO_FILES;
        return what == FH_SWAPFILE || ControlFiles.isControl(what) ? what : ControlFiles.NOT_FOUND;
    }

    /** What a path names: the swap file, a control file or directory, or {@link ControlFiles#NOT_FOUND}. */
    private static long resolve(String path) {
        return path.equals("/" + SWAPFILE) ? FH_SWAPFILE : ControlFiles.resolve(path);
    }

    /** The directory mark of {@code ino}, or {@link ControlFiles#NOT_FOUND} once the request is answered ENOENT or ENOTDIR. */
    private static long directory(long req, long ino) {
        long dir = what(ino);
        if (dir == ControlFiles.NOT_FOUND || dir >= 0) {
            FUSE.fuse_reply_err(req, dir == ControlFiles.NOT_FOUND ? ErrorCodes.ENOENT() : ErrorCodes.ENOTDIR());
            return ControlFiles.NOT_FOUND;
        }
        return dir;
    }

    void lookup(long req, long parent, long name) {
        long dir = directory(req, parent);
        if (dir == ControlFiles.NOT_FOUND) {
            return;
        }
        long what = resolve(ControlFiles.pathOf(dir) + "/" + cString(name));
        if (what == ControlFiles.NOT_FOUND) {
            FUSE.fuse_reply_err(req, ErrorCodes.ENOENT());
            return;
        }
        long entry = scratch.get().meta;
        OffHeap.setMemory(entry, LibFuse3.ENTRY_BYTES, (byte) 0);
        OffHeap.putLong(entry + LibFuse3.ENTRY_INO, ino(what));
        describe(what, entry + LibFuse3.ENTRY_ATTR);
        OffHeap.putLong(entry + LibFuse3.ENTRY_ATTR_TIMEOUT, Double.doubleToRawLongBits(TIMEOUT_SECONDS));
        OffHeap.putLong(entry + LibFuse3.ENTRY_ENTRY_TIMEOUT, Double.doubleToRawLongBits(TIMEOUT_SECONDS));
        FUSE.fuse_reply_entry(req, entry);
    }

    /** The C string at {@code address}. */
    private static String cString(long address) {
        return new String(MEMORY.getZeroTerminatedByteArray(address), StandardCharsets.UTF_8);
    }

    /** Writes {@code struct stat} of {@code what} at {@code address}. */
    private void describe(long what, long address) {
        OffHeap.setMemory(address, LibFuse3.STAT_BYTES, (byte) 0);
        FileStat stat = FileStat.of(Pointer.wrap(RUNTIME, address));
        stat.st_ino.set(ino(what));
        stat.st_uid.set(0);
        stat.st_gid.set(0);
        stat.st_atim.tv_sec.set(startSeconds);
        stat.st_mtim.tv_sec.set(startSeconds);
        stat.st_ctim.tv_sec.set(startSeconds);
        stat.st_blksize.set(BLOCK_SIZE);
        if (what == FH_SWAPFILE) {
            stat.st_mode.set(FileStat.S_IFREG | 0600);
            stat.st_nlink.set(1);
            stat.st_size.set(store.sizeBytes());
            // st_blocks is what the data really takes, as du shows it
            long bytes = store.counters().get(Counter.PERS_ZBYTES);
            stat.st_blocks.set((bytes + 511) / 512);
        } else {
            ControlFiles.describe(what, stat);
        }
    }

    void getattr(long req, long ino) {
        long what = what(ino);
        if (what == ControlFiles.NOT_FOUND) {
            FUSE.fuse_reply_err(req, ErrorCodes.ENOENT());
            return;
        }
        long stat = scratch.get().meta;
        describe(what, stat);
        FUSE.fuse_reply_attr(req, stat, TIMEOUT_SECONDS);
    }

    /** Only a truncation changes anything: the swap file's size is fixed, a knob takes {@code echo x >}'s. */
    void setattr(long req, long ino, long stat, int toSet) {
        long what = what(ino);
        if (what == ControlFiles.NOT_FOUND) {
            FUSE.fuse_reply_err(req, ErrorCodes.ENOENT());
            return;
        }
        if ((toSet & LibFuse3.SET_ATTR_SIZE) != 0) {
            long size = FileStat.of(Pointer.wrap(RUNTIME, stat)).st_size.longValue();
            int refusal = what == FH_SWAPFILE
                    ? (size == store.sizeBytes() ? 0 : -ErrorCodes.EPERM())
                    : ControlFiles.resize(what);
            if (refusal != 0) {
                FUSE.fuse_reply_err(req, -refusal);
                return;
            }
        }
        getattr(req, ino);
    }

    void readdir(long req, long ino, long size, long offset) {
        long dir = directory(req, ino);
        if (dir == ControlFiles.NOT_FOUND) {
            return;
        }
        List<String> names = new java.util.ArrayList<>(List.of(".", ".."));
        if (dir == ControlFiles.DIR_ROOT) {
            names.add(SWAPFILE);
        }
        ControlFiles.list(dir, names::add);
        Scratch s = scratch.get();
        long room = Math.min(size, DIR_BYTES);
        long used = 0;
        for (long i = Math.max(0, offset); i < names.size(); i++) {
            String name = names.get((int) i);
            long what = i < 2 ? dir : resolve(ControlFiles.pathOf(dir) + "/" + name);
            OffHeap.setMemory(s.meta, LibFuse3.STAT_BYTES, (byte) 0);
            FileStat stat = FileStat.of(Pointer.wrap(RUNTIME, s.meta));
            stat.st_ino.set(ino(what));
            stat.st_mode.set(what < 0 ? FileStat.S_IFDIR : FileStat.S_IFREG);
            long length = FUSE.fuse_add_direntry(req, s.dir + used, room - used, name, s.meta, i + 1);
            if (length > room - used) {
                break;
            }
            used += length;
        }
        FUSE.fuse_reply_buf(req, s.dir, used);
    }

    void statfs(long req) {
        long address = scratch.get().meta;
        OffHeap.setMemory(address, LibFuse3.STATVFS_BYTES, (byte) 0);
        Statvfs st = Statvfs.of(Pointer.wrap(RUNTIME, address));
        long blocks = store.blocks();
        long free = Math.max(0, blocks - store.counters().get(Counter.STORED_PAGES));
        st.f_bsize.set(BLOCK_SIZE);
        st.f_frsize.set(BLOCK_SIZE);
        st.f_blocks.set(blocks);
        st.f_bfree.set(free);
        st.f_bavail.set(free);
        st.f_files.set(1 + ControlFiles.count());
        st.f_namemax.set(255);
        FUSE.fuse_reply_statfs(req, address);
    }

    // ================================================================ open files

    void open(long req, long ino, int flags) {
        long what = what(ino);
        if (what == ControlFiles.NOT_FOUND) {
            FUSE.fuse_reply_err(req, ErrorCodes.ENOENT());
            return;
        }
        long fh = what;
        int openFlags = LibFuse3.FOPEN_DIRECT_IO;
        if (what == FH_SWAPFILE) {
            openFlags |= LibFuse3.FOPEN_PARALLEL_DIRECT_WRITES;
        } else {
            int refusal = ControlFiles.open(what, (flags & O_ACCMODE) != Posix.O_RDONLY);
            if (refusal != 0) {
                FUSE.fuse_reply_err(req, -refusal);
                return;
            }
            fh = controls.handleFor(what);
        }
        // struct fuse_open_out, sent raw: libfuse 3.14's fuse_reply_open cannot set parallel direct writes
        long out = scratch.get().meta;
        OffHeap.putLong(out, fh);
        OffHeap.putInt(out + 8, openFlags);
        OffHeap.putInt(out + 12, 0);
        FUSE.fuse_reply_buf(req, out, OPEN_OUT_BYTES);
    }

    void release(long req, long fh) {
        controls.released(fh);
        FUSE.fuse_reply_err(req, 0);
    }

    /** flush and fsync: every write is complete in memory when it is answered. */
    void done(long req) {
        FUSE.fuse_reply_err(req, 0);
    }

    /** Creating, removing and renaming names. */
    void refuse(long req) {
        FUSE.fuse_reply_err(req, ErrorCodes.EPERM());
    }

    // ================================================================ data

    /** The one mapping from a store result to what FUSE answers: 0 or a negative errno. */
    static int errno(IoResult result) {
        return switch (result) {
            case DONE -> 0;
            case POOL_LIMIT, RESERVE_EMPTY -> -ErrorCodes.ENOSPC();
            case CORRUPT, REMOTE_FAILED -> -ErrorCodes.EIO();
            case PARKED -> throw new IllegalStateException("a parked request has no errno: its slot answers it");
        };
    }

    void read(long req, long ino, long size, long offset, long fh) {
        taken.incrementAndGet(); // counted as it starts: a request that never ends is what a stall is
        long t0 = System.nanoTime();
        Scratch s = scratch.get();
        long data = s.data;
        s.req = req;
        if (ino != INO_SWAPFILE) {
            reply(req, data, controls.read(fh, data, Math.min(size, SwapStore.MAX_REQUEST_BYTES), offset));
            return;
        }
        int n = readSwap(s, data, size, offset);
        if (n != PARKED) { // else its slot answers it
            reply(req, data, n);
        }
        readTimes.recordSince(t0);
    }

    private static void reply(long req, long data, int n) {
        if (n < 0) {
            FUSE.fuse_reply_err(req, -n);
        } else {
            FUSE.fuse_reply_buf(req, data, n);
        }
    }

    /** A read of the swap file into {@code buf}: its bytes, fewer only at the end of the file, or an errno. */
    int readSwap(long buf, long size, long offset) {
        return readSwap(null, buf, size, offset);
    }

    /**
     * {@link #readSwap(long, long, long)} for the request in {@code parking}, which may park it on
     * its remote pages: then {@link #PARKED}, and the slot answers it. Null {@code parking}: never parked.
     */
    private int readSwap(Scratch parking, long buf, long size, long offset) {
        if (offset < 0 || size < 0) {
            return -ErrorCodes.EINVAL();
        }
        long fileSize = store.sizeBytes();
        if (offset >= fileSize || size == 0) {
            return 0;
        }
        long total = Math.min(size, fileSize - offset);
        if (total > SwapStore.MAX_REQUEST_BYTES) {
            return -ErrorCodes.EINVAL(); // more than max_read: FUSE never sends it
        }
        byte[] chunk = scratch.get().chunk;
        IoResult result = store.read(chunk, 0, offset, (int) total, parking == null || parked.none() ? null : parking);
        if (result == IoResult.PARKED) {
            return PARKED;
        }
        if (result != IoResult.DONE) {
            return errno(result);
        }
        MEMORY.putByteArray(buf, chunk, 0, (int) total);
        return (int) total;
    }

    void write(long req, long ino, long buf, long size, long offset, long fh) {
        taken.incrementAndGet();
        long t0 = System.nanoTime();
        boolean swap = ino == INO_SWAPFILE;
        int n = swap ? writeSwap(buf, size, offset) : controls.write(fh, buf, size, offset);
        if (n < 0) {
            FUSE.fuse_reply_err(req, -n);
        } else {
            FUSE.fuse_reply_write(req, n);
        }
        if (swap) {
            writeTimes.recordSince(t0);
        }
    }

    /** The serving threads' time on each read of the swap file, reply included; a parked read's until it parked. */
    public Latencies readTimes() {
        return readTimes;
    }

    /** The serving threads' time on each write to the swap file, reply included. */
    public Latencies writeTimes() {
        return writeTimes;
    }

    /** A write to the swap file: all of it ({@code size}) or an errno, never a short count. */
    int writeSwap(long buf, long size, long offset) {
        if (offset < 0 || size < 0) {
            return -ErrorCodes.EINVAL();
        }
        if (size > SwapStore.MAX_REQUEST_BYTES) {
            return -ErrorCodes.EINVAL(); // more than max_write: FUSE never sends it
        }
        // a fixed-size area, like a block device: a write that does not fit changes nothing
        if (size > store.sizeBytes() - offset) {
            return -ErrorCodes.ENOSPC();
        }
        byte[] chunk = scratch.get().chunk;
        MEMORY.getByteArray(buf, chunk, 0, (int) size);
        IoResult result = store.write(chunk, 0, offset, (int) size);
        return result == IoResult.DONE ? (int) size : errno(result);
    }

    /** The loop device's discard: a punched hole or a zeroed range. */
    void fallocate(long req, long ino, int mode, long offset, long length) {
        taken.incrementAndGet();
        FUSE.fuse_reply_err(req, -fallocateSwap(ino, mode, offset, length));
    }

    private int fallocateSwap(long ino, int mode, long offset, long length) {
        if (ino != INO_SWAPFILE) {
            return -ErrorCodes.EOPNOTSUPP();
        }
        if (offset < 0 || length <= 0) {
            return -ErrorCodes.EINVAL();
        }
        boolean punch = mode == (Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE);
        boolean zero = (mode & ~Posix.FALLOC_FL_KEEP_SIZE) == Posix.FALLOC_FL_ZERO_RANGE;
        if (!punch && !zero) {
            // plain allocation cannot be promised by a store that compresses
            return -ErrorCodes.EOPNOTSUPP();
        }
        if (zero && (mode & Posix.FALLOC_FL_KEEP_SIZE) == 0 && length > store.sizeBytes() - offset) {
            return -ErrorCodes.ENOSPC();
        }
        // unwritten blocks read as zeros, so zeroing a range is discarding it
        return errno(store.discard(offset, length));
    }

    // ================================================================ failures

    /** A callback threw before it replied: logged, and answered EIO so that no request is left hanging. */
    void failed(long req, String what, Throwable e) {
        try {
            log(System.Logger.Level.ERROR, what + " failed", e);
        } finally {
            FUSE.fuse_reply_err(req, ErrorCodes.EIO());
        }
    }

    void log(System.Logger.Level level, String message, Throwable e) {
        log.log(level, message, e);
    }
}
