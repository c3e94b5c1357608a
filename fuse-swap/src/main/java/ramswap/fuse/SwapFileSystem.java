package ramswap.fuse;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import com.kenai.jffi.MemoryIO;
import java.nio.charset.StandardCharsets;
import java.util.function.Supplier;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.provider.ClosureManager;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ramswap.store.Counter;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.SwapStore;
import ramswap.sys.Posix;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseFillDir;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;
import ru.serce.jnrfuse.struct.Statvfs;

/**
 * The FUSE face of a {@link SwapStore}: translation only. Every request is validated at the door
 * (zram's valid_io_request), exceptions turn into an errno in one place per callback.
 *
 * <pre>
 * /swapfile            the swap area (0600)
 * /status              a few "name: value" lines about the running daemon (0444)
 * /ramster/&lt;knob&gt;      settings: read gives the value and a newline, write sets it (0644)
 * /stats/&lt;counter&gt;     figures, read-only (0444)
 * </pre>
 *
 * The swap file is told apart by its file handle, not its path, so the data path compares no strings.
 */
public final class SwapFileSystem extends FuseStubFS {

    public static final String SWAPFILE = "swapfile";
    public static final String STATUS = "status";
    public static final String KNOB_DIR = "ramster";
    public static final String COUNTER_DIR = "stats";

    private static final long FH_SWAPFILE = 1;
    private static final long FH_STATUS = 2;
    private static final long FH_KNOB = 1000;
    private static final long FH_COUNTER = 2000;
    private static final int O_ACCMODE = 3;
    private static final int CONTROL_FILE_BYTES = 4096;
    /** Buffer per FUSE thread: FUSE sends at most max_write/max_read (128 KiB) per request. */
    private static final int REQUEST_BUFFER_BYTES = 128 * 1024;

    private final SwapStore store;
    private final Knobs knobs;
    private final Supplier<String> status;
    private final long startSeconds = System.currentTimeMillis() / 1000;
    private final ThreadLocal<byte[]> requestBuffer = ThreadLocal.withInitial(() -> new byte[REQUEST_BUFFER_BYTES]);
    private final System.Logger log = System.getLogger(SwapFileSystem.class.getName());

    public SwapFileSystem(SwapStore store, Knobs knobs, Supplier<String> status) {
        this.store = store;
        this.knobs = knobs;
        this.status = status;
        installDataCallbacks();
    }

    // ================================================================ the data path's callbacks

    /**
     * {@code read} and {@code write} of {@code struct fuse_operations}, with the C pointers as
     * plain addresses. jnr-fuse's own callbacks decode the path into a String and wrap the buffer
     * and the {@code fuse_file_info} in objects on every request: about 1 KiB of garbage each,
     * 25 MiB/s under swap load, a young collection (a safepoint) every 0.4 s. A safepoint stops
     * the serving thread until every other thread of the JVM reaches it, and a thread that is in
     * reclaim waiting on a swap write cannot. Without them the serving thread allocates nothing.
     */
    public interface DataCallback {
        @Delegate
        int call(long path, long buf, @size_t long size, @off_t long offset, long fileInfo);
    }

    /** {@code fallocate}, the loop device's discard, with plain addresses for the same reason. */
    public interface FallocateCallback {
        @Delegate
        int call(long path, int mode, @off_t long offset, @off_t long length, long fileInfo);
    }

    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    /** Where {@code fh} sits in {@code struct fuse_file_info}: taken from jnr-fuse's layout of it. */
    private static final long FH_OFFSET = FuseFileInfo.of(Pointer.wrap(jnr.ffi.Runtime.getSystemRuntime(), 0L)).fh.offset();

    // held here: the native side has only their addresses, and a collected closure would be a dangling pointer
    private final DataCallback readCallback = this::read;
    private final DataCallback writeCallback = this::write;
    private final FallocateCallback fallocateCallback = this::fallocate;

