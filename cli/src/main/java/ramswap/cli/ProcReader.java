package ramswap.cli;

import java.time.Duration;
import java.util.List;
import java.util.function.LongFunction;
import ramswap.agent.PeriodicAgent;
import ramswap.store.Counter;
import ramswap.store.Counters;

/**
 * Reads what the daemon shows of /proc (its resident memory, the protections in force) every few
 * seconds. Reading a /proc file allocates kernel memory charged to the daemon's memory cgroup; when
 * that is full, the reader reclaims and may wait on a swap write to this very daemon. So the
 * serving thread never reads /proc: this agent does, and the status file, the counter
 * {@code rss_bytes} and the stats published to the cluster show what it read last, one reading
 * for all of them.
 */
final class ProcReader extends PeriodicAgent {

    private final Counters counters;
    private final LongFunction<List<String>> describe;
    private volatile List<String> lines = List.of();

    /** {@code describe} turns the resident bytes just read into the status file's protection lines. */
    ProcReader(Counters counters, LongFunction<List<String>> describe) {
        super(Duration.ofSeconds(3));
        this.counters = counters;
        this.describe = describe;
    }

    @Override
    public String roleName() {
        return "ramswap-proc-reader";
    }

    @Override
    protected void tick() {
        long rss = Protections.residentBytes();
        counters.set(Counter.RSS_BYTES, rss);
        lines = describe.apply(rss);
    }

    /** What it read last. */
    List<String> lines() {
        return lines;
    }
}
