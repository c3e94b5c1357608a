package ramswap.fuse;

import jnr.ffi.Runtime;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.provider.ClosureManager;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ramswap.sys.OffHeap;

/**
 * libfuse 3's {@code struct fuse_lowlevel_ops}, filled with Java callbacks: the raw edge between
 * the kernel's requests and {@link SwapFileSystem}. A callback decodes its C arguments (plain
 * addresses and numbers, so that it allocates nothing) and hands the request to the file system,
 * which answers it with exactly one {@code fuse_reply_*}.
 *
 * <p>One catch per callback: jffi swallows an exception that leaves a callback, and a request left
 * unanswered hangs its loop device for good. The file system replies as its last step, so an
 * exception always comes before the reply, and the catch answers EIO in its place.
 *
 * <p>The operations left empty are answered by libfuse itself: forget needs no reply (the inodes
 * are a fixed table), opendir and releasedir succeed, the rest are ENOSYS.
 */
final class LowLevelOps {

    // offsets in struct fuse_lowlevel_ops (libfuse 3.14, see LibFuse3)
    private static final int OP_INIT = 0;
    private static final int OP_LOOKUP = 2;
    private static final int OP_GETATTR = 4;
    private static final int OP_SETATTR = 5;
    private static final int OP_MKNOD = 7;
    private static final int OP_MKDIR = 8;
    private static final int OP_UNLINK = 9;
    private static final int OP_RMDIR = 10;
    private static final int OP_SYMLINK = 11;
    private static final int OP_RENAME = 12;
    private static final int OP_LINK = 13;
    private static final int OP_OPEN = 14;
    private static final int OP_READ = 15;
    private static final int OP_WRITE = 16;
    private static final int OP_FLUSH = 17;
    private static final int OP_RELEASE = 18;
    private static final int OP_FSYNC = 19;
    private static final int OP_READDIR = 21;
    private static final int OP_STATFS = 24;
    private static final int OP_CREATE = 30;
    private static final int OP_FALLOCATE = 40;

    public interface Init {
        @Delegate
        void call(long userdata, long conn);
    }

    public interface Lookup {
        @Delegate
        void call(long req, long parent, long name);
    }

    public interface OnFile {
        @Delegate
        void call(long req, long ino, long fileInfo);
    }

    public interface Setattr {
        @Delegate
        void call(long req, long ino, long stat, int toSet, long fileInfo);
    }

    public interface Read {
        @Delegate
        void call(long req, long ino, @size_t long size, @off_t long offset, long fileInfo);
    }

    public interface Write {
        @Delegate
        void call(long req, long ino, long buf, @size_t long size, @off_t long offset, long fileInfo);
    }

    public interface Fsync {
        @Delegate
        void call(long req, long ino, int datasync, long fileInfo);
    }

    public interface Statfs {
        @Delegate
        void call(long req, long ino);
    }

    public interface Fallocate {
        @Delegate
        void call(long req, long ino, int mode, @off_t long offset, @off_t long length, long fileInfo);
    }

    /**
     * The operations that create, remove or rename names. They are all refused, so only the
     * request is read; the C caller's further arguments are left unread in their registers, which
     * the x86-64 and aarch64 calling conventions allow.
     */
    public interface Refused {
        @Delegate
        void call(long req);
    }

    private final SwapFileSystem fs;
    private final long ops;

    // held here: libfuse has only their addresses, and a collected closure would be a dangling pointer
    private final Init init = this::init;
    private final Lookup lookup = this::lookup;
    private final OnFile getattr = this::getattr;
    private final Setattr setattr = this::setattr;
    private final OnFile open = this::open;
    private final Read read = this::read;
    private final Write write = this::write;
    private final OnFile flush = this::flush;
    private final OnFile release = this::release;
    private final Fsync fsync = this::fsync;
    private final Read readdir = this::readdir;
    private final Statfs statfs = this::statfs;
    private final Fallocate fallocate = this::fallocate;
    private final Refused refused = this::refused;

