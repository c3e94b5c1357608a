package ramswap.fuse;

import static ramswap.store.BlockCodec.BLOCK_SIZE;

import com.kenai.jffi.MemoryIO;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.provider.ClosureManager;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ramswap.store.Counter;
import ramswap.store.IoResult;
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
 * (zram's valid_io_request); a store result becomes an errno in one place ({@link #errno}), and an
 * exception becomes EIO in one place per callback. The control files beside the swap file
 * ({@code status}, {@code ramster/}, {@code stats/}) are {@link ControlFiles}'.
 *
 * <p>The swap file is told apart by its file handle, not its path, so the data path compares no
 * strings. Requests are all or nothing: a write answers its full size or an errno, never a short
 * count, since a loop device in direct-I/O mode completes a short write as success.
 */
public final class SwapFileSystem extends FuseStubFS {

    public static final String SWAPFILE = "swapfile";
    public static final String STATUS = ControlFiles.STATUS;
    public static final String KNOB_DIR = ControlFiles.KNOB_DIR;
    public static final String COUNTER_DIR = ControlFiles.COUNTER_DIR;

    private static final long FH_SWAPFILE = 1;
    private static final int O_ACCMODE = 3;

    private final SwapStore store;
    private final ControlFiles controls;
    private final long startSeconds = System.currentTimeMillis() / 1000;
    private final ThreadLocal<byte[]> requestBuffer =
            ThreadLocal.withInitial(() -> new byte[SwapStore.MAX_REQUEST_BYTES]);
    private final System.Logger log = System.getLogger(SwapFileSystem.class.getName());
    /** Reads, writes and fallocates taken up: the progress a stall watch looks for. */
    private final AtomicLong taken = new AtomicLong();

    public SwapFileSystem(SwapStore store, Knobs knobs, Supplier<String> status) {
        this.store = store;
        this.controls = new ControlFiles(store, knobs, status);
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
    private static final long FH_OFFSET = FuseFileInfo.of(Pointer.wrap(jnr.ffi.Runtime.getSystemRuntime(), 0L))
            .fh
            .offset();

    // held here: the native side has only their addresses, and a collected closure would be a dangling pointer
    private final DataCallback readCallback = this::read;
    private final DataCallback writeCallback = this::write;
    private final FallocateCallback fallocateCallback = this::fallocate;

    private void installDataCallbacks() {
        ClosureManager closures = jnr.ffi.Runtime.getSystemRuntime().getClosureManager();
        Pointer ops =
                Struct.getMemory(fuseOperations, jnr.ffi.provider.ParameterFlags.DIRECT); // the memory libfuse is given
        ops.putPointer(fuseOperations.read.offset(), closures.getClosurePointer(DataCallback.class, readCallback));
        ops.putPointer(fuseOperations.write.offset(), closures.getClosurePointer(DataCallback.class, writeCallback));
        ops.putPointer(
                fuseOperations.fallocate.offset(),
                closures.getClosurePointer(FallocateCallback.class, fallocateCallback));
    }

    /** Data requests taken up so far (read, write, fallocate); grows while the serving threads make progress. */
    public long requestsTaken() {
        return taken.get();
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

    /**
     * Mounts on {@code dir} with libfuse's {@code options} and serves it from {@code threads}
     * threads of {@link ServingThreads}, instead of jnr-fuse's {@code fuse_main}, whose
     * multi-threaded loop starts threads while serving.
     */
    ServingThreads serve(Path dir, List<String> options, int threads) throws IOException {
        if (!mounted.compareAndSet(false, true)) {
            throw new IOException("already mounted on " + mountPoint);
        }
        mountPoint = dir;
        List<String> args =
                new ArrayList<>(List.of(getFSName(), "-f", dir.toAbsolutePath().toString()));
        args.addAll(options);
        try {
            ServingThreads serving = ServingThreads.start(
                    fuseOperations, Struct.size(fuseOperations), args.toArray(String[]::new), threads, dir);
            // as jnr-fuse's mount does: a JVM that exits without closing the mount still unmounts
            Runtime.getRuntime().addShutdownHook(new Thread(this::umount, "ramswap-unmount"));
            return serving;
        } catch (IOException | RuntimeException e) {
            mounted.set(false);
            throw e;
        }
    }

    /** What a path names: the swap file, a control file or directory, or {@link ControlFiles#NOT_FOUND}. */
    private static long resolve(String path) {
        return path.equals("/" + SWAPFILE) ? FH_SWAPFILE : ControlFiles.resolve(path);
    }

    // ================================================================ metadata

    @Override
    public int getattr(String path, FileStat stat) {
        try {
            long what = resolve(path);
            if (what == ControlFiles.NOT_FOUND) {
                return -ErrorCodes.ENOENT();
            }
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
            return 0;
        } catch (RuntimeException e) {
            return fail("getattr " + path, e);
        }
    }

    @Override
    public int readdir(String path, Pointer buf, FuseFillDir filter, @off_t long offset, FuseFileInfo fi) {
        try {
            long what = resolve(path);
            if (what == ControlFiles.NOT_FOUND) {
                return -ErrorCodes.ENOENT();
            }
            if (what >= 0) {
                return -ErrorCodes.ENOTDIR();
            }
            filter.apply(buf, ".", null, 0);
            filter.apply(buf, "..", null, 0);
            if (what == ControlFiles.DIR_ROOT) {
                filter.apply(buf, SWAPFILE, null, 0);
            }
            ControlFiles.list(what, name -> filter.apply(buf, name, null, 0));
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
            st.f_files.set(1 + ControlFiles.count());
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
            if (what == ControlFiles.NOT_FOUND) {
                return -ErrorCodes.ENOENT();
            }
            if (what != FH_SWAPFILE) {
                int refusal = ControlFiles.open(what, (fi.flags.get() & O_ACCMODE) != Posix.O_RDONLY);
                if (refusal != 0) {
                    return refusal;
                }
                fi.fh.set(controls.handleFor(what));
                return 0;
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
        return resize(ControlFiles.what(fi.fh.get()), size);
    }

    /** The swap file's size is fixed at start. */
    private int resize(long what, long size) {
        if (what == ControlFiles.NOT_FOUND) {
            return -ErrorCodes.ENOENT();
        }
        if (what == FH_SWAPFILE) {
            return size == store.sizeBytes() ? 0 : -ErrorCodes.EPERM();
        }
        return ControlFiles.resize(what);
    }

    // ================================================================ data

    /** The one mapping from a store result to what FUSE answers: 0 or a negative errno. */
    static int errno(IoResult result) {
        return switch (result) {
            case DONE -> 0;
            case POOL_LIMIT, RESERVE_EMPTY -> -ErrorCodes.ENOSPC();
            case CORRUPT, REMOTE_FAILED -> -ErrorCodes.EIO();
        };
    }

    private int read(long path, long buf, long size, long offset, long fileInfo) {
        long fh = fileHandle(fileInfo);
        taken.incrementAndGet(); // counted as it starts: a request that never ends is what a stall is
        try {
            if (fh == FH_SWAPFILE) {
                return readSwap(buf, size, offset);
            }
            return controls.read(fh, buf, size, offset);
        } catch (RuntimeException e) {
            return fail("read " + path(path), e);
        }
    }

    /** A read of the swap file: its bytes, fewer only at the end of the file, or an errno. */
    int readSwap(long buf, long size, long offset) {
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
        byte[] chunk = requestBuffer.get();
        IoResult result = store.read(chunk, 0, offset, (int) total);
        if (result != IoResult.DONE) {
            return errno(result);
        }
        MEMORY.putByteArray(buf, chunk, 0, (int) total);
        return (int) total;
    }

    private int write(long path, long buf, long size, long offset, long fileInfo) {
        long fh = fileHandle(fileInfo);
        taken.incrementAndGet();
        try {
            if (fh == FH_SWAPFILE) {
                return writeSwap(buf, size, offset);
            }
            return controls.write(fh, buf, size, offset);
        } catch (RuntimeException e) {
            return fail("write " + path(path), e);
        }
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
        byte[] chunk = requestBuffer.get();
        MEMORY.getByteArray(buf, chunk, 0, (int) size);
        IoResult result = store.write(chunk, 0, offset, (int) size);
        return result == IoResult.DONE ? (int) size : errno(result);
    }

    private int fallocate(long path, int mode, long offset, long length, long fileInfo) {
        taken.incrementAndGet();
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
            return errno(store.discard(offset, length));
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
        try {
            controls.released(fi.fh.get());
            return 0;
        } catch (RuntimeException e) {
            return fail("release " + path, e);
        }
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
