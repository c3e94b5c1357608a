package ramswap.agent;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/** An agent whose work is one {@link #tick()} per interval, the first as soon as it runs. */
public abstract class PeriodicAgent implements Agent {

    private final long intervalNanos;
    private final NanoClock clock;
    private boolean started;
    private long nextNanos;
    private final AtomicLong ticks = new AtomicLong();

    protected PeriodicAgent(Duration interval) {
        this(interval, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its interval (tests drive it). */
    protected PeriodicAgent(Duration interval, NanoClock clock) {
        this.clock = java.util.Objects.requireNonNull(clock, "clock");
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("an agent's interval must be positive, got " + interval);
        }
        this.intervalNanos = interval.toNanos();
    }

    @Override
    public final int doWork() {
        long now = clock.nanoTime();
        if (started && now - nextNanos < 0) {
            return 0;
        }
        started = true;
        nextNanos = now + intervalNanos;
        tick();
        ticks.incrementAndGet();
        return 1;
    }

    /**
     * Ticks run so far: a test that checks that nothing happened first checks that the agent ran.
     */
    public final long ticks() {
        return ticks.get();
    }

    /** The interval's work. */
    protected abstract void tick();
}
