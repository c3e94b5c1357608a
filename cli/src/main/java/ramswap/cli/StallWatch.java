package ramswap.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import org.agrona.concurrent.Agent;
import ramswap.fuse.FuseMount;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

/**
 * Sees a stall of the serving path: requests wait in the kernel (the FUSE connection's
 * {@code waiting} in /sys/fs/fuse/connections) and the serving threads take none of them for
 * {@link #STALL_NANOS}. Says so once in the log, with the kernel stack of every thread of the
 * daemon (read from /proc/self/task, which needs no mmap_lock), and in {@code status}; and says
 * when it is over. A stall the daemon cannot end (it waits on itself) is ended by
 * {@code down --abort}, which the message names.
 *
 * <p>Runs on a thread of its own, never the serving one. fusectl's files cannot be read again at
 * an offset (they are opened non-seekable), so each look opens, reads and closes the file
 * through libc, with the path and the buffer in native memory made once: watching allocates
 * nothing on the Java heap; only the report of a stall does.
 */
final class StallWatch implements Agent {

    static final long STALL_NANOS = 5_000_000_000L;
    private static final long LOOK_EVERY_NANOS = 1_000_000_000L;

    private static final int BUFFER_BYTES = 32;

    private final Posix posix;
    private final long path;
    private final long buffer;
    private final LongSupplier taken;
    private final Consumer<String> log;
    private final Path mount;

    private long nextLook;
    private long lastTaken = -1;
    private long quietSince;
    private boolean reported;
    private volatile long stalledSince;
    private volatile long waitingNow;

    /** Watches the count in {@code waitingFile} (a connection's {@code waiting}, or a test's file). */
    StallWatch(Posix posix, Path waitingFile, LongSupplier taken, Consumer<String> log, Path mount) {
        this.posix = posix;
        byte[] p = (waitingFile.toString() + "\0").getBytes(StandardCharsets.UTF_8);
        this.path = OffHeap.allocate(p.length);
        OffHeap.copyToNative(p, 0, path, p.length);
        this.buffer = OffHeap.allocate(BUFFER_BYTES);
        this.taken = taken;
        this.log = log;
        this.mount = mount;
    }

    /**
     * A watch over the FUSE connection {@code connection}, or null when its {@code waiting} file
     * cannot be opened (no fusectl: the caller says so). Mounts fusectl where it is missing, as
     * systemd does at boot, and leaves it mounted: other daemons may use it meanwhile.
     */
    static StallWatch open(Posix posix, int connection, LongSupplier taken, Consumer<String> log, Path mount) {
        Path connections = Path.of("/sys/fs/fuse/connections");
        if (!Files.exists(connections.resolve(Integer.toString(connection)))) {
            try {
                Exec.run(java.time.Duration.ofSeconds(10), "mount", "-t", "fusectl", "fusectl", connections.toString());
            } catch (RamswapException e) {
                log.accept("warning: cannot mount fusectl: " + e.getMessage());
            }
        }
        Path waiting = connections.resolve(Integer.toString(connection)).resolve("waiting");
        return Files.isReadable(waiting) ? new StallWatch(posix, waiting, taken, log, mount) : null;
    }

    @Override
    public int doWork() {
        long now = System.nanoTime();
        if (now - nextLook < 0) {
            return 0;
        }
        nextLook = now + LOOK_EVERY_NANOS;
        long w = readWaiting();
        long t = taken.getAsLong();
        waitingNow = w;
        if (w > 0 && t == lastTaken) {
            if (quietSince == 0) {
                quietSince = now;
            } else if (!reported && now - quietSince >= STALL_NANOS) {
                reported = true;
                stalledSince = quietSince;
                report(w, now - quietSince);
            }
        } else {
            if (reported) {
                log.accept("the stall is over: requests are taken again after " + (now - quietSince) / 1_000_000_000L
                        + " s");
            }
            quietSince = 0;
            reported = false;
            stalledSince = 0;
        }
        lastTaken = t;
        return 1;
    }

    /** For status: "12 s, 3 requests waiting", or null when the serving path moves. */
    String stall() {
        long since = stalledSince;
        return since == 0
                ? null
                : (System.nanoTime() - since) / 1_000_000_000L + " s, " + waitingNow + " requests waiting";
    }

    /** The count in the waiting file; 0 when it cannot be read (the connection is gone: nothing waits on it). */
    private long readWaiting() {
        int fd = posix.open(path, Posix.O_RDONLY, 0);
        if (fd < 0) {
            return 0;
        }
        long n = posix.read(fd, buffer, BUFFER_BYTES);
        posix.close(fd);
        long v = 0;
        for (int i = 0; i < n; i++) {
            byte b = OffHeap.getByte(buffer + i);
            if (b < '0' || b > '9') {
                break;
            }
            v = v * 10 + (b - '0');
        }
        return v;
    }

    private void report(long waitingRequests, long quietNanos) {
        StringBuilder b = new StringBuilder("STALLED: no request taken for ")
                .append(quietNanos / 1_000_000_000L)
                .append(" s while ")
                .append(waitingRequests)
                .append(" wait on /dev/fuse; if it stays so: sudo ./ramswap down --abort --mount ")
                .append(mount)
                .append(". Threads (name, state, kernel stack):");
        try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
            for (Path t : tasks) {
                String stat = readOrEmpty(t.resolve("stat"));
                String state = stat.lastIndexOf(')') < 0
                        ? "?"
                        : stat.substring(stat.lastIndexOf(')') + 2).split(" ")[0];
                String stack = readOrEmpty(t.resolve("stack")).strip().replace("\n", " <- ");
                if (!state.equals("S")
                        || readOrEmpty(t.resolve("comm"))
                                .startsWith(
                                        FuseMount.SERVING_THREAD_PREFIX)) { // the serving threads whatever their state
                    b.append("\n  ")
                            .append(t.getFileName())
                            .append(' ')
                            .append(readOrEmpty(t.resolve("comm")).strip())
                            .append(' ')
                            .append(state)
                            .append(": ")
                            .append(stack);
                }
            }
        } catch (IOException | RuntimeException e) {
            b.append(" (cannot list them: ").append(e.getMessage()).append(')');
        }
        log.accept(b.toString());
    }

    private static String readOrEmpty(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    @Override
    public void onClose() {
        OffHeap.free(path);
        OffHeap.free(buffer);
    }

    @Override
    public String roleName() {
        return "ramswap-stall-watch";
    }
}
