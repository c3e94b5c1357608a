package ramswap.fuse;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import jnr.ffi.LibraryLoader;
import jnr.ffi.Pointer;
import jnr.ffi.annotations.In;
import jnr.ffi.byref.IntByReference;
import jnr.ffi.byref.PointerByReference;
import jnr.ffi.types.size_t;
import ramswap.sys.OffHeap;
import ru.serce.jnrfuse.struct.FuseOperations;

/**
 * A fixed set of Java threads that answer /dev/fuse, each running libfuse 2's own session loop
 * ({@code fuse_session_loop}: receive a request into a buffer, process it), all started before
 * swap is on and never ended while the mount lives.
 *
 * <p>Why not libfuse's loops. {@code fuse_loop_mt} starts a worker whenever none is idle and ends
 * one when more than ten are, with no cap: a borrower's daemon had 10 workers started while swap
 * was live in one workload. Each is a native thread, created with {@code clone} and a fresh stack,
 * that the JVM attaches on its first callback (guard pages mapped with {@code mprotect}, under
 * the process's {@code mmap_lock} for writing): exactly what a daemon that serves swap must not
 * do once swap is live (docs/memory-pressure.md; the 512 MiB client guest froze on one). Here the
 * threads are the JVM's own, so a callback attaches nothing, and their stacks, buffers and malloc
 * arenas are made and touched by the warm-up, before swap is on.
 *
 * <p>One thread is {@code fuse_loop}, as before; several are {@code fuse_loop_mt} without the churn.
 */
final class ServingThreads {

    /** The prefix of the serving threads' names (their {@code comm} in /proc): tests and the stall report look for it. */
    static final String NAME_PREFIX = "ramswap-serve-";

    /** The libfuse 2 calls of {@code fuse_main}, taken apart so that the loop is ours. */
    public interface LibFuseSession {
        Pointer fuse_setup(
                int argc,
                @In String[] argv,
                FuseOperations op,
                @size_t long opSize,
                PointerByReference mountpoint,
                IntByReference multithreaded,
                Pointer userData);

        void fuse_teardown(Pointer fuse, Pointer mountpoint);

        Pointer fuse_get_session(Pointer fuse);

        Pointer fuse_session_next_chan(Pointer session, Pointer channel);

        @size_t
        long fuse_chan_bufsize(Pointer channel);

        // plain addresses on the data path: a primitive signature is called without allocating
        int fuse_session_receive_buf(long session, long buf, long channelp);

        void fuse_session_process_buf(long session, long buf, long channel);

        int fuse_session_exited(long session);

        void fuse_session_exit(long session);
    }

    /*
     * struct fuse_buf { size_t size; enum fuse_buf_flags flags; void *mem; int fd; off_t pos; }
     * on x86-64 and aarch64, followed here by the struct fuse_chan * that receive_buf updates.
     */
    private static final int BUF_SIZE = 0;
    private static final int BUF_FLAGS = 8;
    private static final int BUF_MEM = 16;
    private static final int BUF_FD = 24;
    private static final int BUF_POS = 32;
    private static final int CHANNEL = 40;
    private static final int HEADER = 48;
    private static final int EINTR = 4;

    private static final LibFuseSession FUSE = load();

    private final Pointer fuse;
    private final Pointer mountpoint;
    private final long session;
    private final long channel;
    private final long bufferBytes;
    private final List<Thread> threads = new ArrayList<>();
    private final List<AtomicLong> served = new ArrayList<>();
    private boolean tornDown;

    private ServingThreads(Pointer fuse, Pointer mountpoint) {
        this.fuse = fuse;
        this.mountpoint = mountpoint;
        Pointer s = FUSE.fuse_get_session(fuse);
        Pointer ch = FUSE.fuse_session_next_chan(s, null);
        this.session = s.address();
        this.channel = ch.address();
        this.bufferBytes = FUSE.fuse_chan_bufsize(ch);
    }

