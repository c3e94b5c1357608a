package ramswap.cli;

import java.time.Duration;
import java.util.List;
import java.util.function.Supplier;
import ramswap.agent.PeriodicAgent;

/**
 * Reads what the status file shows of /proc (the protections in force) every few seconds.
 * Reading a /proc file allocates kernel memory charged to the daemon's memory cgroup; when that
 * is full, the reader reclaims and may wait on a swap write to this very daemon. So the serving
 * thread never reads /proc: this agent does, and the status file shows what it read last.
 */
final class ProcReader extends PeriodicAgent {

    private final Supplier<List<String>> read;
    private volatile List<String> lines = List.of();

    ProcReader(Supplier<List<String>> read) {
        super(Duration.ofSeconds(3));
        this.read = read;
    }

    @Override
    public String roleName() {
        return "ramswap-proc-reader";
    }

    @Override
    protected void tick() {
        lines = read.get();
    }

    /** What it read last. */
    List<String> lines() {
        return lines;
    }
}
