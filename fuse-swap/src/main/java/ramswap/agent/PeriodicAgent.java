package ramswap.agent;

import java.time.Duration;
import org.agrona.concurrent.Agent;

/** An agent whose work is one {@link #tick()} per interval, the first as soon as it runs. */
public abstract class PeriodicAgent implements Agent {

    private final long intervalNanos;
    private boolean started;
    private long nextNanos;

    protected PeriodicAgent(Duration interval) {
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("an agent's interval must be positive, got " + interval);
        }
        this.intervalNanos = interval.toNanos();
    }

    @Override
    public final int doWork() {
        long now = System.nanoTime();
        if (started && now - nextNanos < 0) {
            return 0;
        }
        started = true;
        nextNanos = now + intervalNanos;
        tick();
        return 1;
    }

    /** The interval's work. */
    protected abstract void tick();
}
