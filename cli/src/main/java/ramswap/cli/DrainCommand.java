package ramswap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        mixinStandardHelpOptions = true,
        name = "drain",
        sortOptions = false,
        description = {
            "Bring every page this node keeps on other nodes back into its local pool, with progress, for example before "
                    + "maintenance of a lender. Needs root.",
            "Turns pers_remotify_enable off first, since the pages would go straight back out; 'ramswap set pers_remotify_enable 1' "
                    + "turns it on again. Refuses, with the figures, when the local pool cannot hold the pages (see pool_max_bytes)."
        },
        footer = {
            "",
            "Exit codes: 0 every page home, 1 refused or not finished in time (pages left remote are still served), "
                    + "2 bad usage, 3 not running, 4 needs root."
        })
final class DrainCommand implements Callable<Integer> {

    private static final int BAR = 30;
    /** Pool memory beyond the pages' compressed bytes: size classes round up, slabs fill partly. */
    private static final double POOL_SLACK = 1.25;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Option(
            names = "--timeout",
            defaultValue = "600",
            paramLabel = "SECONDS",
            description =
                    "Give up after this many seconds, 1..86400 (default: ${DEFAULT-VALUE}); pages still remote stay served.")
    long timeoutSeconds;

    @Override
    public Integer call() throws RamswapException {
        Root.require("ramswap drain");
        if (timeoutSeconds < 1 || timeoutSeconds > 86_400) {
            throw new RamswapException(
                    RamswapException.USAGE, "--timeout must be 1..86400 seconds, got " + timeoutSeconds);
        }
        PrintWriter out = spec.commandLine().getOut();
        Instance instance = mountOption.instance();
        instance.requireLive();
        Map<String, Long> c = instance.counters();
        long remote = c.get("remote_pers_pages");
        if (remote == 0) {
            out.println("drain: no page of this node is on another node");
            return 0;
        }
        long need = (long) (c.get("remote_pers_zbytes") * POOL_SLACK);
        long limit = Long.parseLong(instance.knobs().get("pool_max_bytes"));
        long room = limit - c.get("pool_bytes");
        if (need > room) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "drain refused: " + remote + " remote pages need about "
                            + Sizes.human(need) + " of pool, and the pool has " + Sizes.human(Math.max(0, room))
                            + " left ("
                            + Sizes.human(c.get("pool_bytes")) + " mapped of pool_max_bytes " + Sizes.human(limit)
                            + "); raise it first (ramswap set pool_max_bytes SIZE) or free swap");
        }
        write(instance, "pers_remotify_enable", "0");
        out.println("drain: pers_remotify_enable set to 0; bringing " + remote + " pages home");
        write(instance, "repatriate_all", "1");
        long deadline = System.nanoTime() + Duration.ofSeconds(timeoutSeconds).toNanos();
        long left = remote;
        while (true) {
            sleep(500);
            Map<String, Long> now = instance.counters();
            left = now.get("remote_pers_pages");
            out.print("\rdrain: " + bar(remote - left, remote) + " " + (remote - Math.min(remote, left)) + " of "
                    + remote + " pages home");
            out.flush();
            if (left == 0) {
                out.println();
                out.println("drain: done; every page of this node is local");
                return 0;
            }
            if (instance.knobs().get("repatriate_all").equals("0")) {
                out.println();
                throw new RamswapException(
                        RamswapException.FAILED,
                        "drain stopped with " + left + " pages still remote: "
                                + (now.get("pool_limit_hit") > c.get("pool_limit_hit") || now.get("pool_bytes") >= limit
                                        ? "the local pool is full (pool_max_bytes " + Sizes.human(limit) + ")"
                                        : "some pages could not be fetched (remote_pages_lost "
                                                + now.get("remote_pages_lost")
                                                + ", remote_get_missing " + now.get("remote_get_missing")
                                                + ", remote_get_timeouts " + now.get("remote_get_timeouts")
                                                + ", remote_get_unauthentic "
                                                + now.get("remote_get_unauthentic") + ")")
                                + "; they stay remote and are still served");
            }
            if (System.nanoTime() > deadline) {
                out.println();
                write(instance, "repatriate_all", "0");
                throw new RamswapException(
                        RamswapException.FAILED,
                        "drain not finished after " + timeoutSeconds + " s: " + left
                                + " pages still remote (they are still served); run drain again to go on");
            }
        }
    }

    private static String bar(long done, long total) {
        int filled = (int) Math.min(BAR, Math.max(0, done * BAR / Math.max(1, total)));
        return "[" + "#".repeat(filled) + ".".repeat(BAR - filled) + "]";
    }

    private static void write(Instance instance, String knob, String value) throws RamswapException {
        try {
            instance.writeKnob(knob, value + "\n");
        } catch (MountIo.NoAnswer e) {
            throw instance.hung();
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "cannot set " + knob + ": " + e.getMessage() + " (is this ramswap older than drain?)");
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
