package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/** The shipped unit passes systemd-analyze verify and orders swapoff before the network goes down. */
@EnabledIf("ramswap.e2e.SystemdUnitIT#canVerify")
@ResourceLock(value = Locks.CPU, mode = ResourceAccessMode.READ)
class SystemdUnitIT {

    private static final Path UNIT = Host.REPO.resolve("dist/systemd/ramswap.service");

    static boolean canVerify() {
        return Files.isExecutable(Path.of("/usr/bin/systemd-analyze"));
    }

    @Test
    void shouldPassSystemdAnalyzeVerifyAndStopBeforeTheNetwork(@TempDir Path tmp) throws IOException {
        String unit = Files.readString(UNIT);
        assertTrue(unit.contains("After=network-online.target"), "started after, so stopped before, the network");
        assertTrue(unit.contains("ExecStop=/opt/ramswap/ramswap down"), "stop runs ramswap down");
        assertTrue(unit.matches("(?s).*TimeoutStopSec=\\d+min.*"), "the stop is bounded");
        // verify needs the executables to exist: point the copy at this checkout's launcher
        Path copy = tmp.resolve("ramswap.service");
        Files.writeString(copy, unit.replace("/opt/ramswap/", Host.REPO + "/"));
        Host.Run r = Host.exec(
                Duration.ofMinutes(1), Map.of(), List.of("systemd-analyze", "verify", "--man=no", copy.toString()));
        assertEquals(0, r.exitCode(), r.output());
        assertTrue(
                r.output().lines().noneMatch(l -> l.contains("ramswap.service")),
                "warnings about the unit: " + r.output());
    }
}
