package ramswap.cluster;

import java.time.Duration;
import org.agrona.concurrent.NanoClock;

/**
 * The system's clock plus the steps a test took: time runs as it does for the real members the test
 * starts, and a test skips a window (a grace, a confirmation) by stepping over it instead of
 * sleeping through it.
 */
final class SteppedClock implements NanoClock {

    private volatile long offsetNanos;

    @Override
    public long nanoTime() {
        return System.nanoTime() + offsetNanos;
    }

    /** Moves this clock {@code d} ahead of the system's. */
    @SuppressWarnings("NonAtomicVolatileUpdate") // one writer: the test's thread
    void step(Duration d) {
        offsetNanos += d.toNanos();
    }
}
