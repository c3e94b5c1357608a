package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Through the real kernel path: ramswap up, a workload whose RAM is limited by a memory cgroup
 * so that it swaps to ramswap through the loop device, and ramswap down. One instance for the
 * class, steps in order; everything it created is removed even when a step fails.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class SwapEndToEndIT {

    private static final Duration UP = Duration.ofMinutes(4);
    private static final Duration WORK = Duration.ofMinutes(15);
    private static final long WORKLOAD_MIB = 256;

    private final String tag = Host.tag("e2e-");
    private final Path mount = Path.of("/run/ramswap-" + tag);
    private Path pagetest;
    private long firstPeak;

    @BeforeAll
    void up() {
        System.out.println("/proc/swaps before:\n" + Host.procSwaps());
        pagetest = Host.pagetest();
        Host.Run r = Host.ramswap(
                UP,
                "up",
                "--size",
                "1G",
                "--mount",
                mount.toString(),
                "--priority",
                "32000",
                "--cluster-name",
                tag,
                "--port",
                "5711");
        assertEquals(0, r.exitCode(), "ramswap up failed");
        List<String> loops = Host.loopsUnder(mount);
        assertEquals(8, loops.size(), "the swap file striped over eight loop devices");
        for (String loop : loops) {
            assertTrue(Host.procSwaps().contains(loop + " "), loop + " is an active swap area:\n" + Host.procSwaps());
            assertTrue(
                    Host.read("/sys/block/" + Path.of(loop).getFileName() + "/loop/dio")
                            .strip()
                            .equals("1"),
                    loop + " uses direct I/O");
            Path wbt = Path.of("/sys/block", Path.of(loop).getFileName().toString(), "queue", "wbt_lat_usec");
            assertTrue(
                    !Files.exists(wbt) || Host.read(wbt.toString()).strip().equals("0"),
                    loop + " has no writeback throttle, which would make reclaim wait on the daemon");
        }
    }

    @AfterAll
    void down() {
        if (Host.mounts().contains(" " + mount + " ")) {
            Host.ramswap(Duration.ofMinutes(10), "down", "--mount", mount.toString());
        }
        Host.removeLeftovers(mount);
        assertFalse(Host.mounts().contains(" " + mount + " "), "mount left behind");
        assertTrue(Host.loopsUnder(mount).isEmpty(), "loop device left behind");
    }

    @Test
    @Order(1)
    void shouldSwapAWorkloadThroughRamswapAndVerifyEveryPage() {
        firstPeak = runWorkload("first");
        Map<String, Long> c = Host.counters(mount);
        assertEquals(0, c.get("remote_pers_pages"), "a single node keeps everything local");
        assertEquals(0, c.get("pers_pages_remoted"));
        assertEquals(0, c.get("corrupt_reads"));
        assertTrue(
                firstPeak * 4096 >= (WORKLOAD_MIB / 4) << 20,
                "at least a quarter of the workload went through ramswap, peak " + firstPeak + " pages");
    }

    @Test
    @Order(2)
    void shouldNotGrowTheStoreOnASecondIdenticalRun() {
        long secondPeak = runWorkload("second");
        System.out.printf("stored pages at peak: first run %d, second run %d%n", firstPeak, secondPeak);
        assertTrue(
                secondPeak <= firstPeak + firstPeak / 20 + 256,
                "discarded slots must be reused or freed: second peak " + secondPeak + " vs first " + firstPeak);
    }

    @Test
    @Order(3)
    void shouldAnswerStatusStatsGetAndSetAndRefuseBadInput() {
        Host.Run status = Host.ramswap(Duration.ofMinutes(1), "status", "--mount", mount.toString());
        assertEquals(0, status.exitCode());
        assertTrue(status.output().contains("ramswap is up"), status.output());
        Host.Run json = Host.ramswap(Duration.ofMinutes(1), "stats", "--json", "--mount", mount.toString());
        assertTrue(
                json.output().strip().startsWith("{\"") && json.output().contains("\"pers_zpages\": "), json.output());
        assertEquals(
                0,
                Host.ramswap(Duration.ofMinutes(1), "set", "selfshrink_interval", "10", "--mount", mount.toString())
                        .exitCode());
        Host.Run get = Host.ramswap(Duration.ofMinutes(1), "get", "selfshrink_interval", "--mount", mount.toString());
        assertEquals("10", get.output().strip());
        Host.Run bad =
                Host.ramswap(Duration.ofMinutes(1), "set", "selfshrink_interval", "0", "--mount", mount.toString());
        assertEquals(2, bad.exitCode());
        assertTrue(bad.output().contains("must be in [1, 3600]"), bad.output());
        assertEquals(
                2,
                Host.ramswap(Duration.ofMinutes(1), "get", "no_such_knob", "--mount", mount.toString())
                        .exitCode());
        assertEquals(
                3,
                Host.ramswap(Duration.ofMinutes(1), "status", "--mount", "/run/ramswap-none-" + tag)
                        .exitCode());
        assertEquals(
                1,
                Host.ramswap(Duration.ofMinutes(1), "up", "--size", "64M", "--mount", mount.toString())
                        .exitCode(),
                "a second up on a live mount is refused");
    }

    @Test
    @Order(4)
    void shouldLeaveNoMountNoLoopDeviceAndNoSwapAreaAfterDown() {
        List<String> loops = Host.loopsUnder(mount);
        Host.Run r = Host.ramswap(Duration.ofMinutes(10), "down", "--mount", mount.toString());
        assertEquals(0, r.exitCode());
        assertFalse(Host.mounts().contains(" " + mount + " "), "mount left");
        assertTrue(Host.loopsUnder(mount).isEmpty(), "loop device left");
        for (String loop : loops) {
            assertFalse(Host.procSwaps().contains(loop + " "), "swap area left: " + Host.procSwaps());
        }
        assertFalse(java.nio.file.Files.exists(mount), "mount directory left");
    }

    /** Runs the workload under a 64 MiB cgroup and returns the most pages ramswap held meanwhile. */
    private long runWorkload(String label) {
        AtomicLong peak = new AtomicLong();
        AtomicLong peakZpages = new AtomicLong();
        AtomicLong zbytesAtPeak = new AtomicLong();
        Thread sampler = new Thread(
                () -> {
                    long deadline = System.nanoTime() + WORK.toNanos();
                    while (!Thread.currentThread().isInterrupted() && System.nanoTime() < deadline) {
                        Map<String, Long> c = Host.counters(mount);
                        if (c.get("stored_pages") > peak.get()) {
                            peak.set(c.get("stored_pages"));
                        }
                        if (c.get("pers_zpages") > peakZpages.get()) {
                            peakZpages.set(c.get("pers_zpages"));
                            zbytesAtPeak.set(c.get("pers_zbytes"));
                        }
                        try {
                            Thread.sleep(200);
                        } catch (InterruptedException e) {
                            return;
                        }
                    }
                },
                "e2e-sampler");
        sampler.start();
        Host.Run r;
        try {
            r = Host.ramswap(
                    WORK,
                    "run",
                    "--ram",
                    "64M",
                    "--",
                    pagetest.toString(),
                    "--procs",
                    "4",
                    "--mib",
                    Long.toString(WORKLOAD_MIB),
                    "--passes",
                    "3",
                    "--seed",
                    "42",
                    "--quiet");
        } finally {
            sampler.interrupt();
        }
        assertEquals(0, r.exitCode(), "workload failed");
        assertEquals(0, r.value("mismatches"), "pages came back wrong");
        assertEquals(0, r.value("killed_children"));
        double ratio = zbytesAtPeak.get() == 0 ? 0 : peakZpages.get() * 4096.0 / zbytesAtPeak.get();
        long after = waitForDiscards(peak.get());
        System.out.printf(
                "%s run: %s s, stored pages during (peak) %d, after %d; compression ratio at peak %.2f (%d pages in %d bytes)%n",
                label,
                r.value("majflt") >= 0
                        ? r.output()
                                .lines()
                                .filter(l -> l.startsWith("elapsed_s"))
                                .findFirst()
                                .orElse("?")
                        : "?",
                peak.get(),
                after,
                ratio,
                peakZpages.get(),
                zbytesAtPeak.get());
        assertTrue(peak.get() > 0, "nothing was swapped to ramswap");
        assertTrue(ratio > 1.2, "text-like pages must compress: ratio " + ratio);
        assertTrue(
                after <= peak.get() / 10 + 16,
                "discards must free what the workload left: " + after + " of " + peak.get() + " still stored");
        return peak.get();
    }

    /** The kernel discards free swap clusters late; wait (bounded) for the store to shrink. */
    private long waitForDiscards(long peak) {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        long stored;
        do {
            stored = Host.counters(mount).get("stored_pages");
            if (stored <= peak / 10 + 16) {
                break;
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        } while (System.nanoTime() < deadline);
        return stored;
    }
}
