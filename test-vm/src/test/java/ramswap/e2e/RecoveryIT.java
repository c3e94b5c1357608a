package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import ramswap.fuse.FuseMount;

/** What an operator meets after something went wrong: a crashed daemon, a directory that is not ours, a failing job. */
@EnabledIf("ramswap.e2e.Host#canSwap")
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class RecoveryIT {

    private final String tag = Host.tag("rec-");

    @Test
    void shouldCleanUpAfterADaemonKilledWithSigkill() throws Exception {
        Path mount = Path.of("/run/ramswap-" + tag);
        try {
            assertEquals(
                    0,
                    Host.ramswap(
                                    Duration.ofMinutes(4),
                                    "up",
                                    "--size",
                                    "64M",
                                    "--mount",
                                    mount.toString(),
                                    "--priority",
                                    "1",
                                    "--cluster-name",
                                    tag,
                                    "--port",
                                    "5721")
                            .exitCode());
            long pid = Long.parseLong(Files.readAllLines(mount.resolve("status")).stream()
                    .filter(l -> l.startsWith("pid: "))
                    .findFirst()
                    .orElseThrow()
                    .substring(5));
            ProcessHandle daemon = ProcessHandle.of(pid).orElseThrow();
            daemon.destroyForcibly();
            daemon.onExit().get(30, java.util.concurrent.TimeUnit.SECONDS);

            Host.Run status = Host.ramswap(Duration.ofMinutes(1), "status", "--mount", mount.toString());
            assertEquals(3, status.exitCode());
            assertTrue(status.output().contains("has died"), status.output());

            Host.Run up = Host.ramswap(
                    Duration.ofMinutes(4),
                    "up",
                    "--size",
                    "64M",
                    "--mount",
                    mount.toString(),
                    "--priority",
                    "1",
                    "--cluster-name",
                    tag,
                    "--port",
                    "5721");
            assertEquals(0, up.exitCode(), "up cleans the stale mount and starts again");
            assertEquals(8, Host.loopsUnder(mount).size(), "only the new daemon's loop devices remain");
            assertEquals(
                    0,
                    Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString())
                            .exitCode());
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
            assertEquals(
                    0,
                    Host.exec(
                                    Duration.ofSeconds(30),
                                    Map.of(),
                                    List.of("mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", dir.toString()))
                            .exitCode());
            Host.Run up = Host.ramswap(
                    Duration.ofMinutes(2), "up", "--size", "64M", "--mount", dir.toString(), "--cluster-name", tag);
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
        Host.Run r = Host.ramswap(
                Duration.ofMinutes(1), "run", "--ram", "32M", "--", "/bin/sh", "-c", "echo in-cgroup; exit 7");
        assertEquals(7, r.exitCode());
        assertTrue(r.output().contains("in-cgroup"), r.output());
        assertEquals(before, runGroups(), "no cgroup left behind");
        Host.Run bad = Host.ramswap(Duration.ofMinutes(1), "run", "--ram", "lots", "--", "/bin/true");
        assertEquals(2, bad.exitCode());
        assertTrue(bad.output().contains("is not a size"), bad.output());
    }

    /**
     * A daemon that lives but does not answer (SIGSTOP): the CLI must not hang on it, and down
     * --abort must take it down without its help, saying what was lost. A job keeps pages in its
     * swap and touches one now and then: after the abort those pages are gone, and the job dies of SIGBUS.
     */
    @Test
    void shouldAnswerWithinItsBoundAndAbortADaemonThatDoesNotAnswer() throws Exception {
        Path mount = Path.of("/run/ramswap-" + tag + "-hung");
        long pid = -1;
        Process job = null;
        Path jobOut = Files.createTempFile("ramswap-e2e-job", ".out");
        try {
            assertEquals(
                    0,
                    Host.ramswap(
                                    Duration.ofMinutes(4),
                                    "up",
                                    "--size",
                                    "64M",
                                    "--mount",
                                    mount.toString(),
                                    "--priority",
                                    "1",
                                    "--cluster-name",
                                    tag + "-hung",
                                    "--port",
                                    "5761")
                            .exitCode());
            pid = statusPid(mount);
            List<String> loops = Host.loopsUnder(mount);
            List<String> others = Host.procSwaps()
                    .lines()
                    .skip(1)
                    .map(l -> l.split("\\s+")[0])
                    .filter(d -> !loops.contains(d))
                    .toList();
            assertEquals(
                    List.of(),
                    others,
                    "the job's pages must go to this swap, but other swap areas are on (run the swap tests one at a time)");
            // 48 MiB of distinct words in 16 MiB of RAM: most of it goes to this swap; then one page a second is read
            job = launcher(
                            Host.LAUNCHER.toString(),
                            "run",
                            "--ram",
                            "16M",
                            "--",
                            "perl",
                            "-e",
                            "$| = 1; my $x = ''; $x .= pack('N', $_) for 1 .. 12_000_000; print \"filled\\n\"; "
                                    + "while (1) { sleep 1; my $s = ord(substr($x, int(rand(length $x)), 1)); }")
                    .redirectErrorStream(true)
                    .redirectOutput(jobOut.toFile())
                    .start();
            job.getOutputStream().close();
            Process started = job;
            assertTrue(
                    waitFor(
                            Duration.ofMinutes(2),
                            () -> Host.read(jobOut.toString()).contains("filled") || !started.isAlive()),
                    "the job did not fill its memory: " + Host.read(jobOut.toString()));
            assertTrue(job.isAlive(), "the job died early: " + Host.read(jobOut.toString()));
            long inSwap = usedKib(loops);
            assertTrue(inSwap > 8 * 1024, "the job's pages are in this swap: " + inSwap + " KiB\n" + Host.procSwaps());
            // Room in its cgroup for the pages swapoff brings back: in a full cgroup, swapoff would make room by
            // reclaim and then the OOM killer, and the job would die of that before it met a lost page.
            Path group = jobGroup(job.pid());
            Files.writeString(
                    group.resolve(
                            Files.exists(group.resolve("memory.limit_in_bytes"))
                                    ? "memory.limit_in_bytes"
                                    : "memory.max"),
                    Long.toString(1L << 30));

            assertEquals(
                    0,
                    Host.exec(Duration.ofSeconds(10), Map.of(), List.of("kill", "-STOP", Long.toString(pid)))
                            .exitCode());
            String hung = "ramswap at " + mount + " does not answer (daemon pid " + pid
                    + "); if it stays so: sudo ./ramswap down --abort --mount " + mount;
            for (String[] command :
                    List.of(new String[] {"status"}, new String[] {"get", "pers_zpages"}, new String[] {"down"})) {
                List<String> args = new ArrayList<>(Arrays.asList(command));
                args.addAll(List.of("--mount", mount.toString()));
                Host.Run r = Host.ramswap(Duration.ofSeconds(40), args.toArray(String[]::new));
                assertEquals(1, r.exitCode(), command[0] + ": " + r.output());
                assertTrue(r.output().contains(hung), command[0] + ": " + r.output());
            }
            assertTrue(
                    ProcessHandle.of(pid).isPresent(), "down without --abort signals no daemon that does not answer");
            assertEquals(pid, pidOf(mount), "the mount table names the daemon");

            Host.Run abort = Host.ramswap(Duration.ofMinutes(3), "down", "--abort", "--mount", mount.toString());
            assertEquals(0, abort.exitCode(), abort.output());
            assertTrue(
                    abort.output()
                            .contains(
                                    "was still in swap when the connection was aborted and could not come back into RAM; "
                                            + "processes that touch those pages get SIGBUS and die"),
                    abort.output());
            assertFalse(abort.output().contains("lost: 0 B"), "pages of the job were lost: " + abort.output());
            assertFalse(Host.mounts().contains(" " + mount + " "), "mount removed");
            assertTrue(Host.loopsUnder(mount).isEmpty(), "loop devices detached");
            for (String loop : loops) {
                assertFalse(
                        Host.procSwaps().contains(loop + " "),
                        loop + " is no swap area any more:\n" + Host.procSwaps());
            }
            long daemon = pid;
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(30),
                            () -> ProcessHandle.of(daemon).isEmpty()),
                    "the daemon was killed");

            assertTrue(
                    job.waitFor(2, TimeUnit.MINUTES),
                    "the job touched a lost page and died: " + Host.read(jobOut.toString()));
            assertEquals(128 + 7, job.exitValue(), "killed by SIGBUS: " + Host.read(jobOut.toString()));
        } finally {
            if (pid > 0) {
                Host.exec(
                        Duration.ofSeconds(10),
                        Map.of(),
                        List.of("kill", "-CONT", Long.toString(pid))); // only if the test failed before the abort
            }
            if (job != null) {
                job.destroy(); // ramswap run passes SIGTERM on to the job and removes its cgroup
                if (!job.waitFor(30, TimeUnit.SECONDS)) {
                    job.destroyForcibly();
                }
                removeRunGroups(job.pid());
            }
            tearDown(mount, pid);
            Files.deleteIfExists(jobOut);
        }
        assertFalse(Host.mounts().contains(" " + mount + " "));
        assertTrue(Host.loopsUnder(mount).isEmpty());
    }

    /**
     * A daemon stuck on its own mmap_lock, as one that waits in reclaim on its own swap is: any
     * reader of its /proc/PID/cmdline (ps, or down --abort as it was) then waits with it, in D
     * state. Made at will: the daemon maps a page of its own swap file and leaves it not resident
     * ({@code -Dramswap.test.lockBait}), it is stopped, a reader of /proc/PID/mem at that page holds
     * its mmap_lock while it waits for the stopped daemon to answer, and a writer of clear_refs
     * queues for the lock, so that every later reader waits too. down --abort must still take it
     * down within 60 s and leave nothing.
     */
    @Test
    void shouldAbortADaemonStuckOnItsOwnMmapLockWithinAMinute() throws Exception {
        Path mount = Path.of("/run/ramswap-" + tag + "-lock");
        long pid = -1;
        List<Process> holders = new ArrayList<>();
        try {
            Host.Run up = Host.exec(
                    Duration.ofMinutes(4),
                    Map.of("RAMSWAP_JAR", Host.JAR.toString(), "JAVA_TOOL_OPTIONS", "-Dramswap.test.lockBait=true"),
                    List.of(
                            Host.LAUNCHER.toString(),
                            "up",
                            "--size",
                            "64M",
                            "--mount",
                            mount.toString(),
                            "--priority",
                            "1",
                            "--cluster-name",
                            tag + "-lock",
                            "--port",
                            "5763"));
            assertEquals(0, up.exitCode(), up.output());
            pid = statusPid(mount);
            String bait = Files.readAllLines(Path.of(mount + ".log")).stream()
                    .filter(l -> l.contains("test: lock bait: page 0"))
                    .findFirst()
                    .orElseThrow(() ->
                            new AssertionError("the daemon did not set its lock bait: " + Host.read(mount + ".log")));
            long address = Long.parseLong(bait.replaceAll(".* at 0x([0-9a-f]+),.*", "$1"), 16);

            assertEquals(
                    0,
                    Host.exec(Duration.ofSeconds(10), Map.of(), List.of("kill", "-STOP", Long.toString(pid)))
                            .exitCode());
            holders.add(new ProcessBuilder(
                            "dd",
                            "if=/proc/" + pid + "/mem",
                            "of=/dev/null",
                            "bs=4096",
                            "count=1",
                            "iflag=skip_bytes",
                            "skip=" + address)
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start());
            long daemon = pid;
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(10),
                            () -> threadState(holders.get(0).pid()).equals("D")),
                    "the reader waits in the daemon's fault");
            holders.add(new ProcessBuilder("sh", "-c", "echo 4 > /proc/" + pid + "/clear_refs")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start());
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(10),
                            () -> threadState(holders.get(1).pid()).equals("D")),
                    "the writer queues for the lock");
            Host.Run cmdline = Host.exec(
                    Duration.ofSeconds(30),
                    Map.of(),
                    List.of("timeout", "-s", "KILL", "3", "cat", "/proc/" + pid + "/cmdline"));
            assertEquals(
                    137,
                    cmdline.exitCode(),
                    "a reader of the daemon's cmdline waits on its mmap_lock: the daemon is stuck on it");

            Host.Run status = Host.ramswap(Duration.ofSeconds(40), "status", "--mount", mount.toString());
            assertEquals(1, status.exitCode(), status.output());
            assertTrue(status.output().contains("down --abort --mount " + mount), status.output());

            long t0 = System.nanoTime();
            Host.Run abort = Host.ramswap(Duration.ofMinutes(3), "down", "--abort", "--mount", mount.toString());
            double seconds = (System.nanoTime() - t0) / 1e9;
            System.out.printf("down --abort of a daemon stuck on its mmap_lock: %.1f s%n", seconds);
            assertEquals(0, abort.exitCode(), abort.output());
            assertTrue(seconds < 60, "down --abort took " + seconds + " s");
            assertTrue(abort.output().contains("lost: 0 B was still in swap"), abort.output());
            assertFalse(Host.mounts().contains(" " + mount + " "), "mount removed");
            assertTrue(Host.loopsUnder(mount).isEmpty(), "loop devices detached");
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(30),
                            () -> ProcessHandle.of(daemon).isEmpty()),
                    "the daemon was killed");
            for (Process h : holders) {
                assertTrue(
                        h.waitFor(30, TimeUnit.SECONDS),
                        "the lock's reader and writer ended once the connection was aborted");
            }
        } finally {
            if (Host.mounts().contains(" " + mount + " ")) {
                Host.abortFuse(mount); // the test failed before its abort: free the lock's holders first
            }
            holders.forEach(Process::destroyForcibly);
            if (pid > 0) {
                Host.exec(Duration.ofSeconds(10), Map.of(), List.of("kill", "-CONT", Long.toString(pid)));
            }
            tearDown(mount, pid);
        }
        assertFalse(Host.mounts().contains(" " + mount + " "));
        assertTrue(Host.loopsUnder(mount).isEmpty());
    }

    /**
     * A serving thread that takes no request while requests wait is reported once in the log,
     * with the threads' kernel stacks and what to do, and the end of the stall too. The serving
     * thread alone is frozen (a freezer cgroup of its own holds just that thread) while a read of
     * the swap file waits on it.
     */
    @Test
    @EnabledIf("ramswap.e2e.RecoveryIT#hasFreezer")
    void shouldReportAStallOfTheServingThreadAndItsEnd() throws Exception {
        Path mount = Path.of("/run/ramswap-" + tag + "-stall");
        Path freezer = FREEZER.resolve("ramswap-" + tag);
        Path log = Path.of(mount + ".log");
        long pid = -1;
        Process reader = null;
        try {
            assertEquals(
                    0,
                    Host.ramswap(
                                    Duration.ofMinutes(4),
                                    "up",
                                    "--size",
                                    "64M",
                                    "--loops",
                                    "1",
                                    "--mount",
                                    mount.toString(),
                                    "--priority",
                                    "1",
                                    "--cluster-name",
                                    tag + "-stall",
                                    "--port",
                                    "5765")
                            .exitCode());
            pid = statusPid(mount);
            List<Long> serving = ServingThreadTrace.servingThreads(pid);
            assertEquals(1, serving.size(), "one serving thread: " + serving);
            Files.createDirectory(freezer);
            Files.writeString(freezer.resolve("tasks"), Long.toString(serving.get(0)));
            Files.writeString(freezer.resolve("freezer.state"), "FROZEN");
            reader = new ProcessBuilder(
                            "dd",
                            "if=" + mount.resolve("swapfile"),
                            "of=/dev/null",
                            "bs=4096",
                            "count=1",
                            "iflag=direct")
                    .redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .start();
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(30),
                            () -> Host.read(log.toString()).contains("STALLED: no request taken for")),
                    "the stall is in the log:\n" + Host.read(log.toString()));
            String report = Host.read(log.toString());
            assertTrue(report.contains("down --abort --mount " + mount), report);
            assertTrue(
                    report.contains(FuseMount.SERVING_THREAD_PREFIX),
                    "the serving thread's stack is in the report: " + report);
            assertTrue(reader.isAlive(), "the read waits on the frozen serving thread");

            Files.writeString(freezer.resolve("freezer.state"), "THAWED");
            assertTrue(reader.waitFor(30, TimeUnit.SECONDS), "the read is answered once the serving thread thaws");
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(30),
                            () -> Host.read(log.toString()).contains("the stall is over")),
                    "the end of the stall is in the log");
            Host.Run status = Host.ramswap(Duration.ofSeconds(40), "status", "--mount", mount.toString());
            assertEquals(0, status.exitCode(), status.output());
            assertFalse(status.output().contains("STALLED"), status.output());
        } finally {
            if (Files.exists(freezer)) {
                Files.writeString(freezer.resolve("freezer.state"), "THAWED");
            }
            if (reader != null) {
                reader.destroyForcibly();
            }
            tearDown(mount, pid);
            if (Files.exists(freezer)) {
                Files.delete(freezer); // empty once the daemon is gone
            }
        }
    }

    private static final Path FREEZER = Path.of("/sys/fs/cgroup/freezer");

    static boolean hasFreezer() {
        return Host.canSwap() && Files.exists(FREEZER.resolve("tasks"));
    }

    /** A process's state letter from /proc/PID/stat (which does not take its mmap_lock), or "" when it is gone. */
    private static String threadState(long pid) {
        String stat = stat(pid);
        return stat.isEmpty() ? "" : stat.substring(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    }

    /** /proc/PID/stat, which does not take the process's mmap_lock, or "" when the process is gone. */
    private static String stat(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            return stat.indexOf('(') < 0 || stat.lastIndexOf(')') + 3 > stat.length() ? "" : stat;
        } catch (IOException e) {
            return "";
        }
    }

    /** SIGTERM (or Ctrl-C) to ramswap run: the job is stopped and its cgroup removed, as when it ends by itself. */
    @Test
    void shouldStopTheJobAndRemoveItsCgroupWhenRunIsTerminated() throws Exception {
        String seconds = "4000." + ThreadLocalRandom.current().nextInt(100_000, 1_000_000); // names this test's sleep
        List<String> before = runGroups();
        Path out = Files.createTempFile("ramswap-e2e-run", ".out");
        Process timeout = launcher(
                        "timeout",
                        "-s",
                        "TERM",
                        "3",
                        Host.LAUNCHER.toString(),
                        "run",
                        "--ram",
                        "64M",
                        "--",
                        "sleep",
                        seconds)
                .redirectErrorStream(true)
                .redirectOutput(out.toFile())
                .start();
        timeout.getOutputStream().close();
        long runPid = -1;
        try {
            // timeout's child is the launcher, which execs the JVM of ramswap run: its cgroup is ramswap-run-<that
            // pid>-...
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(3),
                            () -> timeout.toHandle().children().findAny().isPresent()),
                    "timeout started ramswap run");
            runPid = timeout.toHandle()
                    .children()
                    .findFirst()
                    .map(ProcessHandle::pid)
                    .orElse(-1L);
            assertTrue(timeout.waitFor(1, TimeUnit.MINUTES), "ramswap run ended after its SIGTERM");
            assertTrue(
                    waitFor(Duration.ofSeconds(15), () -> sleepsOf(seconds).isEmpty()),
                    "the job is gone: " + sleepsOf(seconds));
            List<String> added = new ArrayList<>(runGroups());
            added.removeAll(before);
            assertEquals(List.of(), added, "no cgroup left behind; ramswap run said:\n" + Host.read(out.toString()));
        } finally {
            Files.deleteIfExists(out);
            for (long sleep : sleepsOf(seconds)) {
                ProcessHandle.of(sleep).ifPresent(ProcessHandle::destroyForcibly);
            }
            if (timeout.isAlive()) {
                timeout.destroyForcibly();
            }
            if (runPid > 0) {
                removeRunGroups(runPid);
            }
        }
    }

    /**
     * An operator's own loop device over a live ramswap's swap file: down refuses, saying which,
     * the daemon stays up and serves that device, and down works once it is detached. The test
     * writes the boot-block bytes of the first swap header (which the kernel never reads) through
     * that device and reads them back.
     */
    @Test
    void shouldRefuseToStopWhileAnOperatorsLoopDeviceUsesTheSwapFile() throws Exception {
        Path mount = Path.of("/run/ramswap-" + tag + "-oploop");
        long pid = -1;
        String loop = null;
        Path page = Files.createTempFile("ramswap-e2e-page", ".bin");
        Path back = Files.createTempFile("ramswap-e2e-back", ".bin");
        try {
            assertEquals(
                    0,
                    Host.ramswap(
                                    Duration.ofMinutes(4),
                                    "up",
                                    "--size",
                                    "64M",
                                    "--mount",
                                    mount.toString(),
                                    "--priority",
                                    "1",
                                    "--cluster-name",
                                    tag + "-oploop",
                                    "--port",
                                    "5771")
                            .exitCode());
            pid = statusPid(mount);
            Host.Run attach = Host.exec(
                    Duration.ofSeconds(60),
                    Map.of(),
                    List.of(
                            "losetup",
                            "--find",
                            "--show",
                            "--direct-io=on",
                            "--sizelimit",
                            "4096",
                            mount.resolve("swapfile").toString()));
            assertEquals(0, attach.exitCode(), attach.output());
            loop = attach.output().strip();
            assertEquals(0, dd("if=" + loop, "of=" + page, "iflag=direct").exitCode());
            byte[] block = Files.readAllBytes(page);
            assertEquals(
                    "SWAPSPACE2",
                    new String(block, 4086, 10, StandardCharsets.US_ASCII),
                    "page 0 is the first swap header");
            byte[] boot = new byte[1024];
            ThreadLocalRandom.current().nextBytes(boot);
            System.arraycopy(boot, 0, block, 0, boot.length);
            Files.write(page, block);
            assertEquals(
                    0,
                    dd("if=" + page, "of=" + loop, "oflag=direct", "conv=notrunc,fsync")
                            .exitCode());

            Host.Run down = Host.ramswap(Duration.ofMinutes(2), "down", "--mount", mount.toString());
            assertEquals(1, down.exitCode(), down.output());
            assertTrue(
                    down.output()
                            .contains("ramswap could not stop and stays up: not stopping: loop devices [" + loop
                                    + "] still use " + mount.resolve("swapfile")
                                    + "; detach them first (sudo losetup -d " + loop + "), then run down again"),
                    down.output());
            assertTrue(ProcessHandle.of(pid).isPresent(), "the daemon stays up");
            Host.Run status = Host.ramswap(Duration.ofMinutes(1), "status", "--mount", mount.toString());
            assertEquals(0, status.exitCode(), status.output());
            assertTrue(
                    status.output().contains("last error not stopping: loop devices [" + loop + "]"), status.output());
            assertEquals(8, Host.loopsUnder(mount).size() - 1, "its own swap stays on beside the operator's device");

            assertEquals(0, dd("if=" + loop, "of=" + back, "iflag=direct").exitCode());
            assertTrue(
                    Arrays.equals(block, Files.readAllBytes(back)),
                    "the operator's device still reads what was written through it");

            assertEquals(
                    0,
                    Host.exec(Duration.ofSeconds(60), Map.of(), List.of("losetup", "--detach", loop))
                            .exitCode());
            loop = null;
            Host.Run again = Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString());
            assertEquals(0, again.exitCode(), again.output());
            long daemon = pid;
            assertTrue(
                    waitFor(
                            Duration.ofSeconds(30),
                            () -> ProcessHandle.of(daemon).isEmpty()),
                    "the daemon exited");
        } finally {
            if (loop != null && Host.loopsUnder(mount).contains(loop)) {
                Host.exec(Duration.ofSeconds(60), Map.of(), List.of("losetup", "--detach", loop));
            }
            tearDown(mount, pid);
            Files.deleteIfExists(page);
            Files.deleteIfExists(back);
        }
        assertFalse(Host.mounts().contains(" " + mount + " "));
        assertTrue(Host.loopsUnder(mount).isEmpty());
    }

    /** After a test: down (swapoff, losetup -d, unmount, the daemon leaves); a hung one is aborted; then the daemon if still there. */
    private static void tearDown(Path mount, long pid) {
        if (Host.mounts().contains(" " + mount + " ")) {
            Host.Run down = Host.ramswap(Duration.ofMinutes(5), "down", "--mount", mount.toString());
            if (down.exitCode() != 0 && Host.mounts().contains(" " + mount + " ")) {
                Host.ramswap(Duration.ofMinutes(3), "down", "--abort", "--mount", mount.toString());
            }
        }
        if (pid > 0) {
            // by the mount table's pid, checked by its name in /proc/PID/stat: a stuck daemon's cmdline cannot be read
            ProcessHandle.of(pid)
                    .filter(p -> procName(p.pid()).equals("java"))
                    .ifPresent(ProcessHandle::destroyForcibly);
        }
        Host.removeLeftovers(mount);
    }

    private static String procName(long pid) {
        String stat = stat(pid);
        return stat.isEmpty() ? "" : stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    }

    /** A command that runs the launcher, with the jar already built. */
    private static ProcessBuilder launcher(String... command) {
        ProcessBuilder pb = new ProcessBuilder(command);
        pb.environment().put("RAMSWAP_JAR", Host.JAR.toString());
        return pb;
    }

    private static Host.Run dd(String... operands) {
        List<String> cmd = new ArrayList<>(List.of("dd", "bs=4096", "count=1", "status=none"));
        cmd.addAll(Arrays.asList(operands));
        return Host.exec(Duration.ofSeconds(60), Map.of(), cmd);
    }

    private static long statusPid(Path mount) throws IOException {
        return Long.parseLong(Files.readAllLines(mount.resolve("status")).stream()
                .filter(l -> l.startsWith("pid: "))
                .findFirst()
                .orElseThrow()
                .substring(5));
    }

    /** The daemon pid the mount table names for {@code mount}, or -1: read without asking the daemon. */
    private static long pidOf(Path mount) {
        for (String line : Host.mounts().split("\n")) {
            String[] f = line.split(" ");
            int dash = Arrays.asList(f).indexOf("-");
            if (f.length > 4 && f[4].equals(mount.toString()) && dash > 0 && f[dash + 2].startsWith("ramswap:")) {
                return Long.parseLong(f[dash + 2].substring("ramswap:".length()));
            }
        }
        return -1;
    }

    /** Used KiB of these swap areas, from /proc/swaps. */
    private static long usedKib(List<String> loops) {
        long used = 0;
        for (String line : Host.procSwaps().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f.length >= 5 && loops.contains(f[0])) {
                used += Long.parseLong(f[3]);
            }
        }
        return used;
    }

    /** Removes what cgroups ramswap run (JVM pid {@code runPid}) left; only this test's, empty once its job is gone. */
    private static void removeRunGroups(long runPid) throws IOException {
        for (String group : runGroups()) {
            if (group.startsWith("ramswap-run-" + runPid + "-")) {
                Files.deleteIfExists(runGroupBase().resolve(group));
            }
        }
    }

    /** The cgroup that ramswap run (JVM pid {@code runPid}) made for its job. */
    private static Path jobGroup(long runPid) throws IOException {
        for (String g : runGroups()) {
            if (g.startsWith("ramswap-run-" + runPid + "-")) {
                return runGroupBase().resolve(g);
            }
        }
        throw new AssertionError("no cgroup of ramswap run " + runPid);
    }

    /** Processes running "sleep SECONDS". */
    private static List<Long> sleepsOf(String seconds) {
        List<Long> found = new ArrayList<>();
        ProcessHandle.allProcesses().forEach(p -> {
            try {
                String cmdline = Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"));
                if (cmdline.startsWith("sleep\0" + seconds + "\0") || cmdline.contains("/sleep\0" + seconds + "\0")) {
                    found.add(p.pid());
                }
            } catch (IOException gone) {
                // exited meanwhile
            }
        });
        return found;
    }

    private static boolean waitFor(Duration bound, java.util.function.BooleanSupplier condition)
            throws InterruptedException {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(100);
        }
        return true;
    }

    private static Path runGroupBase() {
        Path v1 = Path.of("/sys/fs/cgroup/memory");
        return Files.exists(v1.resolve("memory.limit_in_bytes")) ? v1 : Path.of("/sys/fs/cgroup");
    }

    private static List<String> runGroups() throws IOException {
        try (var s = Files.list(runGroupBase())) {
            return s.map(p -> p.getFileName().toString())
                    .filter(n -> n.startsWith("ramswap-run-"))
                    .sorted()
                    .toList();
        }
    }
}
