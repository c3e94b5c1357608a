package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * A pool limit far below what the workload swaps: the pool fills, the store refuses swap writes,
 * the kernel keeps those pages and retries them ("Write-error on swap-device"), and the workload
 * stalls. Nothing may be lost meanwhile: once the operator raises the limit, as the status file
 * tells them to, the workload must finish with every page verified.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class PoolFullIT {

    /** How long to wait for the pool to fill, and how long to watch the refusals go on (-Dramswap.poolfull.stall=SECONDS). */
    private static final Duration FILL_TIMEOUT = Duration.ofSeconds(90);

    private static final Duration STALL_WATCHED = Duration.ofSeconds(Long.getLong("ramswap.poolfull.stall", 10));
    /** The workload takes about 15 s with the stall; the rest is margin for a loaded machine. */
    private static final Duration WORK_TIMEOUT = STALL_WATCHED.plusSeconds(170);

    private static final long RAISED_LIMIT_BYTES = 512L << 20;
    private static final String WRITE_ERROR = "Write-error on swap-device";
    private static final Pattern SUPPRESSED = Pattern.compile("end_swap_bio_write: (\\d+) callbacks suppressed");
    private static final Pattern STAMP = Pattern.compile("^\\[\\s*(\\d+\\.\\d+)\\]");
    private static final Pattern CRASH = Pattern.compile("segfault at|Killed process|oom-kill");

    private final String tag = Host.tag("pf-");
    private final Path mount = Path.of("/run/ramswap-" + tag);

    @Test
    void shouldStallWithoutLosingAPageWhileThePoolIsFullAndFinishOnceTheLimitIsRaised() throws Exception {
        Thread workload = null;
        try {
            Host.Run up = Host.ramswap(
                    Duration.ofMinutes(4),
                    "up",
                    "--size",
                    "1G",
                    "--pool-max",
                    "16M",
                    "--pool-reserve",
                    "1M",
                    "--pool-overcommit",
                    "--priority",
                    "32000",
                    "--mount",
                    mount.toString(),
                    "--cluster-name",
                    tag,
                    "--port",
                    "5751");
            assertEquals(0, up.exitCode(), "ramswap up failed");
            Path pagetest = Host.pagetest();
            double logStart = lastStamp(Host.kernelLog());
            long start = System.nanoTime();

            AtomicReference<Host.Run> result = new AtomicReference<>();
            List<String> cmd = List.of(
                    Host.LAUNCHER.toString(),
                    "run",
                    "--ram",
                    "64M",
                    "--",
                    pagetest.toString(),
                    "--procs",
                    "2",
                    "--mib",
                    "256",
                    "--passes",
                    "2",
                    "--seed",
                    "31",
                    "--mix",
                    "34:33:33",
                    "--timeout",
                    Long.toString(WORK_TIMEOUT.toSeconds() - 30),
                    "--quiet");
            workload = new Thread(() -> result.set(runBounded(cmd)), "pool-full-workload");
            workload.start();

            // the pool fills: pool_limit_hit rises, and keeps rising while the kernel retries what was refused
            assertTrue(
                    waitFor(() -> Host.counters(mount).get("pool_limit_hit") > 0, FILL_TIMEOUT, workload),
                    "pool_limit_hit stayed 0 (for up to " + FILL_TIMEOUT.toSeconds()
                            + " s, while the workload ran): the pool never filled");
            long firstRefusal = System.nanoTime();
            long hitsAtFirst = Host.counters(mount).get("pool_limit_hit");
            Thread.sleep(STALL_WATCHED.toMillis());
            Map<String, Long> stalled = Host.counters(mount);
            String poolFull = Host.read(mount.resolve("status").toString())
                    .lines()
                    .filter(l -> l.startsWith("pool_full:"))
                    .findFirst()
                    .orElse(null);
            long errorsWhileFull = writeErrors(kernelLogSince(logStart));
            boolean finishedWhileFull = !workload.isAlive();

            long raised = System.nanoTime();
            assertEquals(
                    0,
                    Host.ramswap(
                                    Duration.ofMinutes(1),
                                    "set",
                                    "--mount",
                                    mount.toString(),
                                    "pool_max_bytes",
                                    Long.toString(RAISED_LIMIT_BYTES))
                            .exitCode(),
                    "raising the pool limit");
            workload.join(WORK_TIMEOUT.toMillis() + 30_000);
            long finished = System.nanoTime();
            Host.Run r = result.get();
            assertNotNull(r, "the workload did not end");
            Map<String, Long> end = Host.counters(mount);
            List<String> crashes = kernelLogSince(logStart).stream()
                    .filter(l -> CRASH.matcher(l).find())
                    .toList();

            System.out.printf("%n== pool limit 16 MiB, a 256 MiB workload in 64 MiB of RAM ==%n");
            System.out.printf(
                    "  pool full %.1f s after the start; watched %d s; limit raised %.1f s after the first refusal%n",
                    (firstRefusal - start) / 1e9, STALL_WATCHED.toSeconds(), (raised - firstRefusal) / 1e9);
            System.out.printf(
                    "  pool_limit_hit %d at the first look, %d when raised, %d at the end; pool_reserve_empty %d%n",
                    hitsAtFirst,
                    stalled.get("pool_limit_hit"),
                    end.get("pool_limit_hit"),
                    end.get("pool_reserve_empty"));
            System.out.printf(
                    "  swap write errors while full: %d ('%s' in the kernel log, with those its rate limit suppressed)%n",
                    errorsWhileFull, WRITE_ERROR);
            System.out.printf("  status file: %s%n", poolFull == null ? "no pool_full: line" : poolFull);
            System.out.printf(
                    "  workload %s; after the raise it took %.1f s more: exit %d, elapsed %s s, mismatches %s, killed children %s%n",
                    finishedWhileFull ? "had ENDED while the pool was full" : "still running when the limit was raised",
                    (finished - raised) / 1e9,
                    r.exitCode(),
                    field(r, "elapsed_s"),
                    field(r, "mismatches"),
                    field(r, "killed_children"));
            System.out.printf(
                    "  segfaults and OOM kills in the kernel log during the run: %d %s%n", crashes.size(), crashes);

            assertAll(
                    () -> assertEquals("0", field(r, "mismatches"), "pages came back wrong"),
                    () -> assertEquals(0, r.exitCode(), "workload failed"),
                    () -> assertFalse(
                            finishedWhileFull, "the workload ended while the pool was full: it did not wait for swap"),
                    () -> assertTrue(
                            stalled.get("pool_limit_hit") > hitsAtFirst, "refusals go on while the pool is full"),
                    () -> assertNotNull(poolFull, "the status file says the pool is full (a pool_full: line)"));
        } finally {
            if (workload != null && workload.isAlive()) {
                // stuck on a full pool: fail its swap-ins so that its processes die, then stop
                Host.abortFuse(mount);
                workload.join(60_000);
            }
            if (Host.mounts().contains(" " + mount + " ")) {
                Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString());
            }
            Host.removeLeftovers(mount);
        }
        assertFalse(Host.mounts().contains(" " + mount + " "), "mount left behind");
        assertTrue(Host.loopsUnder(mount).isEmpty(), "loop device left behind");
    }

    /** The workload; on time-out the FUSE connection is aborted so that its processes can die. */
    private Host.Run runBounded(List<String> cmd) {
        try {
            return Host.exec(
                    WORK_TIMEOUT, Map.of("RAMSWAP_JAR", Host.JAR.toString()), cmd, () -> Host.abortFuse(mount), true);
        } catch (AssertionError timedOut) {
            return new Host.Run(-1, "hung\n" + timedOut.getMessage());
        }
    }

    /** Polls until {@code condition} holds (true), or the time is up or the workload ended (false). */
    private static boolean waitFor(BooleanSupplier condition, Duration timeout, Thread workload)
            throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() - deadline < 0) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (!workload.isAlive()) {
                return false;
            }
            Thread.sleep(200);
        }
        return false;
    }

    /**
     * The kernel log's lines after a time stamp (seconds since boot, as dmesg prints them). Not
     * by line count: a full pool fills the log's ring buffer, and old lines drop out as new come.
     */
    private static List<String> kernelLogSince(double stamp) {
        return Host.kernelLog().stream().filter(l -> stamp(l) > stamp).toList();
    }

    private static double lastStamp(List<String> log) {
        return log.isEmpty() ? 0 : stamp(log.get(log.size() - 1));
    }

    private static double stamp(String line) {
        Matcher m = STAMP.matcher(line);
        return m.find() ? Double.parseDouble(m.group(1)) : -1;
    }

    /** Swap write errors the kernel reported: the lines it printed plus those its rate limit suppressed (counted at its next print). */
    private static long writeErrors(List<String> log) {
        long n = 0;
        for (String line : log) {
            Matcher m = SUPPRESSED.matcher(line);
            if (m.find()) {
                n += Long.parseLong(m.group(1));
            } else if (line.contains(WRITE_ERROR)) {
                n++;
            }
        }
        return n;
    }

    private static String field(Host.Run r, String key) {
        return r.output()
                .lines()
                .filter(l -> l.startsWith(key + " "))
                .map(l -> l.substring(key.length() + 1).strip())
                .findFirst()
                .orElse("?");
    }
}
