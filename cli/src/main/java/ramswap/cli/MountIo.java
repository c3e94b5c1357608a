package ramswap.cli;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Reads, lists and writes files of a ramswap mount within a time bound. Every such operation is a
 * request that only the daemon answers; a daemon that is stopped (SIGSTOP) or stuck would hold the
 * caller forever. So each operation runs on a thread of its own while the caller waits at most
 * the bound. A thread left waiting on the mount cannot be stopped, but its wait is killable: it is
 * a daemon thread and ends with the JVM.
 */
final class MountIo {

    /** How long the CLI waits for a daemon to answer one operation on its mount. */
    static final Duration ANSWER_TIMEOUT = Duration.ofSeconds(5);

    /** The daemon did not answer within the bound. */
    static final class NoAnswer extends IOException {
        private static final long serialVersionUID = 1L;

        NoAnswer(String message) {
            super(message);
        }
    }

    /** One operation on the mount. */
    @FunctionalInterface
    interface Operation<T> {
        T run() throws IOException;
    }

    private final Duration bound;

    MountIo(Duration bound) {
        this.bound = bound;
    }

    String readString(Path file) throws IOException {
        return call("read " + file, () -> Files.readString(file));
    }

    List<String> readAllLines(Path file) throws IOException {
        return call("read " + file, () -> Files.readAllLines(file));
    }

    void writeString(Path file, String text) throws IOException {
        call("write " + file, () -> Files.writeString(file, text));
    }

    /** Runs {@code operation} (which may do several file operations) and waits for it at most the bound. */
    <T> T call(String what, Operation<T> operation) throws IOException {
        CompletableFuture<T> result = new CompletableFuture<>();
        Thread worker = new Thread(
                () -> {
                    try {
                        result.complete(operation.run());
                    } catch (Throwable e) {
                        result.completeExceptionally(e);
                    }
                },
                "ramswap-mount-io");
        worker.setDaemon(true);
        worker.start();
        try {
            return result.get(bound.toMillis(), TimeUnit.MILLISECONDS);
        } catch (TimeoutException e) {
            throw new NoAnswer("no answer within "
                    + (bound.toMillis() % 1000 == 0 ? bound.toSeconds() + " s" : bound.toMillis() + " ms") + " to: "
                    + what);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptedIOException("interrupted while waiting to " + what);
        } catch (ExecutionException e) {
            Throwable cause = e.getCause();
            if (cause instanceof IOException io) {
                throw io;
            }
            if (cause instanceof UncheckedIOException io) {
                throw io.getCause();
            }
            if (cause instanceof RuntimeException r) {
                throw r;
            }
            throw new IOException(what + " failed: " + cause, cause);
        }
    }
}
