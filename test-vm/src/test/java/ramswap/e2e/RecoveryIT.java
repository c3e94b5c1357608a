package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;

/** What an operator meets after something went wrong: a crashed daemon, a directory that is not ours, a failing job. */
@EnabledIf("ramswap.e2e.Host#canSwap")
class RecoveryIT {

    private final String tag = "rec-" + ProcessHandle.current().pid() + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));

    @Test
    void shouldCleanUpAfterADaemonKilledWithSigkill() throws Exception {
        Path mount = Path.of("/run/ramswap-" + tag);
        try {
            assertEquals(0, Host.ramswap(Duration.ofMinutes(4), "up", "--size", "64M", "--mount", mount.toString(), "--priority", "1",
                    "--cluster-name", tag, "--port", "5721").exitCode());
            long pid = Long.parseLong(Files.readAllLines(mount.resolve("status")).stream()
                    .filter(l -> l.startsWith("pid: ")).findFirst().orElseThrow().substring(5));
            ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
            daemon.destroyForcibly();
            daemon.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);

            Host.Run status = Host.ramswap(Duration.ofMinutes(1), "status", "--mount", mount.toString());
            assertEquals(3, status.exitCode());
            assertTrue(status.output().contains("has died"), status.output());

            Host.Run up = Host.ramswap(Duration.ofMinutes(4), "up", "--size", "64M", "--mount", mount.toString(), "--priority", "1",
                    "--cluster-name", tag, "--port", "5721");
            assertEquals(0, up.exitCode(), "up cleans the stale mount and starts again");
            assertEquals(8, Host.loopsUnder(mount).size(), "only the new daemon's loop devices remain");
            assertEquals(0, Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString()).exitCode());
        } finally {
            if (Host.mounts().contains(" " + mount + " ")) {
                Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString());
            }
            Host.removeLeftovers(mount);
        }
        assertFalse(Host.mounts().contains(" " + mount + " "));
        assertTrue(Host.loopsUnder(mount).isEmpty());
    }

    @Test
    void shouldLeaveAForeignMountAlone() throws IOException {
        Path dir = Path.of("/run/ramswap-" + tag + "-tmpfs");
        Files.createDirectories(dir);
        try {
            assertEquals(0, Host.exec(Duration.ofSeconds(30), Map.of(), List.of("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir.toString())).exitCode());
            Host.Run up = Host.ramswap(Duration.ofMinutes(2), "up", "--size", "64M", "--mount", dir.toString(), "--cluster-name", tag);
            assertEquals(1, up.exitCode());
            assertTrue(up.output().contains("not ramswap's"), up.output());
            Host.Run down = Host.ramswap(Duration.ofMinutes(1), "down", "--mount", dir.toString());
            assertEquals(1, down.exitCode());
            assertTrue(Host.mounts().contains(" " + dir + " "), "the tmpfs is still mounted");
        } finally {
            Host.exec(Duration.ofSeconds(30), Map.of(), List.of("umount", dir.toString()));
            Host.removeLeftovers(dir);
        }
    }

    @Test
    void shouldReturnTheJobsExitCodeAndRemoveItsCgroup() throws IOException {
        List<String> before = runGroups();
        Host.Run r = Host.ramswap(Duration.ofMinutes(1), "run", "--ram", "32M", "--", "/bin/sh", "-c", "echo in-cgroup; exit 7");
        assertEquals(7, r.exitCode());
        assertTrue(r.output().contains("in-cgroup"), r.output());
        assertEquals(before, runGroups(), "no cgroup left behind");
        Host.Run bad = Host.ramswap(Duration.ofMinutes(1), "run", "--ram", "lots", "--", "/bin/true");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.output().contains("is not a size"), bad.output());
    }

    private static List<String> runGroups() throws IOException {
        Path v1 = Path.of("/sys/fs/cgroup/memory");
        Path base = Files.exists(v1.resolve("memory.limit_in_bytes")) ? v1 : Path.of("/sys/fs/cgroup");
        try (var s = Files.list(base)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("ramswap-run-")).sorted().toList();
        }
    }
}