    private void installDataCallbacks() {
        ClosureManager closures = jnr.ffi.Runtime.getSystemRuntime().getClosureManager();
        Pointer ops = Struct.getMemory(fuseOperations, jnr.ffi.provider.ParameterFlags.DIRECT); // the memory libfuse is given
        ops.putPointer(fuseOperations.read.offset(), closures.getClosurePointer(DataCallback.class, readCallback));
        ops.putPointer(fuseOperations.write.offset(), closures.getClosurePointer(DataCallback.class, writeCallback));
        ops.putPointer(fuseOperations.fallocate.offset(), closures.getClosurePointer(FallocateCallback.class, fallocateCallback));
    }

    private static long fileHandle(long fileInfo) {
        return MEMORY.getLong(fileInfo + FH_OFFSET);
    }

    /** The C string at {@code path}, for error messages only. */
    private static String path(long path) {
        return path == 0 ? "(no path)" : new String(MEMORY.getZeroTerminatedByteArray(path), StandardCharsets.UTF_8);
    }

    @Override
    protected String getFSName() {
        return "ramswap";
    }

    // ================================================================ names

    /** What a path names: a file handle for files, or one of the directory marks. */
    private static final long DIR_ROOT = -2;
    private static final long DIR_KNOBS = -3;
    private static final long DIR_COUNTERS = -4;
    private static final long NOT_FOUND = -1;

    private static long resolve(String path) {
        switch (path) {
            case "/":
                return DIR_ROOT;
            case "/" + SWAPFILE:
                return FH_SWAPFILE;
            case "/" + STATUS:
                return FH_STATUS;
            case "/" + KNOB_DIR:
                return DIR_KNOBS;
            case "/" + COUNTER_DIR:
                return DIR_COUNTERS;
            default:
                break;
        }
        if (path.startsWith("/" + KNOB_DIR + "/")) {
            Knob k = Knob.byFileName(path.substring(KNOB_DIR.length() + 2));
            return k == null ? NOT_FOUND : FH_KNOB + k.ordinal();
        }
        if (path.startsWith("/" + COUNTER_DIR + "/")) {
            Counter c = Counter.byFileName(path.substring(COUNTER_DIR.length() + 2));
            return c == null ? NOT_FOUND : FH_COUNTER + c.ordinal();
        }
        return NOT_FOUND;
    }

    private static boolean isKnob(long fh) {
        return fh >= FH_KNOB && fh < FH_KNOB + Knob.values().length;
    }

    private static boolean isCounter(long fh) {
        return fh >= FH_COUNTER && fh < FH_COUNTER + Counter.values().length;
    }

    // ================================================================ metadata

    @Override
    public int getattr(String path, FileStat stat) {
        try {
            long what = resolve(path);
            if (what == NOT_FOUND) {
                return -ErrorCodes.ENOENT();
            }
            stat.st_uid.set(0);
            stat.st_gid.set(0);
            stat.st_atim.tv_sec.set(startSeconds);
            stat.st_mtim.tv_sec.set(startSeconds);
            stat.st_ctim.tv_sec.set(startSeconds);
            stat.st_blksize.set(BLOCK_SIZE);
            if (what < 0) {
                stat.st_mode.set(FileStat.S_IFDIR | 0755);
                stat.st_nlink.set(2);
                return 0;
            }
            stat.st_nlink.set(1);
            if (what == FH_SWAPFILE) {
                stat.st_mode.set(FileStat.S_IFREG | 0600);
                stat.st_size.set(store.sizeBytes());
                // st_blocks is what the data really takes, as du shows it
                long bytes = store.counters().get(Counter.PERS_ZBYTES);
                stat.st_blocks.set((bytes + 511) / 512);
            } else {
                stat.st_mode.set(FileStat.S_IFREG | (isKnob(what) ? 0644 : 0444));
                stat.st_size.set(CONTROL_FILE_BYTES);
            }
            return 0;
        } catch (RuntimeException e) {
            return fail("getattr " + path, e);
        }
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filter, @off_t long offset, FuseFileInfo fi) {
        try {
            long what = resolve(path);
            if (what == NOT_FOUND) {
                return -ErrorCodes.ENOENT();
            }
            if (what >= 0) {
                return -ErrorCodes.ENOTDIR();
            }
            filter.apply(buf, ".", null, 0);
            filter.apply(buf, "..", null, 0);
            if (what == DIR_ROOT) {
                filter.apply(buf, SWAPFILE, null, 0);
                filter.apply(buf, STATUS, null, 0);
                filter.apply(buf, KNOB_DIR, null, 0);
                filter.apply(buf, COUNTER_DIR, null, 0);
            } else if (what == DIR_KNOBS) {
                for (Knob k : Knob.values()) {
                    filter.apply(buf, k.fileName(), null, 0);
                }
            } else {
                for (Counter c : Counter.values()) {
                    filter.apply(buf, c.fileName(), null, 0);
                }
            }
            return 0;
        } catch (RuntimeException e) {
            return fail("readdir " + path, e);
        }
    }

