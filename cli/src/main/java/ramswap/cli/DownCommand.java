package ramswap.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        mixinStandardHelpOptions = true,
        name = "down",
        sortOptions = false,
        description = {
            "Stop ramswap in the safe order: on a node that lends, hand the pages it holds to other lenders or back to their "
                    + "owners (progress is shown; refused when they can go nowhere, see --force); swapoff (pages come back into RAM; progress is "
                    + "shown), losetup -d, unmount, leave the cluster. Cleans up after a daemon that died. Needs root.",
            "A daemon that does not answer (stopped or stuck) is not signalled; --abort tears it down without its help, "
                    + "at the price of the pages it still held."
        })
final class DownCommand implements Callable<Integer> {

    /** A day: longer than any swapoff, and small enough that nanoseconds of it fit in a long many times over. */
    static final long MAX_TIMEOUT_SECONDS = 86_400;

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Option(
            names = "--timeout",
            defaultValue = "1800",
            paramLabel = "SECONDS",
            description =
                    "Give up waiting after this long, 1 to 86400 (default: ${DEFAULT-VALUE}); the daemon stays up if its pages cannot come back.")
    long timeoutSeconds;

    @Option(
            names = "--abort",
            description = {
                "For a daemon that does not answer: turn swap off where that still works (at most "
                        + ForcedDown.SWAPOFF_BEFORE_ABORT_SECONDS
                        + " s), abort the FUSE connection (/sys/fs/fuse/connections/N/abort), turn swap off again, losetup -d, "
                        + "unmount lazily, and kill the daemon (SIGKILL). Pages still in swap at the abort are lost: the kernel "
                        + "marks them poisoned, and a process that touches one gets SIGBUS and dies. Says how much that was."
            })
    boolean abort;

    @Option(
            names = "--force",
            description = {
                "On a node that lends: stop without handing the pages it holds to other lenders or back to their owners "
                        + "(sets handoff_on_stop to 0). Pages that have a second copy elsewhere are repaired from it; pages with no other copy "
                        + "are LOST, and the processes that own them die of SIGBUS. Without it, down on a lending node first hands its pages "
                        + "over, with progress, and refuses to stop when they cannot go anywhere."
            })
    boolean force;

    @Override
    public Integer call() throws RamswapException {
        if (timeoutSeconds < 1 || timeoutSeconds > MAX_TIMEOUT_SECONDS) {
            throw new RamswapException(
                    RamswapException.USAGE,
                    "--timeout must be between 1 and " + MAX_TIMEOUT_SECONDS + " seconds (a day), not "
                            + timeoutSeconds);
        }
        Root.require("ramswap down");
        PrintWriter out = spec.commandLine().getOut();
        Instance instance = mountOption.instance();
        Instance.State state = instance.state();
        if (abort && (state == Instance.State.LIVE || state == Instance.State.HUNG || state == Instance.State.STALE)) {
            return new ForcedDown(instance, out).run();
        }
        switch (state) {
            case ABSENT -> throw instance.notRunning();
            case FOREIGN -> throw instance.foreign(RamswapException.FAILED, "; left alone");
            case HUNG -> throw instance.hung(); // a stopped daemon would not act on SIGTERM; it is not signalled
            case STALE -> {
                instance.cleanStale(out);
                out.println("ramswap: down (cleaned up after a daemon that had died)");
                return 0;
            }
            case LIVE -> {}
        }
        Map<String, String> status = instance.status();
        long refusalsBefore = stopRefusals(status);
        long pid = Long.parseLong(status.get("pid"));
        List<String> devices = List.of(status.getOrDefault("swap_devices", "").split(" "));
        ProcessHandle daemon = ProcessHandle.of(pid)
                .filter(Instance::isRamswapDaemon)
                .orElseThrow(() -> new RamswapException(
                        RamswapException.FAILED,
                        "process " + pid + " named in " + instance.dir()
                                + "/status is not a ramswap daemon; nothing was signalled"));
        if (force) {
            try {
                instance.writeKnob("handoff_on_stop", "0\n");
                out.println(
                        "ramswap: --force: the pages this node holds for others are not handed over; those with no other copy are lost");
            } catch (java.io.IOException e) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "--force: cannot set handoff_on_stop on " + instance.dir() + ": " + e.getMessage());
            }
        }
        out.println("ramswap: stopping the daemon (pid " + pid + ") at " + instance.dir());
        out.flush();
        daemon.destroy(); // SIGTERM: the daemon tears down in order
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        long lastReport = 0;
        while (daemon.isAlive()) {
            if (System.nanoTime() > deadline) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "the daemon is still stopping after " + timeoutSeconds + " s; it keeps going, see its log: "
                                + status.get("log"));
            }
            if (instance.state() == Instance.State.LIVE) {
                Map<String, String> now;
                try {
                    now = instance.status();
                } catch (RamswapException goneOrBusy) {
                    now = Map.of(); // exited, or too busy bringing pages back to answer: look again
                }
                if (now.containsKey("handoff") && System.nanoTime() - lastReport > 2_000_000_000L) {
                    out.println("ramswap:   handing over: " + now.get("handoff"));
                    out.flush();
                    lastReport = System.nanoTime();
                }
                if (stopRefusals(now) > refusalsBefore) {
                    throw new RamswapException(
                            RamswapException.FAILED, "ramswap could not stop and stays up: " + now.get("last_error"));
                }
            }
            if (System.nanoTime() - lastReport > 2_000_000_000L) {
                SwapDevice.usedBytes(devices)
                        .ifPresent(u ->
                                out.println("ramswap:   " + (u >> 20) + " MiB still in swap, coming back into RAM"));
                out.flush();
                lastReport = System.nanoTime();
            }
            sleep(200);
        }
        List<String> leftovers = SwapDevice.loopsBackedBy(instance.swapFile());
        if (instance.state() != Instance.State.ABSENT || !leftovers.isEmpty()) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "the daemon exited but left " + (leftovers.isEmpty() ? "" : leftovers + " and ")
                            + "its mount state " + instance.state() + "; run ./ramswap down again to clean up; log:\n"
                            + UpCommand.tail(java.nio.file.Path.of(status.getOrDefault("log", "-")), 10));
        }
        out.println("ramswap: down: no swap area, no loop device, no mount left");
        return 0;
    }

    /** How many stop requests the daemon has refused; counting, not the last error, tells ours from an earlier one. */
    private static long stopRefusals(Map<String, String> status) {
        try {
            return Long.parseLong(status.getOrDefault("stop_refusals", "0"));
        } catch (NumberFormatException e) {
            return 0;
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
