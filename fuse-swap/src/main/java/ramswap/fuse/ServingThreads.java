package ramswap.fuse;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import ramswap.store.SwapStore;
import ramswap.sys.OffHeap;

/**
 * A libfuse 3 session and the fixed set of Java threads that answer it, each running libfuse's
 * session loop (receive a request into a buffer, process it) on a buffer of its own, all started
 * before swap is on and never ended while the mount lives.
 *
 * <p>Why not libfuse's loops. The multi-threaded loop starts a worker whenever none is idle and
 * ends one when too many are: libfuse 2's did so without a cap, and a borrower's daemon had 10
 * workers started while swap was live in one workload. Each is a native thread, created with
 * {@code clone} and a fresh stack, that the JVM attaches on its first callback (guard pages mapped
 * with {@code mprotect}, under the process's {@code mmap_lock} for writing): exactly what a daemon
 * that serves swap must not do once swap is live (docs/memory-pressure.md; the 512 MiB client
 * guest froze on one). Here the threads are the JVM's own, so a callback attaches nothing, and
 * their stacks, buffers and malloc arenas are made and touched by the warm-up, before swap is on.
 */
final class ServingThreads {

    /** The prefix of the serving threads' names (their {@code comm} in /proc): tests and the stall report look for it. */
    static final String NAME_PREFIX = "ramswap-serve-";

    private static final int EINTR = 4;
    private static final Duration START_TIMEOUT = Duration.ofSeconds(10);
    /**
     * Free room made in each serving thread's own malloc arena before it serves: 1 MiB, in
     * pieces small enough to come from the arena rather than from mmap.
     */
    private static final int ARENA_ROOM_PIECES = 256;

    private static final int ARENA_ROOM_PIECE_BYTES = 4096;
    /** The part of a receive buffer a request reaches once INIT has set max_write: a header and the data. */
    private static final long TOUCHED_BYTES = 4096L + SwapStore.MAX_REQUEST_BYTES;

    private final LibFuse3 fuse;
    private final long session;
    private final long args;
    private final List<Thread> threads = new ArrayList<>();
    private final List<AtomicLong> served = new ArrayList<>();
    private final List<Long> buffers = new ArrayList<>();
    private final CountDownLatch started;
    private boolean tornDown;

    private ServingThreads(LibFuse3 fuse, long session, long args, int count) {
        this.fuse = fuse;
        this.session = session;
        this.args = args;
        this.started = new CountDownLatch(count);
    }

