package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import ramswap.store.LocalPool;
import ramswap.sys.Posix;

/** The cgroup room the pool's grower reads, over files laid out as cgroup v2's are. */
class CgroupMarginTest {

    private static final long GIB = 1L << 30;
    private static final long MEM_TOTAL = 24 * GIB;

    private final Posix posix = Posix.load();

    @TempDir
    Path root;

    @Test
    void shouldGiveTheLeastRoomOfTheCgroupAndEveryLimitedAncestor() throws IOException {
        group("slice", "1073741824", "1000000000"); // 73,741,824 B of room
        group("slice/svc", "max", "900000000"); // no limit of its own
        group("slice/svc/daemon", "2147483648", "100000000"); // room 2 GiB - 100 MB

        LocalPool.MarginProbe probe = probe("/slice/svc/daemon");

        assertEquals(1073741824L - 1000000000L, probe.marginBytes());
        write("slice/memory.current", "1073741824");
        assertEquals(0, probe.marginBytes(), "a full parent leaves no room, whatever the child's");
    }

    @Test
    void shouldFollowTheUsageAsItChanges() throws IOException {
        group("job", "805306368", "805306368");
        LocalPool.MarginProbe probe = probe("/job");
        assertEquals(0, probe.marginBytes());
        write("job/memory.current", "805175296"); // 128 KiB below the limit
        assertEquals(131072, probe.marginBytes());
    }

    @Test
    void shouldHaveNoProbeWhenNoLevelHasALimitBelowTheMachinesMemory() throws IOException {
        group("a", "max", "1000");
        group("a/b", Long.toString(MEM_TOTAL), "1000");
        assertTrue(CgroupMargin.forCgroups(posix, levels("/a/b"), MEM_TOTAL).isEmpty());
    }

    private LocalPool.MarginProbe probe(String path) {
        return CgroupMargin.forCgroups(posix, levels(path), MEM_TOTAL).orElseThrow();
    }

    private CgroupMargin.Levels levels(String path) {
        CgroupMargin.Levels levels = CgroupMargin.Levels.of(root, path, "memory.current", "memory.max");
        assertEquals(path.split("/").length - 1, levels.dirs().size(), "the cgroup and each ancestor: " + levels);
        return levels;
    }

    private void group(String path, String max, String current) throws IOException {
        Files.createDirectories(root.resolve(path));
        write(path + "/memory.max", max);
        write(path + "/memory.current", current);
    }

    private void write(String file, String value) throws IOException {
        Files.write(root.resolve(file), List.of(value));
    }
}
