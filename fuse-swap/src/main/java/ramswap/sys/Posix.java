package ramswap.sys;

import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.annotations.SaveError;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import jnr.ffi.types.ssize_t;

/**
 * The few libc calls the JDK does not offer: anonymous mappings for the pool, memory locking,
 * process flags, and raw file I/O with {@code fallocate} for tests and tools.
 */
public interface Posix {

    int PROT_NONE = 0x0;
    int PROT_READ = 0x1;
    int PROT_WRITE = 0x2;
    int MAP_PRIVATE = 0x02;
    int MAP_ANONYMOUS = 0x20;
    int MAP_NORESERVE = 0x4000;
    int MAP_POPULATE = 0x8000;
    long MAP_FAILED = -1L;

    int MADV_DONTNEED = 4;
    /** Like MADV_DONTNEED, but also on locked memory (Linux 5.18). */
    int MADV_DONTNEED_LOCKED = 24;

    int MCL_CURRENT = 1;
    int MCL_FUTURE = 2;
    int MCL_ONFAULT = 4;
    /** mlock2: lock each page as it is first touched, populate nothing now (Linux 4.4). */
    int MLOCK_ONFAULT = 1;

    int PR_SET_IO_FLUSHER = 57;
    int PR_GET_IO_FLUSHER = 58;

    int O_RDONLY = 0;
    int O_RDWR = 2;
    int O_CREAT = 0100;
    int O_DIRECT = 040000;

    int FALLOC_FL_KEEP_SIZE = 0x01;
    int FALLOC_FL_PUNCH_HOLE = 0x02;
    int FALLOC_FL_ZERO_RANGE = 0x10;

    @SaveError
    long mmap(jnr.ffi.Pointer addr, @size_t long length, int prot, int flags, int fd, @off_t long offset);

    @SaveError
    int munmap(long addr, @size_t long length);

    @SaveError
    int madvise(long addr, @size_t long length, int advice);

    /** Fills native memory; the pool's grower touches new slabs with it, in native code (see LocalPool). */
    @IgnoreError
    long memset(long addr, int value, @size_t long length);

    @SaveError
    int mlockall(int flags);

    @SaveError
    int mprotect(long addr, @size_t long length, int prot);

    @SaveError
    int mlock2(long addr, @size_t long length, int flags);

    /** Takes a range out of {@code mlockall}'s lock; its pages stay where they are until reclaimed. */
    @SaveError
    int munlock(long addr, @size_t long length);

    @SaveError
    int prctl(int option, long arg2, long arg3, long arg4, long arg5);

    int PRIO_PROCESS = 0;

    @IgnoreError
    int geteuid();

    /** Nice value of a thread (who = tid, 0 = the calling thread); inherited by threads it starts. */
    @SaveError
    int setpriority(int which, int who, int prio);

    @SaveError
    int open(String path, int flags, int mode);

    /** {@code open} of a C string at a native address: no conversion, so no allocation. */
    @SaveError
    int open(long path, int flags, int mode);

    @SaveError
    @ssize_t
    long read(int fd, long buf, @size_t long count);

    @SaveError
    int close(int fd);

    @SaveError
    @ssize_t
    long pread(int fd, byte[] buf, @size_t long count, @off_t long offset);

    @SaveError
    @ssize_t
    long pwrite(int fd, byte[] buf, @size_t long count, @off_t long offset);

    @SaveError
    int fallocate(int fd, int mode, @off_t long offset, @off_t long len);

    @SaveError
    int fsync(int fd);

    int POSIX_FADV_DONTNEED = 4;

    /** Returns the error number itself (0 on success), not -1 and errno. */
    @IgnoreError
    int posix_fadvise(int fd, @off_t long offset, @off_t long len, int advice);

    /** Loads libc; each caller keeps its own instance (no static state). */
    static Posix load() {
        return LibraryLoader.create(Posix.class).load("c");
    }

    /** errno of the last failed call on this thread. */
    static int lastErrno() {
        return jnr.ffi.Runtime.getSystemRuntime().getLastError();
    }

    /** A readable text for errno. */
    static String describe(int errno) {
        jnr.constants.platform.Errno e = jnr.constants.platform.Errno.valueOf(errno);
        return e == null ? "errno " + errno : e.name() + " (" + e.description() + ")";
    }
}