    /**
     * Starts a session with libfuse's {@code args} and {@code ops}, mounts it on {@code dir}, and
     * starts {@code count} serving threads. Throws when libfuse cannot; its own message is on
     * standard error.
     */
    static ServingThreads start(LibFuse3 fuse, long ops, String[] args, int count, Path dir) throws IOException {
        long fuseArgs = fuseArgs(args);
        long session = fuse.fuse_session_new(fuseArgs, ops, LibFuse3.OPS_BYTES, 0);
        if (session == 0) {
            freeArgs(fuse, fuseArgs);
            throw new IOException(
                    "libfuse refused the options " + String.join(" ", args) + " (its reason is on standard error)");
        }
        if (fuse.fuse_session_mount(session, dir.toAbsolutePath().toString()) != 0) {
            fuse.fuse_session_destroy(session);
            freeArgs(fuse, fuseArgs);
            throw new IOException("libfuse could not mount on " + dir + " (its reason is on standard error)");
        }
        ServingThreads s = new ServingThreads(fuse, session, fuseArgs, count);
        for (int i = 0; i < count; i++) {
            AtomicLong taken = new AtomicLong();
            long memory = buffer();
            Thread t = new Thread(() -> s.serve(memory, taken), NAME_PREFIX + (i + 1));
            t.setDaemon(true);
            s.threads.add(t);
            s.served.add(taken);
            s.buffers.add(memory);
        }
        s.threads.forEach(Thread::start);
        try {
            // each thread is named and in its loop before the mount is handed out
            if (!s.started.await(START_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                s.abandon();
                throw new IOException(
                        "the serving threads of " + dir + " did not start within " + START_TIMEOUT.toSeconds() + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            s.abandon();
            throw new IOException("interrupted while the serving threads of " + dir + " started", e);
        }
        return s;
    }

    /**
     * A start that failed: the mount goes (libfuse unmounts, lazily, as root), so that nothing is
     * left mounted that nobody serves; a thread that did start then leaves its loop. The session
     * is not freed, since a late thread may still use it.
     */
    private void abandon() {
        fuse.fuse_session_exit(session);
        fuse.fuse_session_unmount(session);
    }

    /**
     * {@code struct fuse_args} (argc, argv, allocated = 0), its argv and its strings, in one block
     * of native memory that {@link #freeArgs} gives back.
     */
    private static long fuseArgs(String[] args) {
        byte[][] encoded = new byte[args.length][];
        long bytes = LibFuse3.ARGS_BYTES + 8L * (args.length + 1);
        for (int i = 0; i < args.length; i++) {
            encoded[i] = args[i].getBytes(StandardCharsets.UTF_8);
            bytes += encoded[i].length + 1L;
        }
        long fuseArgs = OffHeap.allocate(bytes);
        long argv = fuseArgs + LibFuse3.ARGS_BYTES;
        long c = argv + 8L * (args.length + 1);
        for (int i = 0; i < args.length; i++) {
            OffHeap.copyToNative(encoded[i], 0, c, encoded[i].length);
            OffHeap.putByte(c + encoded[i].length, (byte) 0);
            OffHeap.putLong(argv + 8L * i, c);
            c += encoded[i].length + 1L;
        }
        OffHeap.putLong(argv + 8L * args.length, 0);
        OffHeap.putInt(fuseArgs, args.length);
        OffHeap.putInt(fuseArgs + 4, 0);
        OffHeap.putLong(fuseArgs + 8, argv);
        OffHeap.putLong(fuseArgs + 16, 0);
        return fuseArgs;
    }

    /**
     * Gives back the block of {@link #fuseArgs}. libfuse's option parser replaces the struct's
     * argv with a copy of its own, malloc'ed, with allocated = 1: that copy is libfuse's to free
     * ({@code fuse_opt_free_args} frees it only when allocated is set), the block is ours.
     */
    private static void freeArgs(LibFuse3 fuse, long fuseArgs) {
        fuse.fuse_opt_free_args(fuseArgs);
        OffHeap.free(fuseArgs);
    }

    /**
     * A thread's fuse_buf and request buffer, allocated here, before swap is on. libfuse reads
     * into it with its session's buffer size, so it is that large; the part requests reach is
     * touched now, the rest is never written.
     */
    private static long buffer() {
        long memory = OffHeap.allocate(LibFuse3.BUF_BYTES + LibFuse3.RECEIVE_BUFFER_BYTES);
        OffHeap.setMemory(memory, LibFuse3.BUF_BYTES + TOUCHED_BYTES, (byte) 0);
        return memory;
    }

    /** fuse_session_loop, on a buffer of this thread's own. */
    private void serve(long memory, AtomicLong taken) {
        long buf = memory;
        long data = memory + LibFuse3.BUF_BYTES;
        makeArenaRoom();
        started.countDown();
        while (fuse.fuse_session_exited(session) == 0) {
            OffHeap.putLong(buf + LibFuse3.BUF_SIZE, 0);
            OffHeap.putInt(buf + LibFuse3.BUF_FLAGS, 0);
            OffHeap.putLong(buf + LibFuse3.BUF_MEM, data);
            OffHeap.putInt(buf + LibFuse3.BUF_FD, -1);
            OffHeap.putLong(buf + LibFuse3.BUF_POS, 0);
            int res = fuse.fuse_session_receive_buf(session, buf);
            if (res == -EINTR) {
                continue;
            }
            if (res <= 0) {
                // 0: the mount is gone (ENODEV, and libfuse has marked the session exited); < 0: an error
                fuse.fuse_session_exit(session);
                break;
            }
            taken.incrementAndGet();
            fuse.fuse_session_process_buf(session, buf);
        }
    }

    /**
     * Grows this thread's malloc arena by 1 MiB of touched, free memory, which stays: the daemon
     * runs with a trim threshold of 1 GiB (UpCommand), so glibc never gives it back. Whatever the
     * thread mallocs later while swap is live (the JVM loading a class at the first remote read,
     * libfuse's request) then fits without growing the arena, which glibc does with mprotect,
     * under mmap_lock for writing (RemoteSwapIT's trace caught it). libfuse 2's high-level API used
     * to leave this room by chance: it malloced each read's data.
     */
    private static void makeArenaRoom() {
        long[] pieces = new long[ARENA_ROOM_PIECES];
        for (int i = 0; i < pieces.length; i++) {
            pieces[i] = OffHeap.allocate(ARENA_ROOM_PIECE_BYTES);
            OffHeap.setMemory(pieces[i], ARENA_ROOM_PIECE_BYTES, (byte) 0);
        }
        for (long piece : pieces) {
            OffHeap.free(piece);
        }
    }

    /** Requests each thread has taken, in thread order. */
    long[] takenByEach() {
        return served.stream().mapToLong(AtomicLong::get).toArray();
    }

    /**
     * Once the mount is gone: waits for every thread to leave its loop, has every parked read
     * answered ({@code answerParked}, false if one is still being answered), then lets libfuse free the
     * session ({@code fuse_session_unmount}, {@code fuse_session_destroy}) and the threads' buffers. A thread that does not
     * leave within {@code bound} keeps the file system, which the process's exit frees.
     */
    synchronized boolean awaitStopped(Duration bound, java.util.function.Supplier<Boolean> answerParked) {
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
        if (!answerParked.get()) {
            return false; // a reply still being sent needs the session
        }
        fuse.fuse_session_unmount(session); // the mount is gone already: this closes /dev/fuse
        fuse.fuse_session_destroy(session);
        freeArgs(fuse, args);
        buffers.forEach(OffHeap::free);
        tornDown = true;
        return true;
    }
}
