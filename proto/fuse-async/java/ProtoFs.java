import com.kenai.jffi.MemoryIO;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import jnr.ffi.LibraryLoader;
import jnr.ffi.LibraryOption;
import jnr.ffi.Pointer;
import jnr.ffi.Struct;
import jnr.ffi.annotations.Delegate;
import jnr.ffi.annotations.IgnoreError;
import jnr.ffi.provider.ClosureManager;
import jnr.ffi.types.off_t;
import jnr.ffi.types.size_t;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.FuseStubFS;
import ru.serce.jnrfuse.struct.FileStat;
import ru.serce.jnrfuse.struct.FuseFileInfo;

/**
 * Prototype: one file "swapfile" held in native memory, served three ways.
 *
 *   java ProtoFs MODE MOUNTPOINT SIZE_MIB DELAY_MS READ_LO READ_HI WRITE_LO WRITE_HI
 *
 * MODE hl1  - jnr-fuse high-level, one thread (-s): today's ramswap.
 *      hlmt - jnr-fuse high-level, libfuse's multi-threaded loop; a delayed request sleeps in its thread.
 *      ll   - libfuse 2 low-level API bound with jnr-ffi, one loop thread; a delayed request is
 *             answered later from another thread (fuse_reply_buf / fuse_reply_write).
 *      llp  - ll, and the open reply carries FOPEN_PARALLEL_DIRECT_WRITES (sent with fuse_reply_buf,
 *             since libfuse 2's fuse_reply_open cannot say it): direct writes take the inode lock shared.
 *      lla  - ll, and the INIT reply carries FUSE_ASYNC_DIO (patched on its way out, see asyncDio):
 *             a loop device's direct I/O no longer waits for one reply before sending the next request.
 *      llpa - both.
 *      ll3  - ll on libfuse 3 (Debian 12: libfuse3-3, 3.14), which negotiates FUSE_ASYNC_DIO itself.
 * Reads at offsets in [READ_LO, READ_HI) and writes at offsets in [WRITE_LO, WRITE_HI) are answered
 * DELAY_MS late: the stand-in for a remote fetch (and, for writes, a test of the kernel's inode lock).
 */
public final class ProtoFs {

    static final MemoryIO MEM = MemoryIO.getInstance();
    static final long INO_ROOT = 1, INO_FILE = 2;

    final long size;
    final long data; // the file's bytes
    final long delayMs, readLo, readHi, writeLo, writeHi;
    final AtomicLong delayed = new AtomicLong(), served = new AtomicLong();

    ProtoFs(long size, long delayMs, long readLo, long readHi, long writeLo, long writeHi) {
        this.size = size;
        this.data = MEM.allocateMemory(size, true);
        this.delayMs = delayMs;
        this.readLo = readLo;
        this.readHi = readHi;
        this.writeLo = writeLo;
        this.writeHi = writeHi;
    }

    boolean delays(boolean write, long off) {
        return delayMs > 0 && (write ? off >= writeLo && off < writeHi : off >= readLo && off < readHi);
    }

    public static void main(String[] a) throws Exception {
        String mode = a[0];
        Path mnt = Path.of(a[1]);
        ProtoFs fs = new ProtoFs(Long.parseLong(a[2]) << 20, Long.parseLong(a[3]), Long.parseLong(a[4]), Long.parseLong(a[5]),
                Long.parseLong(a[6]), Long.parseLong(a[7]));
        switch (mode) {
            case "hl1", "hlmt" -> new HighLevel(fs).serve(mnt, mode.equals("hl1"));
            case "ll", "llp", "lla", "llpa" -> new LowLevel(fs, mode.contains("p"), mode.contains("a")).serve(mnt);
            case "ll3", "ll3p" -> new LowLevel3(fs, mode.contains("p")).serve(mnt);
            default -> throw new IllegalArgumentException(mode);
        }
        System.out.println("served " + fs.served.get() + " delayed " + fs.delayed.get());
    }

