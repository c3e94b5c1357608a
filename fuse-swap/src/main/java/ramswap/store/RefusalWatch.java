package ramswap.store;

import java.time.Duration;
import java.time.Instant;
import java.util.function.Consumer;
import ramswap.agent.PeriodicAgent;

/**
 * Watches the refusal counters and says when the pool turns full and when it has room again.
 *
 * <p>A refused swap write is not the end of it: the kernel keeps the page in RAM, dirty, and
 * writes it again at the next reclaim ({@code __end_swap_bio_write} in mm/page_io.c: "Write-error
 * on swap-device"). While the pool stays full, the processes that need memory stall in reclaim
 * that frees nothing, and the kernel does not call the OOM killer. Only the operator can end that
 * (a higher pool limit, less load), so the state is shown where the operator looks: a line in
 * {@code status} and one log line when it starts and one when it ends.
 */
public final class RefusalWatch extends PeriodicAgent {

    private static final Duration SAMPLE = Duration.ofSeconds(2);
    /** Samples without a refusal before the pool counts as having room again. */
    private static final int QUIET_SAMPLES = 3;

    private final Counters counters;
    private final Consumer<String> say;
    private long lastLimitHits;
    private long lastReserveEmpty;
    private Instant fullSince;
    private long refusedWhileFull;
    private int quietSamples;
    private volatile String status = "";

    /** @param say where the start and end of a full pool are told (the daemon's log) */
    public RefusalWatch(Counters counters, Consumer<String> say) {
        super(SAMPLE);
        this.counters = counters;
        this.say = say;
    }

    @Override
    public String roleName() {
        return "ramswap-refusal-watch";
    }

    /** One sample: compares the counters with the last sample's. */
    @Override
    protected void tick() {
        long limitHits = counters.get(Counter.POOL_LIMIT_HIT);
        long reserveEmpty = counters.get(Counter.POOL_RESERVE_EMPTY);
        long refusedNow = (limitHits - lastLimitHits) + (reserveEmpty - lastReserveEmpty);
        boolean limit = limitHits > lastLimitHits;
        lastLimitHits = limitHits;
        lastReserveEmpty = reserveEmpty;
        if (refusedNow > 0) {
            quietSamples = 0;
            if (fullSince == null) {
                fullSince = Instant.now();
                refusedWhileFull = 0;
                say.accept("warning: "
                        + (limit
                                ? "the pool is full (pool_max_bytes)"
                                : "the pool's reserve is empty (memory is short)")
                        + ": write requests are refused; " + ADVICE);
            }
            refusedWhileFull += refusedNow;
            status = (limit ? "full at its limit" : "reserve empty, memory short") + " since " + fullSince + ", "
                    + refusedWhileFull + " write requests refused; " + ADVICE;
        } else if (fullSince != null && ++quietSamples >= QUIET_SAMPLES) {
            say.accept("the pool takes writes again, after " + refusedWhileFull + " refused write requests since "
                    + fullSince);
            fullSince = null;
            status = "";
        }
    }

    private static final String ADVICE =
            "the kernel keeps those pages in RAM and retries them, and processes that need memory "
                    + "stall; raise the limit (sudo ./ramswap set pool_max_bytes SIZE) or lower the load";

    /** The pool's state when writes are being refused, for the status file; "" while they are not. */
    public String status() {
        return status;
    }
}
