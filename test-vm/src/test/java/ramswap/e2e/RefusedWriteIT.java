package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertAll;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * A write the pool refuses must fail whole, never be reported done. A loop device in direct-I/O
 * mode completes a short write as success (the kernel retries only short reads), so a store that
 * answered a request with the count of the blocks it managed to keep lost the rest silently.
 * Here the one loop device is taken out of swap and written directly, request after request of
 * random bytes at increasing offsets, past the pool's limit; every request is read back. The
 * limit is then raised a few times by a step that ends inside a request, so that the limit
 * falls part-way through requests, not only between them. Writes that outrun the pool's grower
 * are refused for an empty reserve (the grower backs each slab by faulting its pages in, about
 * 0.8 ms a slab on these machines, and the reserve here is small); a last phase lowers the limit
 * below what the pool holds, so that the limit itself refuses whatever the grower managed.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class RefusedWriteIT {

    private static final int WRITE_KIB = 96;
    /** 8192 raw pages at most: about 340 of the first 360 requests fit, the rest meet the limit. */
    private static final long FIRST_LIMIT_BYTES = 32L << 20;

    private static final int FIRST_WRITES = 360;
    /** Five slabs of 64 raw pages: 13 1/3 requests of 24 pages, so successive limits end at different places in a request. */
    private static final long STEP_BYTES = 5L * 256 * 1024;

    private static final int STEPS = 8;
    private static final int STEP_WRITES = 20;
    private static final Duration WRITE_TIMEOUT = Duration.ofMinutes(2);
    private static final List<String> SUMMED = List.of(
            "writes",
            "writes_ok",
            "writes_refused",
            "writes_refused_enospc",
            "writes_short",
            "mismatched_writes",
            "mismatched_blocks",
            "mismatched_bytes",
            "changed_refused_writes",
            "reverify_mismatched_writes");

    private final String tag = Host.tag("rw-");
    private final Path mount = Path.of("/run/ramswap-" + tag);

    @Test
    void shouldFailARefusedWriteWholeAndNeverReportItDone() {
        try {
            // a pool limit far below what the area can hold is what this test is about
            Host.Run up = Host.ramswap(
                    Duration.ofMinutes(4),
                    "up",
                    "--size",
                    "512M",
                    "--pool-max",
                    "8M",
                    "--pool-reserve",
                    "1M",
                    "--pool-overcommit",
                    "--loops",
                    "1",
                    "--priority",
                    "1",
                    "--mount",
                    mount.toString(),
                    "--cluster-name",
                    tag,
                    "--port",
                    "5741");
            assertEquals(0, up.exitCode(), "ramswap up failed");
            List<String> loops = Host.loopsUnder(mount);
            assertEquals(1, loops.size(), "one loop device over the swap file");
            String loop = loops.get(0);
            assertEquals(
                    0,
                    Host.exec(Duration.ofMinutes(2), Map.of(), List.of("swapoff", loop))
                            .exitCode(),
                    "swapoff " + loop);

            Path writecheck = Host.writecheck();
            Map<String, Long> before = Host.counters(mount);
            Map<String, Long> sum = new LinkedHashMap<>();
            int next = 0;
            long limit = FIRST_LIMIT_BYTES;
            for (int phase = 0; phase <= STEPS + 1; phase++) {
                int writes = phase == 0 ? FIRST_WRITES : STEP_WRITES;
                // raised while the pool holds little (phase 0), the limit lets the first writes grow it and refuses the
                // later
                // ones; the last phase's limit is below what the pool holds: every write past its spare slabs meets it
                assertEquals(
                        0,
                        Host.ramswap(
                                        Duration.ofMinutes(1),
                                        "set",
                                        "--mount",
                                        mount.toString(),
                                        "pool_max_bytes",
                                        Long.toString(phase == STEPS + 1 ? FIRST_LIMIT_BYTES / 4 : limit))
                                .exitCode());
                Host.Run w = Host.exec(
                        WRITE_TIMEOUT,
                        Map.of(),
                        List.of(
                                writecheck.toString(),
                                "--device",
                                loop,
                                "--first",
                                Integer.toString(next),
                                "--writes",
                                Integer.toString(writes),
                                "--kib",
                                Integer.toString(WRITE_KIB),
                                "--seed",
                                "23",
                                "--timeout",
                                Long.toString(WRITE_TIMEOUT.toSeconds() - 10)),
                        () -> Host.abortFuse(mount),
                        true);
                assertTrue(w.exitCode() == 0 || w.exitCode() == 1, "writecheck failed (exit " + w.exitCode() + ")");
                SUMMED.forEach(k -> sum.merge(k, w.value(k), Long::sum));
                next += writes;
                limit += STEP_BYTES;
            }
            Map<String, Long> after = Host.counters(mount);
            long limitHits = after.get("pool_limit_hit") - before.get("pool_limit_hit");
            long reserveEmpty = after.get("pool_reserve_empty") - before.get("pool_reserve_empty");
            long refused = sum.get("writes_refused");
            System.out.printf(
                    "%n== %d writes of %d KiB through %s; pool limit 32 MiB, then %d steps of %d KiB ==%n",
                    sum.get("writes"), WRITE_KIB, loop, STEPS, STEP_BYTES >> 10);
            System.out.printf(
                    "  done %d, refused %d (ENOSPC %d), short %d%n",
                    sum.get("writes_ok"), refused, sum.get("writes_refused_enospc"), sum.get("writes_short"));
            System.out.printf(
                    "  done but read back different: %d writes, %d blocks, %d bytes; refused but changed: %d; differ at the re-read: %d%n",
                    sum.get("mismatched_writes"),
                    sum.get("mismatched_blocks"),
                    sum.get("mismatched_bytes"),
                    sum.get("changed_refused_writes"),
                    sum.get("reverify_mismatched_writes"));
            System.out.printf(
                    "  counters during the writes: pool_limit_hit +%d, pool_reserve_empty +%d; stored_pages %d, pool_bytes %d KiB%n",
                    limitHits, reserveEmpty, after.get("stored_pages"), after.get("pool_bytes") >> 10);

            assertAll(
                    () -> assertEquals(
                            0, sum.get("mismatched_writes"), "writes reported done that read back other bytes"),
                    () -> assertEquals(
                            0, sum.get("reverify_mismatched_writes"), "writes verified once that differ later"),
                    () -> assertEquals(0, sum.get("changed_refused_writes"), "a refused write must change nothing"),
                    () -> assertEquals(0, sum.get("writes_short"), "a block device answers all or nothing"),
                    () -> assertTrue(refused > 0, "the writes went past the pool limit, some must be refused"),
                    () -> assertEquals(refused, sum.get("writes_refused_enospc"), "a refusal is ENOSPC"),
                    () -> assertTrue(sum.get("writes_ok") > 0, "the writes below the limit are stored"),
                    () -> assertTrue(limitHits > 0, "pool_limit_hit names the cause"),
                    () -> assertEquals(
                            refused, limitHits + reserveEmpty, "each refused request counted once, by its cause"));
        } finally {
            if (Host.mounts().contains(" " + mount + " ")) {
                Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString());
            }
            Host.removeLeftovers(mount);
        }
        assertFalse(Host.mounts().contains(" " + mount + " "), "mount left behind");
        assertTrue(Host.loopsUnder(mount).isEmpty(), "loop device left behind");
    }
}