    @Override
    public int statfs(String path, Statvfs st) {
        try {
            long blocks = store.blocks();
            long free = Math.max(0, blocks - store.counters().get(Counter.STORED_PAGES));
            st.f_bsize.set(BLOCK_SIZE);
            st.f_frsize.set(BLOCK_SIZE);
            st.f_blocks.set(blocks);
            st.f_bfree.set(free);
            st.f_bavail.set(free);
            st.f_files.set(3 + Knob.values().length + Counter.values().length);
            st.f_namemax.set(255);
            return 0;
        } catch (RuntimeException e) {
            return fail("statfs", e);
        }
    }

    @Override
    public int open(String path, FuseFileInfo fi) {
        try {
            long what = resolve(path);
            if (what == NOT_FOUND) {
                return -ErrorCodes.ENOENT();
            }
            if (what < 0) {
                return -ErrorCodes.EISDIR();
            }
            boolean writing = (fi.flags.get() & O_ACCMODE) != Posix.O_RDONLY;
            if (writing && (what == FH_STATUS || isCounter(what))) {
                return -ErrorCodes.EACCES();
            }
            fi.fh.set(what);
            return 0;
        } catch (RuntimeException e) {
            return fail("open " + path, e);
        }
    }

    @Override
    public int truncate(String path, @off_t long size) {
        return resize(resolve(path), size);
    }

    @Override
    public int ftruncate(String path, @off_t long size, FuseFileInfo fi) {
        return resize(fi.fh.get(), size);
    }

    /** The swap file's size is fixed at start; control files accept the truncate of "echo x > file". */
    private int resize(long what, long size) {
        if (what == NOT_FOUND) {
            return -ErrorCodes.ENOENT();
        }
        if (what == FH_SWAPFILE) {
            return size == store.sizeBytes() ? 0 : -ErrorCodes.EPERM();
        }
        if (isKnob(what)) {
            return 0;
        }
        return what < 0 ? -ErrorCodes.EISDIR() : -ErrorCodes.EACCES();
    }

    // ================================================================ data

    private int read(long path, long buf, long size, long offset, long fileInfo) {
        long fh = fileHandle(fileInfo);
        try {
            if (fh == FH_SWAPFILE) {
                return readSwap(buf, size, offset);
            }
            return readControl(fh, buf, size, offset);
        } catch (RuntimeException e) {
            return fail("read " + path(path), e);
        }
    }

    private int readSwap(long buf, long size, long offset) {
        if (offset < 0 || size < 0) {
            return -ErrorCodes.EINVAL();
        }
        long fileSize = store.sizeBytes();
        if (offset >= fileSize || size == 0) {
            return 0;
        }
        int total = (int) Math.min(Math.min(size, Integer.MAX_VALUE), fileSize - offset);
        byte[] chunk = requestBuffer.get();
        int done = 0;
        while (done < total) {
            int n = Math.min(chunk.length, total - done);
            if (!store.read(chunk, 0, offset + done, n)) {
                return done > 0 ? done : -ErrorCodes.EIO();
            }
            MEMORY.putByteArray(buf + done, chunk, 0, n);
            done += n;
        }
        return done;
    }

