package ramswap.cli;

import java.io.PrintWriter;
import java.time.Instant;
import java.time.ZoneId;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(
        mixinStandardHelpOptions = true,
        name = "status",
        description =
                "Is ramswap up; its swap area, pages stored, compression ratio and cluster. Exit code 3 when it is not running.")
final class StatusCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Override
    public Integer call() throws RamswapException {
        PrintWriter out = spec.commandLine().getOut();
        Instance instance = mountOption.instance();
        instance.requireLive();
        Map<String, String> s = instance.status();
        Map<String, Long> c = instance.counters();
        String devices = s.get("swap_devices");
        out.printf(
                "ramswap is %s at %s (pid %s), started %s%n",
                "live".equals(s.get("state")) ? "up" : s.get("state"),
                instance.dir(),
                s.get("pid"),
                Uptime.describe(Instant.parse(s.get("started")), Instant.now(), ZoneId.systemDefault()));
        if (s.containsKey("stalled")) {
            out.printf(
                    "  STALLED    no request taken for %s; if it stays so: sudo ./ramswap down --abort --mount %s%n",
                    s.get("stalled"), instance.dir());
        }
        if (s.getOrDefault("swap", "on").startsWith("none")) {
            out.printf("  swap       %s%n", s.get("swap"));
        } else {
            long used =
                    SwapDevice.usedBytes(java.util.List.of(devices.split(" "))).orElse(-1);
            out.printf(
                    "  swap       %s, %s, priority %s, %s in use%n",
                    devices,
                    Sizes.human(Long.parseLong(s.get("size_bytes"))),
                    s.get("priority"),
                    used < 0 ? "not active" : Sizes.human(used));
        }
        if (s.containsKey("role")) {
            out.printf(
                    "  role       %s%n",
                    role(
                            s.get("role"),
                            Long.parseLong(s.getOrDefault("lend_bytes", "0")),
                            c.getOrDefault("foreign_pers_bytes", 0L)));
        }
        out.printf(
                "  stored     %d pages (%s): %d compressed into %s, %d same-filled, %d remote%n",
                c.get("stored_pages"),
                Sizes.human(c.get("stored_pages") * 4096),
                c.get("pers_zpages"),
                Sizes.human(c.get("pers_zbytes")),
                c.get("zero_filled_pages"),
                c.get("remote_pers_pages"));
        out.printf("  ratio      %s (original / compressed bytes of pooled pages)%n", s.get("compression_ratio"));
        Map<String, String> knobs = instance.knobs();
        out.printf(
                "  pool       %s mapped, limit %s%n",
                Sizes.human(c.get("pool_bytes")), Sizes.human(Long.parseLong(knobs.get("pool_max_bytes"))));
        if (s.containsKey("pool_full")) {
            out.printf("  pool FULL  %s%n", s.get("pool_full"));
        }
        out.printf("  cluster    %s%n", s.get("cluster"));
        if (!"-1".equals(knobs.getOrDefault("remote_target_nodenum", "-1"))) {
            out.printf(
                    "  targets    %s (remotify %s)%n",
                    knobs.get("remote_target_nodenum"),
                    "1".equals(knobs.get("pers_remotify_enable")) ? "on" : "off: pers_remotify_enable is 0");
        }
        if (c.getOrDefault("pers_pages_remoted", 0L) > 0) {
            boolean fetched = c.getOrDefault("remote_fetches", 0L) > 0;
            out.printf(
                    "  remote     %d pages (%s compressed) on other nodes, local target %s; fetch p50 %s, p99 %s;"
                            + " %d pages brought home; %d reads failed%n",
                    c.get("remote_pers_pages"),
                    Sizes.human(c.get("remote_pers_zbytes")),
                    Sizes.human(Long.parseLong(knobs.get("local_target_bytes"))),
                    micros(fetched, c.get("remote_fetch_p50_us")),
                    micros(fetched, c.get("remote_fetch_p99_us")),
                    c.get("repatriated_pages"),
                    c.get("remote_pers_pages_unsucc_get"));
        }
        if (c.getOrDefault("remote_pers_pages", 0L) > 0 || c.getOrDefault("remote_pages_to_replace", 0L) > 0) {
            long oneCopy = c.getOrDefault("remote_pages_one_copy", 0L);
            long toRepair = c.getOrDefault("remote_pages_to_replace", 0L);
            boolean settled = c.getOrDefault("remote_partitions_settled", 1L) != 0;
            String state = oneCopy == 0 && toRepair == 0 && settled
                    ? "every remote page has them"
                    : String.format(
                            "DEGRADED: %d pages with one copy, %d to repair (repairing at most %s pages/s)%s",
                            oneCopy,
                            toRepair,
                            knobs.get("repair_pages_per_sec"),
                            settled ? "" : ", partitions settling");
            out.printf(
                    "  copies     %s wanted per page; %s; %d pages given new copies so far, %d reads served by a second copy%n",
                    knobs.get("remote_copies"),
                    state,
                    c.getOrDefault("remote_pages_replaced", 0L),
                    c.getOrDefault("remote_reads_second_copy", 0L));
        }
        if (c.getOrDefault("remote_pages_lost", 0L) > 0) {
            out.printf(
                    "  LOST       %d remote pages: every copy was with a lender that left without handing it over; their reads"
                            + " fail with EIO (the log names each block)%n",
                    c.get("remote_pages_lost"));
        }
        if (s.containsKey("selfshrink_waiting")) {
            out.printf("  selfshrink waiting: %s%n", s.get("selfshrink_waiting"));
        }
        out.printf("  log        %s%n", s.get("log"));
        out.printf(
                "  protected  mlock %s; heap pre-touch %s; io_flusher %s; oom_score_adj %s; pool reserve %s%n",
                s.get("protection_mlock"),
                s.get("protection_heap_pretouch"),
                s.get("protection_io_flusher"),
                s.get("protection_oom_score_adj"),
                Sizes.human(Long.parseLong(s.getOrDefault("pool_reserve_bytes", "0"))));
        if (s.containsKey("last_error")) {
            out.printf("  last error %s%n", s.get("last_error"));
        }
        return 0;
    }

    /**
     * The role as the daemon names it (the words of {@code nodes}), and what it means for other
     * nodes' pages: a node that lends nothing holds none, whether client or lite member.
     */
    static String role(String role, long lendBytes, long foreignBytes) {
        if (lendBytes == 0) {
            return role + ": lends nothing, holds no one's pages";
        }
        return String.format(
                Locale.ROOT,
                "%s: quota %s, of which %s hold other nodes' pages now",
                role,
                Sizes.human(lendBytes),
                Sizes.human(foreignBytes));
    }

    /** A time never measured (no fetch yet) is "-", not 0. */
    static String micros(boolean measured, long us) {
        return measured ? us + " us" : "-";
    }
}
