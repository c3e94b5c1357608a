package ramswap.cli;

import java.io.PrintWriter;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;

@Command(mixinStandardHelpOptions = true, name = "status", description = "Is ramswap up; its swap area, pages stored, compression ratio and cluster. Exit code 3 when it is not running.")
final class StatusCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Override
    public Integer call() throws RamswapException {
        PrintWriter out = spec.commandLine().getOut();
        Instance instance = mountOption.instance();
        switch (instance.state()) {
            case ABSENT -> throw instance.notRunning();
            case STALE -> throw new RamswapException(RamswapException.NOT_RUNNING, "ramswap at " + instance.dir()
                    + " has died and left its mount; clean up with: sudo ./ramswap down --mount " + instance.dir());
            case FOREIGN -> throw instance.foreign(RamswapException.NOT_RUNNING, "");
            case LIVE -> { }
        }
        Map<String, String> s = instance.status();
        Map<String, Long> c = instance.counters();
        String devices = s.get("swap_devices");
        long used = SwapDevice.usedBytes(java.util.List.of(devices.split(" "))).orElse(-1);
        out.printf("ramswap is %s at %s (pid %s, since %s)%n", "live".equals(s.get("state")) ? "up" : s.get("state"),
                instance.dir(), s.get("pid"), s.get("started"));
        out.printf("  swap       %s, %s, priority %s, %s in use%n", devices, Sizes.human(Long.parseLong(s.get("size_bytes"))),
                s.get("priority"), used < 0 ? "not active" : Sizes.human(used));
        out.printf("  stored     %d pages (%s): %d compressed into %s, %d same-filled, %d remote%n",
                c.get("stored_pages"), Sizes.human(c.get("stored_pages") * 4096), c.get("pers_zpages"),
                Sizes.human(c.get("pers_zbytes")), c.get("zero_filled_pages"), c.get("remote_pers_pages"));
        out.printf("  ratio      %s (original / compressed bytes of pooled pages)%n", s.get("compression_ratio"));
        out.printf("  pool       %s mapped, limit %s%n", Sizes.human(c.get("pool_bytes")),
                Sizes.human(instance.knobs().get("pool_max_bytes")));
        if (s.containsKey("pool_full")) {
            out.printf("  pool FULL  %s%n", s.get("pool_full"));
        }
        out.printf("  cluster    %s%n", s.get("cluster"));
        out.printf("  log        %s%n", s.get("log"));
        out.printf("  protected  mlock %s; heap pre-touch %s; io_flusher %s; oom_score_adj %s; pool reserve %s%n",
                s.get("protection_mlock"), s.get("protection_heap_pretouch"), s.get("protection_io_flusher"),
                s.get("protection_oom_score_adj"), Sizes.human(Long.parseLong(s.getOrDefault("pool_reserve_bytes", "0"))));
        if (s.containsKey("last_error")) {
            out.printf("  last error %s%n", s.get("last_error"));
        }
        return 0;
    }
}