    private int write(long path, long buf, long size, long offset, long fileInfo) {
        long fh = fileHandle(fileInfo);
        try {
            if (fh == FH_SWAPFILE) {
                return writeSwap(buf, size, offset);
            }
            return writeControl(fh, buf, size, offset);
        } catch (RuntimeException e) {
            return fail("write " + path(path), e);
        }
    }

    private int writeSwap(long buf, long size, long offset) {
        if (offset < 0 || size < 0) {
            return -ErrorCodes.EINVAL();
        }
        // a fixed-size area, like a block device: a write that does not fit changes nothing
        if (size > store.sizeBytes() - offset) {
            return -ErrorCodes.ENOSPC();
        }
        byte[] chunk = requestBuffer.get();
        int total = (int) size;
        int done = 0;
        while (done < total) {
            int n = Math.min(chunk.length, total - done);
            MEMORY.getByteArray(buf + done, chunk, 0, n);
            int written = store.write(chunk, 0, offset + done, n);
            done += written;
            if (written < n) {
                return done > 0 ? done : -ErrorCodes.ENOSPC();
            }
        }
        return done;
    }

    private int fallocate(long path, int mode, long offset, long length, long fileInfo) {
        try {
            if (fileHandle(fileInfo) != FH_SWAPFILE) {
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
            return store.discard(offset, length) ? 0 : -ErrorCodes.EIO();
        } catch (RuntimeException e) {
            return fail("fallocate " + path(path), e);
        }
    }

    @Override
    public int fsync(String path, int isdatasync, FuseFileInfo fi) {
        return 0; // every write is complete in memory when it returns
    }

    @Override
    public int flush(String path, FuseFileInfo fi) {
        return 0;
    }

    @Override
    public int release(String path, FuseFileInfo fi) {
        return 0;
    }

    // ================================================================ control files

    private int readControl(long fh, long buf, long size, long offset) {
        String text;
        if (fh == FH_STATUS) {
            text = status.get();
        } else if (isKnob(fh)) {
            text = knobs.get(Knob.values()[(int) (fh - FH_KNOB)]) + "\n";
        } else if (isCounter(fh)) {
            Counter c = Counter.values()[(int) (fh - FH_COUNTER)];
            store.refreshGauges(); // the pool's figures live in the pool
            text = store.counters().get(c) + "\n";
        } else {
            return -ErrorCodes.EBADF();
        }
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        if (offset >= bytes.length) {
            return 0;
        }
        int n = (int) Math.min(size, bytes.length - offset);
        MEMORY.putByteArray(buf, bytes, (int) offset, n);
        return n;
    }

    private int writeControl(long fh, long buf, long size, long offset) {
        if (!isKnob(fh)) {
            return -ErrorCodes.EACCES();
        }
        if (offset != 0 || size <= 0 || size > 64) {
            return -ErrorCodes.EINVAL();
        }
        byte[] bytes = new byte[(int) size];
        MEMORY.getByteArray(buf, bytes, 0, bytes.length);
        Knob k = Knob.values()[(int) (fh - FH_KNOB)];
        String refusal = knobs.set(k, new String(bytes, StandardCharsets.US_ASCII));
        if (refusal != null) {
            log.log(System.Logger.Level.WARNING, "refused: " + refusal);
            return -ErrorCodes.EINVAL();
        }
        return (int) size;
    }

    // ================================================================ refused

    @Override
    public int create(String path, @jnr.ffi.types.mode_t long mode, FuseFileInfo fi) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int mkdir(String path, @jnr.ffi.types.mode_t long mode) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int unlink(String path) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int rmdir(String path) {
        return -ErrorCodes.EPERM();
    }

    @Override
    public int rename(String oldpath, String newpath) {
        return -ErrorCodes.EPERM();
    }

    private int fail(String what, RuntimeException e) {
        log.log(System.Logger.Level.ERROR, what + " failed", e);
        return -ErrorCodes.EIO();
    }
}
