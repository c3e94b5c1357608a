package ramswap.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.function.BooleanSupplier;
import ramswap.store.Knob;
import ramswap.store.Knobs;

/**
 * Whether this machine has memory to spare for pages coming home: MemAvailable above
 * {@code selfshrink_min_available_bytes} and memory pressure ({@code some avg10} of
 * /proc/pressure/memory) at most {@code selfshrink_max_pressure} percent. Read by the repatriator
 * at each self-shrink sample, never by a serving thread. When a file cannot be read, the answer
 * is no: bringing pages home is never urgent.
 */
final class SpareMemory implements BooleanSupplier {

    private static final Path MEMINFO = Path.of("/proc/meminfo");
    private static final Path PRESSURE = Path.of("/proc/pressure/memory");

    private final Knobs knobs;
    private volatile String lastRefusal = "";

    SpareMemory(Knobs knobs) {
        this.knobs = knobs;
    }

    @Override
    public boolean getAsBoolean() {
        try {
            long available = memAvailable(Files.readAllLines(MEMINFO));
            long min = knobs.get(Knob.SELFSHRINK_MIN_AVAILABLE_BYTES);
            if (available < min) {
                lastRefusal = "MemAvailable " + (available >> 20) + " MiB < selfshrink_min_available_bytes "
                        + (min >> 20) + " MiB";
                return false;
            }
            if (Files.exists(PRESSURE)) {
                double some = someAvg10(Files.readAllLines(PRESSURE));
                long max = knobs.get(Knob.SELFSHRINK_MAX_PRESSURE);
                if (some > max) {
                    lastRefusal = "memory pressure " + some + "% > selfshrink_max_pressure " + max + "%";
                    return false;
                }
            }
            lastRefusal = "";
            return true;
        } catch (IOException | RuntimeException e) {
            lastRefusal = "cannot read memory figures: " + e.getMessage();
            return false;
        }
    }

    /** Why the last look said no; empty when it said yes. */
    String lastRefusal() {
        return lastRefusal;
    }

    static long memAvailable(List<String> meminfo) {
        for (String line : meminfo) {
            if (line.startsWith("MemAvailable:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new IllegalStateException("no MemAvailable in /proc/meminfo");
    }

    /** The {@code avg10} of the {@code some} line: percent of the last 10 s some task stalled on memory. */
    static double someAvg10(List<String> pressure) {
        for (String line : pressure) {
            if (line.startsWith("some ")) {
                for (String field : line.split(" ")) {
                    if (field.startsWith("avg10=")) {
                        return Double.parseDouble(field.substring("avg10=".length()));
                    }
                }
            }
        }
        throw new IllegalStateException("no 'some avg10=' in /proc/pressure/memory");
    }
}