    static long allocatedBytes() {
        return ((com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean()).getCurrentThreadAllocatedBytes();
    }

    static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ================================================================ (today, b) high level through jnr-fuse

    /** The data callbacks as raw closures, installed into struct fuse_operations as ramswap's SwapFileSystem does. */
    public interface DataCallback {
        @Delegate
        int call(long path, long buf, @size_t long size, @off_t long offset, long fileInfo);
    }

    static final class HighLevel extends FuseStubFS {
        final ProtoFs fs;
        final DataCallback read = this::read, write = this::write;

        HighLevel(ProtoFs fs) {
            this.fs = fs;
            ClosureManager closures = jnr.ffi.Runtime.getSystemRuntime().getClosureManager();
            Pointer ops = Struct.getMemory(fuseOperations, jnr.ffi.provider.ParameterFlags.DIRECT);
            ops.putPointer(fuseOperations.read.offset(), closures.getClosurePointer(DataCallback.class, read));
            ops.putPointer(fuseOperations.write.offset(), closures.getClosurePointer(DataCallback.class, write));
        }

        void serve(Path mnt, boolean single) {
            String o = "fsname=proto,subtype=proto,direct_io,big_writes,max_write=131072,max_read=131072,allow_other";
            System.out.println("READY " + ProcessHandle.current().pid());
            // blocking: returns when the file system is unmounted
            long before = allocatedBytes();
            mount(mnt, true, false, single ? new String[] {"-s", "-o", o} : new String[] {"-o", o});
            // with -s libfuse's loop runs in this thread, so this is what serving allocated
            System.out.println("mount thread allocated " + (allocatedBytes() - before) + " bytes");
        }

        @Override
        public int getattr(String path, FileStat stat) {
            if (path.equals("/")) {
                stat.st_mode.set(FileStat.S_IFDIR | 0755);
                stat.st_nlink.set(2);
                return 0;
            }
            if (path.equals("/swapfile")) {
                stat.st_mode.set(FileStat.S_IFREG | 0600);
                stat.st_nlink.set(1);
                stat.st_size.set(fs.size);
                return 0;
            }
            return -ErrorCodes.ENOENT();
        }

        @Override
        public int open(String path, FuseFileInfo fi) {
            return path.equals("/swapfile") ? 0 : -ErrorCodes.ENOENT();
        }

        int read(long path, long buf, long size, long off, long fi) {
            if (off >= fs.size) return 0;
            long n = Math.min(size, fs.size - off);
            if (fs.delays(false, off)) {
                fs.delayed.incrementAndGet();
                sleep(fs.delayMs); // the serving thread blocks on its "fetch"
            }
            MEM.copyMemory(fs.data + off, buf, n);
            fs.served.incrementAndGet();
            return (int) n;
        }

        int write(long path, long buf, long size, long off, long fi) {
            if (size > fs.size - off) return -ErrorCodes.ENOSPC();
            MEM.copyMemory(buf, fs.data + off, size);
            if (fs.delays(true, off)) {
                fs.delayed.incrementAndGet();
                sleep(fs.delayMs);
            }
            fs.served.incrementAndGet();
            return (int) size;
        }
    }

    // ================================================================ (a) low level through jnr-ffi

    /** The libfuse 2.9 calls the low-level mount needs (FUSE_USE_VERSION 26 symbols are the defaults). */
    public interface LibFuse {
        long fuse_mount(String mountpoint, long args); // struct fuse_chan *
        void fuse_unmount(String mountpoint, long ch);
        long fuse_lowlevel_new(long args, long ops, @size_t long opSize, long userdata); // struct fuse_session *
        void fuse_session_add_chan(long se, long ch);
        void fuse_session_remove_chan(long ch);
        int fuse_session_loop(long se);
        int fuse_chan_fd(long ch);
        void fuse_session_exit(long se);
        void fuse_session_destroy(long se);
        @IgnoreError int fuse_reply_err(long req, int err);
        @IgnoreError int fuse_reply_buf(long req, long buf, @size_t long size);
        @IgnoreError int fuse_reply_write(long req, @size_t long count);
        @IgnoreError int fuse_reply_attr(long req, long stat, double attrTimeout);
        @IgnoreError int fuse_reply_entry(long req, long entryParam);
        @IgnoreError int fuse_reply_open(long req, long fileInfo);
        @IgnoreError void fuse_reply_none(long req);
    }

    public interface LookupOp { @Delegate void call(long req, long parent, long name); }
    public interface GetattrOp { @Delegate void call(long req, long ino, long fi); }
    public interface OpenOp { @Delegate void call(long req, long ino, long fi); }
    public interface ReadOp { @Delegate void call(long req, long ino, @size_t long size, @off_t long off, long fi); }
    public interface WriteOp { @Delegate void call(long req, long ino, long buf, @size_t long size, @off_t long off, long fi); }
    /** {@code send} of {@code struct fuse_chan_ops}. */
    public interface SendOp { @Delegate int call(long ch, long iov, @size_t long count); }

    public interface LibC {
        @IgnoreError long writev(int fd, long iov, int count);
    }

    static class LowLevel {
        // struct fuse_lowlevel_ops: 41 pointers in libfuse 2.9 (checked by c/layout.c)
        static final int OPS_SIZE = 328, OP_LOOKUP = 2, OP_GETATTR = 4, OP_OPEN = 14, OP_READ = 15, OP_WRITE = 16;
        static final int STAT_SIZE = 144, ST_INO = 8, ST_NLINK = 16, ST_MODE = 24, ST_SIZE = 48;
        static final int ENTRY_SIZE = 176, ENTRY_ATTR = 16, ENTRY_ATTR_TIMEOUT = 160, ENTRY_ENTRY_TIMEOUT = 168;
        static final int FI_BITS = 20; // direct_io is bit 0 of the word at 20 in struct fuse_file_info
        static final int ENOENT = 2, EIO = 5, ENOSPC = 28, EISDIR = 21;

        final ProtoFs fs;
        final LibFuse fuse = library();
        // held here: libfuse has only their addresses
        final LookupOp lookup = this::lookup;
        final GetattrOp getattr = this::getattr;
        final OpenOp open = this::open;
        final ReadOp read = this::read;
        final WriteOp write = this::write;
        final long statBuf = MEM.allocateMemory(STAT_SIZE, true), entryBuf = MEM.allocateMemory(ENTRY_SIZE, true);
        // the stand-in for the network: a reply that comes later, from another thread
        final ScheduledThreadPoolExecutor fetcher = new ScheduledThreadPoolExecutor(1, r -> new Thread(r, "proto-fetch"));

        static final int FOPEN_DIRECT_IO = 1, FOPEN_PARALLEL_DIRECT_WRITES = 1 << 6, FUSE_ASYNC_DIO = 1 << 15;
        static final int CHAN_SEND = 8; // struct fuse_chan starts with its ops: receive, send, destroy (lib/fuse_session.c)
        final boolean parallelWrites, asyncDio;
        final long openOut = MEM.allocateMemory(16, true); // struct fuse_open_out
        final LibC libc = LibraryLoader.create(LibC.class).load("c");
        final SendOp patchInit = this::patchInit;
        long chan, libfuseSend;

        LibFuse library() {
            return LibraryLoader.create(LibFuse.class).option(LibraryOption.IgnoreError, true).load("fuse");
        }

        LowLevel(ProtoFs fs, boolean parallelWrites, boolean asyncDio) {
            this.fs = fs;
            this.parallelWrites = parallelWrites;
            this.asyncDio = asyncDio;
        }

        /**
         * libfuse 2.9 speaks FUSE 7.19 and has no capability bit for FUSE_ASYNC_DIO (7.22). The first
         * message the channel sends is the INIT reply: this send adds the flag to it, puts libfuse's
         * own send back, and writes the message as libfuse would (one writev).
         */
        int patchInit(long ch, long iov, long count) {
            MEM.putAddress(ch + CHAN_SEND, libfuseSend);
            long out = MEM.getAddress(iov + 16); // iov[1].iov_base: struct fuse_init_out
            MEM.putInt(out + 12, MEM.getInt(out + 12) | FUSE_ASYNC_DIO);
            System.out.println("INIT reply flags 0x" + Integer.toHexString(MEM.getInt(out + 12)) + " max_background " + (MEM.getShort(out + 16) & 0xffff));
            return libc.writev(fuse.fuse_chan_fd(ch), iov, (int) count) < 0 ? -5 : 0;
        }

        void serve(Path mnt) throws Exception {
            ClosureManager cm = jnr.ffi.Runtime.getSystemRuntime().getClosureManager();
            long ops = MEM.allocateMemory(OPS_SIZE, true);
            MEM.putAddress(ops + 8L * OP_LOOKUP, cm.getClosurePointer(LookupOp.class, lookup).address());
            MEM.putAddress(ops + 8L * OP_GETATTR, cm.getClosurePointer(GetattrOp.class, getattr).address());
            MEM.putAddress(ops + 8L * OP_OPEN, cm.getClosurePointer(OpenOp.class, open).address());
            MEM.putAddress(ops + 8L * OP_READ, cm.getClosurePointer(ReadOp.class, read).address());
            MEM.putAddress(ops + 8L * OP_WRITE, cm.getClosurePointer(WriteOp.class, write).address());

            // async direct I/O are background requests: a stalled fetch holds one of max_background (12 by default)
            long args = fuseArgs("proto", "-o",
                    "allow_other,fsname=proto,subtype=proto,max_read=131072,max_write=131072,big_writes"
                            + (asyncDio ? ",max_background=1024,congestion_threshold=1000" : ""));
            String mp = mnt.toString();
            long ch = fuse.fuse_mount(mp, args);
            if (ch == 0) throw new IllegalStateException("fuse_mount failed");
            if (asyncDio) {
                libfuseSend = MEM.getAddress(ch + CHAN_SEND);
                MEM.putAddress(ch + CHAN_SEND, cm.getClosurePointer(SendOp.class, patchInit).address());
            }
            long se = fuse.fuse_lowlevel_new(args, ops, OPS_SIZE, 0);
            if (se == 0) {
                fuse.fuse_unmount(mp, ch);
                throw new IllegalStateException("fuse_lowlevel_new failed");
            }
            fuse.fuse_session_add_chan(se, ch);
            System.out.println("READY " + ProcessHandle.current().pid());
            // no fuse_set_signal_handlers: it would take SIGINT/SIGTERM from the JVM. The loop ends when
            // the mount goes away (fusermount -u: read on /dev/fuse answers ENODEV).
            long before = allocatedBytes();
            int rc = fuse.fuse_session_loop(se);
            System.out.println("loop thread allocated " + (allocatedBytes() - before) + " bytes");
            System.out.println("loop ended rc=" + rc);
            // no reply may follow fuse_session_destroy: drain the outstanding ones first
            fetcher.shutdown();
            fetcher.awaitTermination(10, TimeUnit.SECONDS);
            fuse.fuse_session_remove_chan(ch);
            fuse.fuse_session_destroy(se);
            fuse.fuse_unmount(mp, ch); // closes /dev/fuse; the mount is already gone
        }

        boolean rawOpenReply() {
            return false;
        }

        static long fuseArgs(String... argv) {
            long vec = MEM.allocateMemory(8L * (argv.length + 1), true);
            for (int i = 0; i < argv.length; i++) {
                byte[] b = argv[i].getBytes(StandardCharsets.UTF_8);
                long s = MEM.allocateMemory(b.length + 1, true);
                MEM.putZeroTerminatedByteArray(s, b, 0, b.length);
                MEM.putAddress(vec + 8L * i, s);
            }
            long args = MEM.allocateMemory(24, true);
            MEM.putInt(args, argv.length);
            MEM.putAddress(args + 8, vec);
            MEM.putInt(args + 16, 0); // allocated = 0: libfuse copies before it changes anything
            return args;
        }

        void fillStat(long st, long ino) {
            MEM.setMemory(st, STAT_SIZE, (byte) 0);
            MEM.putLong(st + ST_INO, ino);
            if (ino == INO_ROOT) {
                MEM.putInt(st + ST_MODE, 0040755);
                MEM.putLong(st + ST_NLINK, 2);
            } else {
                MEM.putInt(st + ST_MODE, 0100600);
                MEM.putLong(st + ST_NLINK, 1);
                MEM.putLong(st + ST_SIZE, fs.size);
            }
        }

        void lookup(long req, long parent, long name) {
            String n = new String(MEM.getZeroTerminatedByteArray(name), StandardCharsets.UTF_8);
            if (parent != INO_ROOT || !n.equals("swapfile")) {
                fuse.fuse_reply_err(req, ENOENT);
                return;
            }
            MEM.setMemory(entryBuf, ENTRY_SIZE, (byte) 0);
            MEM.putLong(entryBuf, INO_FILE);
            fillStat(entryBuf + ENTRY_ATTR, INO_FILE);
            MEM.putDouble(entryBuf + ENTRY_ATTR_TIMEOUT, 1.0);
            MEM.putDouble(entryBuf + ENTRY_ENTRY_TIMEOUT, 1.0);
            fuse.fuse_reply_entry(req, entryBuf);
        }

        void getattr(long req, long ino, long fi) {
            if (ino != INO_ROOT && ino != INO_FILE) {
                fuse.fuse_reply_err(req, ENOENT);
                return;
            }
            fillStat(statBuf, ino);
            fuse.fuse_reply_attr(req, statBuf, 1.0);
        }

        void open(long req, long ino, long fi) {
            if (ino != INO_FILE) {
                fuse.fuse_reply_err(req, EISDIR);
                return;
            }
            if (parallelWrites || rawOpenReply()) {
                // fuse_reply_open sends exactly this struct, but only knows direct_io, keep_cache, nonseekable
                MEM.putLong(openOut, 0); // fh
                MEM.putInt(openOut + 8, FOPEN_DIRECT_IO | (parallelWrites ? FOPEN_PARALLEL_DIRECT_WRITES : 0));
                MEM.putInt(openOut + 12, 0);
                fuse.fuse_reply_buf(req, openOut, 16);
                return;
            }
            MEM.putInt(fi + FI_BITS, MEM.getInt(fi + FI_BITS) | 1); // direct_io
            fuse.fuse_reply_open(req, fi);
        }

        void read(long req, long ino, long size, long off, long fi) {
            if (off >= fs.size) {
                fuse.fuse_reply_buf(req, 0, 0);
                return;
            }
            long n = Math.min(size, fs.size - off);
            if (fs.delays(false, off)) {
                fs.delayed.incrementAndGet();
                // answered later from the fetch thread; the loop goes on to the next request
                fetcher.schedule(() -> {
                    fs.served.incrementAndGet();
                    fuse.fuse_reply_buf(req, fs.data + off, n);
                }, fs.delayMs, TimeUnit.MILLISECONDS);
                return;
            }
            fs.served.incrementAndGet();
            fuse.fuse_reply_buf(req, fs.data + off, n); // straight from the store: no copy in Java
        }

        void write(long req, long ino, long buf, long size, long off, long fi) {
            if (size > fs.size - off) {
                fuse.fuse_reply_err(req, ENOSPC);
                return;
            }
            MEM.copyMemory(buf, fs.data + off, size); // buf is libfuse's receive buffer: copy before returning
            if (fs.delays(true, off)) {
                fs.delayed.incrementAndGet();
                fetcher.schedule(() -> {
                    fs.served.incrementAndGet();
                    fuse.fuse_reply_write(req, size);
                }, fs.delayMs, TimeUnit.MILLISECONDS);
                return;
            }
            fs.served.incrementAndGet();
            fuse.fuse_reply_write(req, size);
        }
    }

    // ================================================================ (c) low level through jnr-ffi, libfuse 3

    public interface LibFuse3 {
        long fuse_session_new(long args, long ops, @size_t long opSize, long userdata);
        int fuse_session_mount(long se, String mountpoint);
        int fuse_session_loop(long se);
        void fuse_session_unmount(long se);
        void fuse_session_destroy(long se);
    }

    public interface InitOp { @Delegate void call(long userdata, long conn); }

    /**
     * The same callbacks on libfuse 3.14: only the session calls differ, the reply calls and the first
     * 17 entries of fuse_lowlevel_ops are the same (c/layout3.c). The open reply is sent raw since
     * 3.14's fuse_file_info has another layout and no parallel_direct_writes bit.
     */
    static final class LowLevel3 extends LowLevel {
        static final int OPS3_SIZE = 352, OP_INIT = 0;
        // struct fuse_conn_info (3.14): proto_major, proto_minor, max_write, max_read, max_readahead, capable, want, max_background, congestion_threshold
        static final int CONN_MAX_WRITE = 8, CONN_MAX_READ = 12, CONN_CAPABLE = 20, CONN_WANT = 24, CONN_MAX_BACKGROUND = 28, CONN_CONGESTION = 32;
        final LibFuse3 fuse3 = LibraryLoader.create(LibFuse3.class).load("fuse3");
        final InitOp init = this::init;

        LowLevel3(ProtoFs fs, boolean parallelWrites) {
            super(fs, parallelWrites, false);
        }

        @Override
        LibFuse library() {
            return LibraryLoader.create(LibFuse.class).option(LibraryOption.IgnoreError, true).load("fuse3");
        }

        @Override
        boolean rawOpenReply() {
            return true;
        }

        void init(long userdata, long conn) {
            MEM.putInt(conn + CONN_MAX_WRITE, 131072);
            MEM.putInt(conn + CONN_MAX_READ, 131072); // must equal -o max_read, or libfuse 3 refuses INIT
            // async direct I/O are background requests: a stalled fetch holds one of max_background
            MEM.putInt(conn + CONN_MAX_BACKGROUND, 1024);
            MEM.putInt(conn + CONN_CONGESTION, 1000);
            System.out.println("init: capable 0x" + Integer.toHexString(MEM.getInt(conn + CONN_CAPABLE))
                    + " want 0x" + Integer.toHexString(MEM.getInt(conn + CONN_WANT)) + " (FUSE_CAP_ASYNC_DIO is 0x8000)");
        }

        @Override
        void serve(Path mnt) throws Exception {
            ClosureManager cm = jnr.ffi.Runtime.getSystemRuntime().getClosureManager();
            long ops = MEM.allocateMemory(OPS3_SIZE, true);
            MEM.putAddress(ops + 8L * OP_INIT, cm.getClosurePointer(InitOp.class, init).address());
            MEM.putAddress(ops + 8L * OP_LOOKUP, cm.getClosurePointer(LookupOp.class, lookup).address());
            MEM.putAddress(ops + 8L * OP_GETATTR, cm.getClosurePointer(GetattrOp.class, getattr).address());
            MEM.putAddress(ops + 8L * OP_OPEN, cm.getClosurePointer(OpenOp.class, open).address());
            MEM.putAddress(ops + 8L * OP_READ, cm.getClosurePointer(ReadOp.class, read).address());
            MEM.putAddress(ops + 8L * OP_WRITE, cm.getClosurePointer(WriteOp.class, write).address());
            long args = fuseArgs("proto", "-o", "allow_other,fsname=proto,subtype=proto,max_read=131072");
            long se = fuse3.fuse_session_new(args, ops, OPS3_SIZE, 0);
            if (se == 0) throw new IllegalStateException("fuse_session_new failed");
            String mp = mnt.toString();
            if (fuse3.fuse_session_mount(se, mp) != 0) {
                fuse3.fuse_session_destroy(se);
                throw new IllegalStateException("fuse_session_mount failed");
            }
            System.out.println("READY " + ProcessHandle.current().pid());
            long before = allocatedBytes();
            int rc = fuse3.fuse_session_loop(se);
            System.out.println("loop thread allocated " + (allocatedBytes() - before) + " bytes");
            System.out.println("loop ended rc=" + rc);
            fetcher.shutdown();
            fetcher.awaitTermination(10, TimeUnit.SECONDS);
            fuse3.fuse_session_unmount(se);
            fuse3.fuse_session_destroy(se);
        }
    }
}