    /**
     * Mounts (libfuse's {@code fuse_setup}: parses {@code args}, mounts, builds the file system)
     * and starts {@code count} serving threads. Throws when libfuse cannot mount; its own message
     * is on standard error.
     */
    static ServingThreads start(FuseOperations ops, long opsSize, String[] args, int count, Path dir)
            throws IOException {
        PointerByReference mountpoint = new PointerByReference();
        Pointer fuse = FUSE.fuse_setup(args.length, args, ops, opsSize, mountpoint, new IntByReference(), null);
        if (fuse == null || fuse.address() == 0) {
            throw new IOException("libfuse could not mount on " + dir + " (its reason is on standard error)");
        }
        ServingThreads s = new ServingThreads(fuse, mountpoint.getValue());
        for (int i = 0; i < count; i++) {
            AtomicLong taken = new AtomicLong();
            long memory = s.buffer();
            Thread t = new Thread(() -> s.serve(memory, taken), NAME_PREFIX + (i + 1));
            t.setDaemon(true);
            s.threads.add(t);
            s.served.add(taken);
        }
        s.threads.forEach(Thread::start);
        return s;
    }

    /** A thread's request buffer and fuse_buf, allocated and touched here, before swap is on. */
    private long buffer() {
        long memory = OffHeap.allocate(HEADER + bufferBytes);
        OffHeap.setMemory(memory, HEADER + bufferBytes, (byte) 0);
        return memory;
    }

    /** fuse_session_loop, on a buffer of this thread's own. */
    private void serve(long memory, AtomicLong taken) {
        long buf = memory;
        long data = memory + HEADER;
        while (FUSE.fuse_session_exited(session) == 0) {
            OffHeap.putLong(buf + BUF_SIZE, bufferBytes);
            OffHeap.putInt(buf + BUF_FLAGS, 0);
            OffHeap.putLong(buf + BUF_MEM, data);
            OffHeap.putInt(buf + BUF_FD, -1);
            OffHeap.putLong(buf + BUF_POS, 0);
            OffHeap.putLong(buf + CHANNEL, channel);
            int res = FUSE.fuse_session_receive_buf(session, buf, buf + CHANNEL);
            if (res == -EINTR) {
                continue;
            }
            if (res <= 0) {
                // 0: the mount is gone (ENODEV, and libfuse has marked the session exited); < 0: an error
                FUSE.fuse_session_exit(session);
                break;
            }
            taken.incrementAndGet();
            FUSE.fuse_session_process_buf(session, buf, OffHeap.getLong(buf + CHANNEL));
        }
        // the buffer is not freed: a thread still in process_buf when another saw the end may read it
    }

    /** Requests each thread has taken, in thread order. */
    long[] takenByEach() {
        return served.stream().mapToLong(AtomicLong::get).toArray();
    }

    /**
     * Once the mount is gone: waits for every thread to leave its loop, then lets libfuse free the
     * file system ({@code fuse_teardown}, which runs its destroy callback). A thread that does not
     * leave within {@code bound} keeps the file system, which the process's exit frees.
     */
    synchronized boolean awaitStopped(Duration bound) {
        if (tornDown) {
            return true;
        }
        long deadline = System.nanoTime() + bound.toNanos();
        for (Thread t : threads) {
            long left = deadline - System.nanoTime();
            try {
                if (left > 0) {
                    t.join(Math.max(1, left / 1_000_000));
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
            if (t.isAlive()) {
                return false;
            }
        }
        FUSE.fuse_teardown(fuse, mountpoint);
        tornDown = true;
        return true;
    }

    private static LibFuseSession load() {
        try {
            return LibraryLoader.create(LibFuseSession.class).failImmediately().load("fuse");
        } catch (Throwable e) {
            return LibraryLoader.create(LibFuseSession.class).failImmediately().load("libfuse.so.2");
        }
    }
}
