package ramswap.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import ramswap.store.LocalPool;
import ramswap.sys.Posix;

/**
 * The machine's free memory above the kernel's low watermarks: what the daemon can take before
 * an allocation wakes reclaim. Below the low watermark kswapd reclaims, below the min watermark
 * the allocating thread reclaims itself; on a machine whose memory is short, that reclaim writes
 * swap to this daemon. {@code MemFree} is read from {@code /proc/meminfo}, kept open and read with
 * {@code pread} into one buffer (a seq_file keeps its buffer while it is open); the watermarks, the
 * sum of every zone's {@code low} in {@code /proc/zoneinfo}, are read once at start (they change
 * only with {@code vm.min_free_kbytes} and {@code vm.watermark_scale_factor}).
 */
final class MachineMargin implements LocalPool.MarginProbe {

    private static final byte[] MEM_FREE = "MemFree:".getBytes(StandardCharsets.US_ASCII);

    private final Posix posix;
    private final int meminfoFd;
    private final long lowWatermarkBytes;
    private final byte[] buf = new byte[256];

    private MachineMargin(Posix posix, int meminfoFd, long lowWatermarkBytes) {
        this.posix = posix;
        this.meminfoFd = meminfoFd;
        this.lowWatermarkBytes = lowWatermarkBytes;
    }

    /** The probe, or empty when /proc/meminfo or /proc/zoneinfo cannot be read. */
    static Optional<MachineMargin> open(Posix posix, Path meminfo, Path zoneinfo) {
        long low;
        try {
            low = lowWatermarkBytes(Files.readString(zoneinfo, StandardCharsets.US_ASCII));
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
        int fd = posix.open(meminfo.toString(), Posix.O_RDONLY, 0);
        if (fd < 0) {
            return Optional.empty();
        }
        MachineMargin m = new MachineMargin(posix, fd, low);
        if (m.memFreeBytes() < 0) {
            posix.close(fd);
            return Optional.empty();
        }
        return Optional.of(m);
    }

    /** The sum of every zone's low watermark, in bytes, from the text of /proc/zoneinfo. */
    static long lowWatermarkBytes(String zoneinfo) {
        long pages = 0;
        for (String line : zoneinfo.split("\n")) {
            String t = line.trim();
            if (t.startsWith("low ")) {
                pages += Long.parseLong(t.substring(4).trim());
            }
        }
        return pages * 4096;
    }

    long lowWatermarkBytes() {
        return lowWatermarkBytes;
    }

    @Override
    public long marginBytes() {
        long free = memFreeBytes();
        return free < 0 ? UNKNOWN : Math.max(0, free - lowWatermarkBytes);
    }

    /** MemFree in bytes, or -1 when it cannot be read. */
    private long memFreeBytes() {
        long n = posix.pread(meminfoFd, buf, buf.length, 0);
        int at = indexOf(buf, (int) Math.max(0, n), MEM_FREE);
        if (at < 0) {
            return -1;
        }
        int i = at + MEM_FREE.length;
        while (i < n && buf[i] == ' ') {
            i++;
        }
        long kib = 0;
        int digits = 0;
        for (; i < n && buf[i] >= '0' && buf[i] <= '9'; i++, digits++) {
            kib = kib * 10 + (buf[i] - '0');
        }
        return digits == 0 ? -1 : kib * 1024;
    }

    private static int indexOf(byte[] b, int length, byte[] what) {
        outer:
        for (int i = 0; i + what.length <= length; i++) {
            for (int j = 0; j < what.length; j++) {
                if (b[i + j] != what[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
