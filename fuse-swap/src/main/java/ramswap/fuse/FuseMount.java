package ramswap.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import ramswap.store.SwapStore;

/**
 * A mounted {@link SwapFileSystem}. Opening waits until the kernel answers through the mount
 * (a readiness probe, not a fixed sleep); closing unmounts and waits until the mount is gone.
 */
public final class FuseMount implements AutoCloseable {

    /**
     * libfuse 3's mount options: reads of the store's request size (max_write, direct I/O and async
     * direct I/O are set at INIT and in the open reply, see {@link SwapFileSystem}). The fsname,
     * added at mount, names this process (see {@link MountTable#sourceFor}), so that a daemon that
     * does not answer can be found without asking it.
     */
    public static final List<String> OPTIONS =
            List.of("subtype=ramswap", "max_read=" + SwapStore.MAX_REQUEST_BYTES, "allow_other", "default_permissions");

    /*
     * One serving thread for a store whose blocks are all local: each request is a few
     * microseconds of LZ4, and a second thread only adds a sleep and a wake-up per request.
     * Measured (docs/decisions.md): 10.2 s against 12.3 s for the benchmark workload, daemon CPU
     * 5.2 s against 7.5 s. A store with remote blocks is served by one thread per loop device, so
     * that a request waiting on the network never holds up one that needs only local blocks.
     */
    private static final Duration READY_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration UNMOUNT_TIMEOUT = Duration.ofSeconds(20);
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    /** How long the unmount waits for parked reads being answered from their fetches. */
    private static final Duration PARKED_ANSWER_TIMEOUT = Duration.ofSeconds(2);

    /** The prefix of the serving threads' names ({@code comm} in /proc/PID/task), numbered from 1. */
    public static final String SERVING_THREAD_PREFIX = ServingThreads.NAME_PREFIX;

    private final SwapFileSystem fs;
    private final Path dir;
    private final ServingThreads serving;
    private volatile boolean open = true;

    /** A JVM that exits without closing the mount still detaches it, as jnr-fuse's mount did. */
    private final Thread unmountAtExit;

    private FuseMount(SwapFileSystem fs, Path dir, ServingThreads serving) {
        this.fs = fs;
        this.dir = dir;
        this.serving = serving;
        this.unmountAtExit = new Thread(this::detachAtExit, "ramswap-unmount");
        Runtime.getRuntime().addShutdownHook(unmountAtExit);
    }

    private void detachAtExit() {
        try {
            if (open && MountTable.isMountPoint(dir)) {
                runBounded(List.of("umount", "-l", dir.toString()));
            }
        } catch (IOException e) {
            // the process is ending; the kernel ends the connection with it
        }
    }

    /** Mounts {@code fs} on {@code dir}, served by one thread; see {@link #mount(SwapFileSystem, Path, int)}. */
    public static FuseMount mount(SwapFileSystem fs, Path dir) throws IOException {
        return mount(fs, dir, 1);
    }

    /**
     * Mounts {@code fs} on {@code dir} (created if missing) and returns once the mount serves
     * requests, answered by {@code threads} serving threads started now and kept until
     * {@link #close}: no thread is started while serving (docs/memory-pressure.md).
     */
    public static FuseMount mount(SwapFileSystem fs, Path dir, int threads) throws IOException {
        if (threads < 1) {
            throw new IllegalArgumentException("a mount needs at least one serving thread, got " + threads);
        }
        Files.createDirectories(dir);
        if (MountTable.isMountPoint(dir)) {
            throw new IOException(dir + " is already a mount point");
        }
        String options =
                "fsname=" + MountTable.sourceFor(ProcessHandle.current().pid()) + "," + String.join(",", OPTIONS);
        FuseMount m = new FuseMount(fs, dir, fs.serve(dir, options, threads));
        long deadline = System.nanoTime() + READY_TIMEOUT.toNanos();
        Path probe = dir.resolve(SwapFileSystem.STATUS);
        while (!(MountTable.isMountPoint(dir) && Files.isReadable(probe))) {
            if (System.nanoTime() > deadline) {
                m.close();
                throw new IOException(
                        "FUSE mount on " + dir + " did not become ready within " + READY_TIMEOUT.toSeconds() + " s");
            }
            sleep(20);
        }
        return m;
    }

    /** Requests each serving thread has taken so far, in thread order: a warm-up shows here whether it reached them all. */
    public long[] requestsTakenByEachThread() {
        return serving.takenByEach();
    }

    public Path dir() {
        return dir;
    }

    public Path swapFile() {
        return dir.resolve(SwapFileSystem.SWAPFILE);
    }

    /** Unmounts. Call only once nothing uses the swap file any more (swapoff, losetup -d). */
    @Override
    public void close() throws IOException {
        if (!open) {
            return;
        }
        open = false;
        long deadline = System.nanoTime() + UNMOUNT_TIMEOUT.toNanos();
        runBounded(List.of("umount", dir.toString())); // the daemon is root: no fusermount needed
        while (MountTable.isMountPoint(dir)) {
            if (System.nanoTime() > deadline) {
                // busy: detach lazily so that the daemon can still exit; the kernel frees it when the last user goes
                runBounded(List.of("umount", "-l", dir.toString()));
                break;
            }
            sleep(50);
        }
        try {
            Runtime.getRuntime().removeShutdownHook(unmountAtExit);
        } catch (IllegalStateException e) {
            // closed by another shutdown hook: the JVM is exiting anyway
        }
        if (serving.awaitStopped(STOP_TIMEOUT, () -> fs.answerParked(PARKED_ANSWER_TIMEOUT))) {
            fs.released();
        } else {
            System.getLogger(FuseMount.class.getName())
                    .log(
                            System.Logger.Level.WARNING,
                            "a serving thread of " + dir + " did not stop within " + STOP_TIMEOUT.toSeconds()
                                    + " s after the unmount; the process's exit frees what it holds");
        }
    }

    private static void runBounded(List<String> command) throws IOException {
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                .start();
        try {
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
    }
}
