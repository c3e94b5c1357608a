package ramswap.cli;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;

/**
 * The kernel side of a swap file: a loop device with direct I/O over it, a swap signature, and
 * swapon with discard. Every call is a util-linux tool run with a time limit.
 */
public final class SwapDevice {

    private static final Duration QUICK = Duration.ofSeconds(60);

    private SwapDevice() {}

    /** Attaches a range of {@code file} to a free loop device with direct I/O; returns "/dev/loopN". */
    public static String attach(Path file, long offset, long sizeBytes) throws RamswapException {
        Exec.Result r = Exec.run(
                QUICK,
                "losetup",
                "--find",
                "--show",
                "--direct-io=on",
                "--offset",
                Long.toString(offset),
                "--sizelimit",
                Long.toString(sizeBytes),
                file.toString());
        if (!r.ok()) {
            throw new RamswapException(RamswapException.FAILED, "cannot attach a loop device: " + r.describe());
        }
        String device = r.output().strip();
        unthrottle(device);
        return device;
    }

    /**
     * Turns off writeback throttling on the loop device. The block layer's throttle makes a thread
     * that writes swap wait until earlier writes complete, and on this device they complete only
     * when the daemon serves them. Seen in a hang: a compiler thread of the daemon, committing code
     * memory in a full memory cgroup, reclaimed, wrote swap, and slept in wbt_wait; the safepoint it
     * then held up stopped the serving thread. zram, a RAM device too, has no such throttle.
     * Best effort: a kernel without the file has no throttle.
     */
    static void unthrottle(String device) {
        writeThrottle(device, "0"); // left on when refused: slower under pressure, the other protections still hold
    }

    /** Gives the device back the kernel's default writeback throttle ("-1" restores it). Best effort. */
    static void rethrottle(String device) {
        writeThrottle(device, "-1"); // when refused, the next user of the device sets its own
    }

    /** True when the block layer does not throttle writes to the device. */
    public static boolean unthrottled(String device) {
        Path wbt = throttleFile(device);
        try {
            return !Files.exists(wbt) || Files.readString(wbt).strip().equals("0");
        } catch (IOException e) {
            return false;
        }
    }

    private static void writeThrottle(String device, String latencyUsec) {
        Path wbt = throttleFile(device);
        try {
            if (Files.exists(wbt)) {
                Files.writeString(wbt, latencyUsec);
            }
        } catch (IOException e) {
            // best effort, see the callers
        }
    }

    private static Path throttleFile(String device) {
        return Path.of("/sys/block", Path.of(device).getFileName().toString(), "queue", "wbt_lat_usec");
    }

    /** True when the loop device really uses direct I/O (losetup falls back silently). */
    public static boolean directIo(String device) {
        try {
            return Files.readString(sysLoop(device).resolve("dio")).strip().equals("1");
        } catch (IOException e) {
            return false;
        }
    }

    public static void mkswap(String device) throws RamswapException {
        Exec.Result r = Exec.run(QUICK, "mkswap", "--label", "ramswap", device);
        if (!r.ok()) {
            throw new RamswapException(RamswapException.FAILED, "mkswap failed: " + r.describe());
        }
    }

    public static void swapon(String device, int priority) throws RamswapException {
        Exec.Result r = Exec.run(QUICK, "swapon", "--discard", "--priority", Integer.toString(priority), device);
        if (!r.ok()) {
            throw new RamswapException(RamswapException.FAILED, "swapon failed: " + r.describe());
        }
    }

    /** Moves every page back into RAM and stops swapping to the device; may take minutes for gigabytes. */
    public static void swapoff(String device, Duration timeout) throws RamswapException {
        Exec.Result r = Exec.run(timeout, "swapoff", device);
        if (!r.ok()) {
            throw new RamswapException(RamswapException.FAILED, "swapoff failed: " + r.describe());
        }
    }

    public static void detach(String device) throws RamswapException {
        rethrottle(device); // loop devices outlive their backing file: leave the kernel's default for the next user
        Exec.Result r = Exec.run(QUICK, "losetup", "--detach", device);
        if (!r.ok()) {
            throw new RamswapException(RamswapException.FAILED, "cannot detach " + device + ": " + r.describe());
        }
    }

    /** Loop devices whose backing file is {@code file}; read from sysfs, so it works even when the mount is dead. */
    public static List<String> loopsBackedBy(Path file) {
        String wanted = file.toAbsolutePath().normalize().toString();
        List<String> found = new ArrayList<>();
        try (DirectoryStream<Path> dirs = Files.newDirectoryStream(Path.of("/sys/block"), "loop*")) {
            for (Path d : dirs) {
                Path backing = d.resolve("loop/backing_file");
                if (Files.exists(backing)) {
                    String b = Files.readString(backing).strip();
                    if (b.endsWith(" (deleted)")) {
                        b = b.substring(0, b.length() - " (deleted)".length());
                    }
                    if (b.equals(wanted)) {
                        found.add("/dev/" + d.getFileName());
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /sys/block", e);
        }
        return found;
    }

    /** Bytes in use on an active swap area, from /proc/swaps; empty when it is not active. */
    public static OptionalLong usedBytes(String device) {
        for (String[] f : swaps()) {
            if (f[0].equals(device)) {
                return OptionalLong.of(Long.parseLong(f[3]) * 1024);
            }
        }
        return OptionalLong.empty();
    }

    /** Bytes in use summed over the active ones of {@code devices}; empty when none is active. */
    public static OptionalLong usedBytes(java.util.Collection<String> devices) {
        long sum = 0;
        boolean any = false;
        for (String d : devices) {
            OptionalLong u = usedBytes(d);
            if (u.isPresent()) {
                sum += u.getAsLong();
                any = true;
            }
        }
        return any ? OptionalLong.of(sum) : OptionalLong.empty();
    }

    public static boolean isActive(String device) {
        return usedBytes(device).isPresent();
    }

    private static List<String[]> swaps() {
        List<String[]> rows = new ArrayList<>();
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/swaps"));
            for (String line : lines.subList(Math.min(1, lines.size()), lines.size())) {
                String[] f = line.trim().split("\\s+");
                if (f.length >= 5) {
                    rows.add(f);
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/swaps", e);
        }
        return rows;
    }

    private static Path sysLoop(String device) {
        return Path.of("/sys/block", Path.of(device).getFileName().toString(), "loop");
    }
}
