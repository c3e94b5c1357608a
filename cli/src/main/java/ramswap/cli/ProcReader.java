package ramswap.cli;

import java.util.List;
import java.util.function.Supplier;
import org.agrona.concurrent.Agent;

/**
 * Reads what the status file shows of /proc (the protections in force) every few seconds.
 * Reading a /proc file allocates kernel memory charged to the daemon's memory cgroup; when that
 * is full, the reader reclaims and may wait on a swap write to this very daemon. So the serving
 * thread never reads /proc: this agent does, and the status file shows what it read last.
 */
final class ProcReader implements Agent {

    private static final long INTERVAL_NANOS = 3_000_000_000L;

    private final Supplier<List<String>> read;
    private long nextNanos;
    private volatile List<String> lines = List.of();

    ProcReader(Supplier<List<String>> read) {
        this.read = read;
    }

    @Override
    public String roleName() {
        return "ramswap-proc-reader";
    }

    @Override
    public int doWork() {
        long now = System.nanoTime();
        if (now - nextNanos < 0) {
            return 0;
        }
        nextNanos = now + INTERVAL_NANOS;
        lines = read.get();
        return 1;
    }

    /** What it read last. */
    List<String> lines() {
        return lines;
    }
}
