package ramswap.cli;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.function.Consumer;

/**
 * The swap file turned on as swap: striped over several loop devices of equal priority, which the
 * kernel fills in turn. Eight were the fastest on 2 cores when a loop device sent one request at
 * a time (docs/decisions.md); with async direct I/O, negotiated since the move to libfuse 3, a
 * device keeps several in flight, and the striping spreads the swap area's writers.
 */
final class SwapArea {

    private final Path file;
    /** Read by the progress reporter while close() removes devices: a copy-on-write list. */
    private final List<String> devices = new java.util.concurrent.CopyOnWriteArrayList<>();

    private SwapArea(Path file) {
        this.file = file;
    }

    /** Attaches, formats and turns on {@code stripes} loop devices over {@code file}; undoes what it did on failure. */
    static SwapArea open(Path file, long sizeBytes, int stripes, int priority, Consumer<String> say)
            throws RamswapException {
        SwapArea area = new SwapArea(file);
        long stripe = sizeBytes / stripes / 4096 * 4096;
        try {
            for (int i = 0; i < stripes; i++) {
                long offset = i * stripe;
                long length = i == stripes - 1 ? sizeBytes - offset : stripe;
                String device = SwapDevice.attach(file, offset, length);
                area.devices.add(device);
                if (!SwapDevice.directIo(device)) {
                    say.accept(
                            "warning: " + device + " does not use direct I/O; pages pass through the page cache twice");
                }
                if (!SwapDevice.unthrottled(device)) {
                    say.accept(
                            "warning: " + device
                                    + " keeps writeback throttling on (queue/wbt_lat_usec); under memory pressure a daemon thread may wait on its own swap writes");
                }
                SwapDevice.mkswap(device);
                SwapDevice.swapon(device, priority);
            }
        } catch (RamswapException e) {
            try {
                area.close(Duration.ofMinutes(5), say);
            } catch (RamswapException again) {
                e.addSuppressed(again);
            }
            throw e;
        }
        return area;
    }

    List<String> devices() {
        return Collections.unmodifiableList(devices);
    }

    long usedBytes() {
        long used = 0;
        for (String d : devices) {
            used += SwapDevice.usedBytes(d).orElse(0);
        }
        return used;
    }

    /**
     * Swapoff and detach this area's loop devices. An operator's own loop device over the file is
     * not ours to detach (it may hold what the operator wrote): the daemon refuses to stop while
     * one is there. Throws, leaving the rest on, when a swapoff fails.
     */
    void close(Duration swapoffTimeout, Consumer<String> say) throws RamswapException {
        List<String> all = new ArrayList<>(devices);
        for (String d : all) {
            if (SwapDevice.isActive(d)) {
                SwapDevice.swapoff(d, swapoffTimeout);
                say.accept("swapoff " + d + " done");
            }
        }
        for (String d : all) {
            SwapDevice.detach(d);
            devices.remove(d);
            say.accept("loop device " + d + " detached");
        }
        List<String> left = SwapDevice.loopsBackedBy(file);
        left.retainAll(all); // detached, but still held open by someone: the kernel frees them when they let go
        if (!left.isEmpty()) {
            throw new RamswapException(RamswapException.FAILED, "loop devices " + left + " still use " + file);
        }
    }
}
