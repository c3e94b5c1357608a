package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ramswap.sys.Posix;

/** The machine's free memory above the low watermarks, read as the pool's grower reads it. */
class MachineMarginTest {

    private static final String ZONEINFO = """
            Node 0, zone      DMA
              pages free     3840
                    min      24
                    low      30
                    high     36
            Node 0, zone    DMA32
              pages free     100000
                    min      4937
                    low      6170
                    high     7405
            """;

    private final Posix posix = Posix.load();

    @TempDir
    Path dir;

    @Test
    void shouldSumTheLowWatermarksOfEveryZone() {
        assertEquals((30 + 6170) * 4096L, MachineMargin.lowWatermarkBytes(ZONEINFO));
    }

    @Test
    void shouldGiveMemFreeAboveTheLowWatermarksAndFollowIt() throws IOException {
        Path meminfo = meminfo(100_000);
        MachineMargin m = MachineMargin.open(posix, meminfo, zoneinfo()).orElseThrow();
        assertEquals(100_000 * 1024L - 6200 * 4096L, m.marginBytes());
        Files.writeString(meminfo, meminfoText(20_000)); // below the watermarks: no room
        assertEquals(0, m.marginBytes());
    }

    @Test
    void shouldReadTheMachinesOwnFiles() {
        MachineMargin m = MachineMargin.open(posix, Path.of("/proc/meminfo"), Path.of("/proc/zoneinfo"))
                .orElseThrow();
        assertTrue(m.lowWatermarkBytes() > 0, "the kernel keeps some memory free");
        assertTrue(m.marginBytes() >= 0 && m.marginBytes() < Long.MAX_VALUE, "a figure: " + m.marginBytes());
    }

    private Path zoneinfo() throws IOException {
        return Files.writeString(dir.resolve("zoneinfo"), ZONEINFO);
    }

    private Path meminfo(long freeKib) throws IOException {
        return Files.writeString(dir.resolve("meminfo"), meminfoText(freeKib));
    }

    private static String meminfoText(long freeKib) {
        return "MemTotal:       24683784 kB\nMemFree:        " + freeKib + " kB\nMemAvailable:   21203760 kB\n";
    }
}
