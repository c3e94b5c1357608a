package ramswap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import ramswap.fuse.MountTable;

/**
 * {@code ramswap down --abort}: tears down a ramswap whose daemon does not answer, without its
 * help. Swap is turned off where that still works; then the FUSE connection is aborted, so that
 * every request to it fails at once instead of waiting; swap is turned off again (the kernel now
 * gives up on the pages it cannot read: it marks them poisoned, and a process that touches one
 * gets SIGBUS); then losetup -d, a lazy unmount, and SIGKILL to the daemon, identified by the
 * mount table and checked to be ramswap's. It says what was lost.
 */
final class ForcedDown {

    /** How long swapoff may try to bring pages back from a daemon that may still answer. */
    static final long SWAPOFF_BEFORE_ABORT_SECONDS = 15;

    private static final Duration SWAPOFF_BEFORE_ABORT = Duration.ofSeconds(SWAPOFF_BEFORE_ABORT_SECONDS);
    /** After the abort reads fail at once; this only bounds a kernel that is slow to give up. */
    static final Duration SWAPOFF_AFTER_ABORT = Duration.ofSeconds(20);

    private static final Duration QUICK = Duration.ofSeconds(20);
    private static final Path FUSE_CONNECTIONS = Path.of("/sys/fs/fuse/connections");

    private final Instance instance;
    private final PrintWriter out;

    ForcedDown(Instance instance, PrintWriter out) {
        this.instance = instance;
        this.out = out;
    }

