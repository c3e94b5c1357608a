package ramswap.store;

import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;

/**
 * Times of one kind since start, in microseconds from 1 µs to 10 min at 1% precision: recorded by
 * any thread without allocating or locking, and read (percentiles, or Prometheus's cumulative
 * buckets) by whoever looks, which first folds in what was recorded since the last look.
 */
public final class Latencies {

    private static final long MAX_MICROS = 600_000_000L;

    private final Recorder recorder = new Recorder(1, MAX_MICROS, 2);
    private final Histogram soFar = new Histogram(1, MAX_MICROS, 2);
    private Histogram interval;

    public void recordMicros(long micros) {
        recorder.recordValue(Math.min(MAX_MICROS, Math.max(1, micros)));
    }

    /** Records the time since {@code startNanos}, a {@link System#nanoTime()}. */
    public void recordSince(long startNanos) {
        recordMicros((System.nanoTime() - startNanos) / 1_000);
    }

    private void fold() {
        interval = recorder.getIntervalHistogram(interval); // recycles: no allocation after the first
        soFar.add(interval);
    }

    public synchronized long count() {
        fold();
        return soFar.getTotalCount();
    }

    /** The value at {@code percentile} (0-100) in microseconds; 0 before anything was recorded. */
    public synchronized long percentileMicros(double percentile) {
        fold();
        return soFar.getTotalCount() == 0 ? 0 : soFar.getValueAtPercentile(percentile);
    }

    public synchronized long maxMicros() {
        fold();
        return soFar.getTotalCount() == 0 ? 0 : soFar.getMaxValue();
    }

    /**
     * Fills {@code counts[i]} with how many times were at most {@code boundsMicros[i]} (the bounds
     * rising) and the last of {@code counts}, one longer than the bounds, with how many there were
     * in all; returns their sum in microseconds, from the histogram's mean: exact to its 1%. All of
     * one look, so that the total and the sum agree with the buckets.
     */
    public synchronized double cumulative(long[] boundsMicros, long[] counts) {
        fold();
        for (int i = 0; i < boundsMicros.length; i++) {
            counts[i] = soFar.getCountBetweenValues(0, boundsMicros[i]);
        }
        long total = soFar.getTotalCount();
        counts[boundsMicros.length] = total;
        return total == 0 ? 0 : soFar.getMean() * total;
    }
}