    LowLevelOps(SwapFileSystem fs) {
        this.fs = fs;
        this.ops = OffHeap.allocate(LibFuse3.OPS_BYTES);
        OffHeap.setMemory(ops, LibFuse3.OPS_BYTES, (byte) 0);
        ClosureManager closures = Runtime.getSystemRuntime().getClosureManager();
        put(OP_INIT, closures.getClosurePointer(Init.class, init).address());
        put(OP_LOOKUP, closures.getClosurePointer(Lookup.class, lookup).address());
        put(OP_GETATTR, closures.getClosurePointer(OnFile.class, getattr).address());
        put(OP_SETATTR, closures.getClosurePointer(Setattr.class, setattr).address());
        put(OP_OPEN, closures.getClosurePointer(OnFile.class, open).address());
        put(OP_READ, closures.getClosurePointer(Read.class, read).address());
        put(OP_WRITE, closures.getClosurePointer(Write.class, write).address());
        put(OP_FLUSH, closures.getClosurePointer(OnFile.class, flush).address());
        put(OP_RELEASE, closures.getClosurePointer(OnFile.class, release).address());
        put(OP_FSYNC, closures.getClosurePointer(Fsync.class, fsync).address());
        put(OP_READDIR, closures.getClosurePointer(Read.class, readdir).address());
        put(OP_STATFS, closures.getClosurePointer(Statfs.class, statfs).address());
        put(OP_FALLOCATE, closures.getClosurePointer(Fallocate.class, fallocate).address());
        long refuse = closures.getClosurePointer(Refused.class, refused).address();
        for (int op : new int[] {OP_MKNOD, OP_MKDIR, OP_UNLINK, OP_RMDIR, OP_SYMLINK, OP_RENAME, OP_LINK, OP_CREATE}) {
            put(op, refuse);
        }
    }

    private void put(int op, long function) {
        OffHeap.putLong(ops + 8L * op, function);
    }

    /** The struct's address, for {@code fuse_session_new}, which copies it. */
    long address() {
        return ops;
    }

    private static long fileHandle(long fileInfo) {
        return fileInfo == 0 ? 0 : OffHeap.getLong(fileInfo + LibFuse3.FILE_INFO_FH);
    }

    // ================================================================ the callbacks

    private void init(long userdata, long conn) {
        try {
            fs.init(conn);
        } catch (RuntimeException | Error e) {
            // libfuse answers INIT itself after this; the defaults it keeps still mount
            fs.log(System.Logger.Level.ERROR, "init failed", e);
        }
    }

    private void lookup(long req, long parent, long name) {
        try {
            fs.lookup(req, parent, name);
        } catch (RuntimeException | Error e) {
            fs.failed(req, "lookup", e);
        }
    }

    private void getattr(long req, long ino, long fileInfo) {
        try {
            fs.getattr(req, ino);
        } catch (RuntimeException | Error e) {
            fs.failed(req, "getattr", e);
        }
    }

    private void setattr(long req, long ino, long stat, int toSet, long fileInfo) {
        try {
            fs.setattr(req, ino, stat, toSet);
        } catch (RuntimeException | Error e) {
            fs.failed(req, "setattr", e);
        }
    }

    private void open(long req, long ino, long fileInfo) {
        try {
            fs.open(req, ino, OffHeap.getInt(fileInfo + LibFuse3.FILE_INFO_FLAGS));
        } catch (RuntimeException | Error e) {
            fs.failed(req, "open", e);
        }
    }

    private void read(long req, long ino, long size, long offset, long fileInfo) {
        try {
            fs.read(req, ino, size, offset, fileHandle(fileInfo));
        } catch (RuntimeException | Error e) {
            fs.failed(req, "read", e);
        }
    }

    private void write(long req, long ino, long buf, long size, long offset, long fileInfo) {
        try {
            fs.write(req, ino, buf, size, offset, fileHandle(fileInfo));
        } catch (RuntimeException | Error e) {
            fs.failed(req, "write", e);
        }
    }

    private void flush(long req, long ino, long fileInfo) {
        fs.done(req); // every write is complete in memory when it is answered
    }

    private void release(long req, long ino, long fileInfo) {
        try {
            fs.release(req, fileHandle(fileInfo));
        } catch (RuntimeException | Error e) {
            fs.failed(req, "release", e);
        }
    }

    private void fsync(long req, long ino, int datasync, long fileInfo) {
        fs.done(req);
    }

    private void readdir(long req, long ino, long size, long offset, long fileInfo) {
        try {
            fs.readdir(req, ino, size, offset);
        } catch (RuntimeException | Error e) {
            fs.failed(req, "readdir", e);
        }
    }

    private void statfs(long req, long ino) {
        try {
            fs.statfs(req);
        } catch (RuntimeException | Error e) {
            fs.failed(req, "statfs", e);
        }
    }

    private void fallocate(long req, long ino, int mode, long offset, long length, long fileInfo) {
        try {
            fs.fallocate(req, ino, mode, offset, length);
        } catch (RuntimeException | Error e) {
            fs.failed(req, "fallocate", e);
        }
    }

    private void refused(long req) {
        fs.refuse(req);
    }
}