    /** Returns 0 when nothing of this ramswap is left; throws, saying what is left, otherwise. */
    int run() throws RamswapException {
        Optional<ProcessHandle> daemon = instance.daemon();
        OptionalInt connection = instance.fuseConnection();
        List<String> loops = SwapDevice.loopsBackedBy(instance.swapFile());
        say("aborting ramswap at " + instance.dir() + " (daemon pid "
                + daemon.map(p -> Long.toString(p.pid())).orElse("unknown") + ", loop devices " + loops + ")");
        Map<String, Long> before = used(loops);
        say("in swap now: " + describe(before));

        say("swapoff, for at most " + SWAPOFF_BEFORE_ABORT.toSeconds() + " s, of what the daemon may still bring back");
        swapoffAll(active(loops), SWAPOFF_BEFORE_ABORT);
        Map<String, Long> atAbort = used(loops);
        long lost = sum(atAbort);

        if (connection.isPresent()) {
            abort(connection.getAsInt());
        } else {
            say("no ramswap mount at " + instance.dir() + ": no FUSE connection to abort");
        }
        List<String> stillOn = active(loops);
        if (!stillOn.isEmpty()) {
            say("swapoff of " + stillOn + " again, now that reads fail at once");
            swapoffAll(stillOn, SWAPOFF_AFTER_ABORT);
        }
        for (String loop : loops) {
            Exec.Result r = Exec.run(QUICK, "losetup", "--detach", loop);
            say("losetup --detach " + loop + (r.ok() ? "" : " failed: " + r.describe()));
        }
        if (MountTable.isMountPoint(instance.dir())) {
            Exec.Result r = Exec.run(QUICK, "umount", "-l", instance.dir().toString());
            say("umount -l " + instance.dir() + (r.ok() ? "" : " failed: " + r.describe()));
        }
        if (daemon.isPresent()) {
            ProcessHandle p = daemon.get();
            p.destroyForcibly();
            boolean gone = waitForExit(p, QUICK);
            say("daemon pid " + p.pid()
                    + (gone ? " killed" : " did not exit within " + QUICK.toSeconds() + " s of SIGKILL"));
        } else {
            say("no ramswap daemon process found for " + instance.dir() + "; none was signalled");
        }

        Map<String, Long> after = used(loops);
        say("lost: " + Sizes.human(lost)
                + " was still in swap when the connection was aborted and could not come back into RAM"
                + (lost == 0 ? "" : "; processes that touch those pages get SIGBUS and die")
                + " (in swap before: " + describe(before) + "; at the abort: " + describe(atAbort) + ")");
        List<String> leftLoops = SwapDevice.loopsBackedBy(instance.swapFile());
        List<String> leftSwap = active(loops);
        boolean leftMount = MountTable.isMountPoint(instance.dir());
        boolean leftDaemon = daemon.map(ProcessHandle::isAlive).orElse(false);
        if (!leftLoops.isEmpty() || !leftSwap.isEmpty() || leftMount || leftDaemon) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "down --abort left " + (leftSwap.isEmpty() ? "" : "swap areas " + leftSwap + " ")
                            + (leftLoops.isEmpty() ? "" : "loop devices " + leftLoops + " ")
                            + (leftMount ? "the mount " + instance.dir() + " " : "")
                            + (leftDaemon ? "the daemon (pid " + daemon.get().pid() + ") " : "") + "(still in swap: "
                            + describe(after) + ")"
                            + (leftSwap.isEmpty()
                                    ? ""
                                    : "; swapoff " + String.join(" ", leftSwap)
                                            + " again once the processes whose pages"
                                            + " they hold have ended (a loop device still used as swap is detached when swap lets go of it)"));
        }
        out.println("ramswap: down --abort: no swap area, no loop device, no mount and no daemon left");
        out.flush();
        return 0;
    }

    /**
     * Writes to the connection's abort file: every request waiting on the daemon fails, and every
     * later one fails at once. Mounts the fuse control file system for it when it is not mounted,
     * and unmounts it after only then.
     */
    private void abort(int connection) throws RamswapException {
        boolean mountedHere = false;
        if (!MountTable.typeOf(FUSE_CONNECTIONS).filter("fusectl"::equals).isPresent()) {
            Exec.Result r = Exec.run(QUICK, "mount", "-t", "fusectl", "fusectl", FUSE_CONNECTIONS.toString());
            if (!r.ok()) {
                say("cannot mount the fuse control file system: " + r.describe());
            }
            mountedHere = r.ok();
        }
        try {
            Files.writeString(
                    FUSE_CONNECTIONS.resolve(Integer.toString(connection)).resolve("abort"), "1");
            say("aborted FUSE connection " + connection + " of " + instance.dir());
        } catch (IOException e) {
            say("cannot abort FUSE connection " + connection + ": " + e.getMessage());
        } finally {
            if (mountedHere) {
                Exec.run(QUICK, "umount", FUSE_CONNECTIONS.toString());
            }
        }
    }

    /**
     * Runs swapoff on every device at once, each retried until {@code bound} has passed: a swapoff
     * started before the abort may still be ending, and the device is busy until it has.
     */
    private void swapoffAll(List<String> devices, Duration bound) {
        List<Thread> threads = new ArrayList<>();
        for (String d : devices) {
            Thread t = new Thread(
                    () -> swapoff(d, bound), "ramswap-swapoff-" + Path.of(d).getFileName());
            t.setDaemon(true);
            t.start();
            threads.add(t);
        }
        long deadline =
                System.nanoTime() + bound.toNanos() + Duration.ofSeconds(5).toNanos();
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, (deadline - System.nanoTime()) / 1_000_000));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    private void swapoff(String device, Duration bound) {
        long deadline = System.nanoTime() + bound.toNanos();
        String failure = "";
        while (SwapDevice.isActive(device)) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                say("swapoff " + device + " did not finish within " + bound.toSeconds() + " s"
                        + (failure.isEmpty() ? "" : ": " + failure));
                return;
            }
            try {
                Exec.Result r = Exec.run(Duration.ofNanos(left), "swapoff", device);
                if (r.ok()) {
                    say("swapoff " + device + " done");
                    return;
                }
                failure = r.describe();
            } catch (RamswapException e) {
                failure = e.getMessage(); // timed out: killed, and it ends once its reads fail
            }
            sleep(200);
        }
        say(device + " is off" + (failure.isEmpty() ? "" : " (the swapoff started before the abort has ended)"));
    }

    private static List<String> active(List<String> loops) {
        return loops.stream().filter(SwapDevice::isActive).toList();
    }

    /** Used bytes per active swap area among {@code loops}, from /proc/swaps. */
    private static Map<String, Long> used(List<String> loops) {
        Map<String, Long> m = new LinkedHashMap<>();
        for (String d : loops) {
            SwapDevice.usedBytes(d).ifPresent(u -> m.put(d, u));
        }
        return m;
    }

    private static long sum(Map<String, Long> used) {
        return used.values().stream().mapToLong(Long::longValue).sum();
    }

    private static String describe(Map<String, Long> used) {
        if (used.isEmpty()) {
            return "no swap area";
        }
        StringBuilder b = new StringBuilder(Sizes.human(sum(used)));
        b.append(" (");
        used.forEach((d, u) -> b.append(b.charAt(b.length() - 1) == '(' ? "" : ", ")
                .append(d)
                .append(' ')
                .append(Sizes.human(u)));
        return b.append(')').toString();
    }

    private static boolean waitForExit(ProcessHandle p, Duration bound) {
        try {
            p.onExit().get(bound.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS);
            return true;
        } catch (java.util.concurrent.TimeoutException | java.util.concurrent.ExecutionException e) {
            return !p.isAlive();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return !p.isAlive();
        }
    }

    private void say(String message) {
        synchronized (out) {
            out.println("ramswap: " + message);
            out.flush();
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
