package ramswap.fuse;

import jnr.ffi.LibraryLoader;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;

/**
 * The calls of libfuse 3's low-level API that the daemon makes (Debian's {@code libfuse3-3},
 * 3.14), bound with jnr-ffi. Every argument is a plain address or number, so that a call on the
 * data path allocates nothing; the replies save no errno ({@code @IgnoreError}): their result is
 * not read, a reply to a request the kernel has dropped is harmless.
 *
 * <p>The layouts below are libfuse 3.14's on x86-64 and aarch64, printed from its headers by
 * {@code proto/fuse-async/c/layout3.c}.
 */
public interface LibFuse3 {

    long fuse_session_new(long args, long ops, @size_t long opsSize, long userdata);

    int fuse_session_mount(long session, String mountpoint);

    void fuse_session_unmount(long session);

    void fuse_session_destroy(long session);

    int fuse_session_receive_buf(long session, long buf);

    void fuse_session_process_buf(long session, long buf);

    int fuse_session_exited(long session);

    void fuse_session_exit(long session);

    void fuse_opt_free_args(long args);

    @IgnoreError
    int fuse_reply_err(long req, int errno);

    @IgnoreError
    int fuse_reply_buf(long req, long buf, @size_t long size);

    @IgnoreError
    int fuse_reply_write(long req, @size_t long count);

    @IgnoreError
    int fuse_reply_attr(long req, long stat, double attrTimeout);

    @IgnoreError
    int fuse_reply_entry(long req, long entryParam);

    @IgnoreError
    int fuse_reply_statfs(long req, long statvfs);

    @IgnoreError
    @size_t
    long fuse_add_direntry(long req, long buf, @size_t long bufSize, String name, long stat, @off_t long nextOffset);

    // ================================================================ layouts (libfuse 3.14)

    /** {@code struct fuse_lowlevel_ops}: 44 function pointers. */
    int OPS_BYTES = 352;

    /** {@code struct fuse_file_info}: {@code int flags} at 0, {@code uint64_t fh} at 16. */
    int FILE_INFO_FLAGS = 0;

    int FILE_INFO_FH = 16;

    /** {@code struct fuse_entry_param}: ino, generation, struct stat attr, attr and entry timeouts. */
    int ENTRY_BYTES = 176;

    int ENTRY_INO = 0;
    int ENTRY_ATTR = 16;
    int ENTRY_ATTR_TIMEOUT = 160;
    int ENTRY_ENTRY_TIMEOUT = 168;

    /** {@code struct fuse_conn_info}, the fields {@code init} sets. */
    int CONN_MAX_WRITE = 8;

    int CONN_MAX_READ = 12;
    int CONN_CAPABLE = 20;
    int CONN_WANT = 24;
    int CONN_MAX_BACKGROUND = 28;
    int CONN_CONGESTION_THRESHOLD = 32;

    /** {@code struct fuse_buf}: size, flags, mem, fd, pos. */
    int BUF_BYTES = 40;

    int BUF_SIZE = 0;
    int BUF_FLAGS = 8;
    int BUF_MEM = 16;
    int BUF_FD = 24;
    int BUF_POS = 32;

    /** {@code struct stat} and {@code struct statvfs}: their fields are written through jnr-fuse's layouts. */
    int STAT_BYTES = 144;

    int STATVFS_BYTES = 112;

    /** {@code struct fuse_args}: argc, argv, allocated. */
    int ARGS_BYTES = 24;

    /**
     * libfuse 3 reads each request with a buffer of its session's size, 256 pages and a header
     * until INIT lowers it to max_write and the header (fuse_lowlevel.c, fuse_session_new and
     * do_init): a buffer handed to {@code fuse_session_receive_buf} must be at least this large.
     */
    long RECEIVE_BUFFER_BYTES = 256 * 4096 + 4096;

    /** libfuse 3's capability bits ({@code FUSE_CAP_*} of fuse_common.h) that the daemon asks for or drops. */
    int CAP_ATOMIC_O_TRUNC = 1 << 3;

    int CAP_ASYNC_DIO = 1 << 15;

    /** {@code struct fuse_open_out}'s flags (linux/fuse.h): the kernel's own bits, sent in a raw open reply. */
    int FOPEN_DIRECT_IO = 1;

    int FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6;

    /** {@code FUSE_SET_ATTR_SIZE}: setattr's {@code to_set} bit for a truncation. */
    int SET_ATTR_SIZE = 1 << 3;

    /** Loads libfuse 3 ({@code libfuse3.so.3}; the unversioned name exists only with the -dev package). */
    static LibFuse3 load() {
        try {
            return LibraryLoader.create(LibFuse3.class).failImmediately().load("libfuse3.so.3");
        } catch (LinkageError | RuntimeException e) {
            return LibraryLoader.create(LibFuse3.class).failImmediately().load("fuse3");
        }
    }
}
