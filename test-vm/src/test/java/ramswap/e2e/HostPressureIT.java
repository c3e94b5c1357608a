package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Swap when memory is short for the daemon too: the swap-over-NBD test (processes that map more
 * than the RAM and read it linearly in a loop), here on one node. In the first tests the daemon
 * and the workload share one memory cgroup, so the daemon's own allocations meet the shortage;
 * on one node the compressed pages live in that same memory, so the content compresses well
 * (half zero, half text). Each runs with the protections on and must pass. The same runs with
 * the protections off only report what they find (a FINDING line; the shared one hangs for its
 * whole 5 min): they run with {@code -Dramswap.pressure.findings=true} or {@code -Pfindings}.
 */
@EnabledIf("ramswap.e2e.HostPressureIT#canRun")
@TestMethodOrder(MethodOrderer.OrderAnnotation.class) // the runs that must pass first, before a run that hangs
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
@ResourceLock(Locks.CPU)
@Order(Locks.LAST)
class HostPressureIT {

    private static final Path MEMCG = Path.of("/sys/fs/cgroup/memory");
    private static final Pattern KERNEL_TROUBLE = Pattern.compile(
            "blocked for more than|hung_task|soft lockup|hard LOCKUP|rcu_sched self-detected stall|rcu: INFO: rcu_.* detected stalls");
    /** The shared cgroup: the configuration a user met hanging (2026-12-05), up's default options. */
    private static final long LIMIT_MIB = 768;

    private static final String SHARED_SIZE = "4G";
    private static final int SHARED_PROCS = 16;
    private static final long SHARED_MIB = 2 * LIMIT_MIB;
    private static final Duration WORK_TIMEOUT = Duration.ofMinutes(5);
    /** The system property that turns on the runs without protections, which only report. */
    private static final String FINDINGS = "ramswap.pressure.findings";

    /** The kernel reports at most kernel.hung_task_warnings hung tasks per boot; 0 would hide them from these tests. */
    private static final Path HUNG_TASK_WARNINGS = Path.of("/proc/sys/kernel/hung_task_warnings");

    private static String hungTaskWarningsBefore;

    @BeforeAll
    static void keepHungTaskWarnings() throws IOException {
        if (Files.exists(HUNG_TASK_WARNINGS)) { // a kernel without the hung-task detector has no such file
            hungTaskWarningsBefore = Files.readString(HUNG_TASK_WARNINGS).strip();
        }
    }

    /** Before each run: a run that hangs (the ones without protections do) can use the reports up again. */
    private static void armHungTaskReports() throws IOException {
        if (hungTaskWarningsBefore != null
                && Files.readString(HUNG_TASK_WARNINGS).strip().equals("0")) {
            System.out.println(
                    "kernel.hung_task_warnings was 0 (earlier reports used them up): set to 10 for this run");
            Files.writeString(HUNG_TASK_WARNINGS, "10");
        }
    }

    @AfterAll
    static void restoreHungTaskReports() throws IOException {
        if (hungTaskWarningsBefore != null) {
            Files.writeString(HUNG_TASK_WARNINGS, hungTaskWarningsBefore);
        }
    }

    static boolean canRun() {
        return Host.canSwap() && Files.exists(MEMCG.resolve("memory.limit_in_bytes"));
    }

    record Outcome(
            Host.Run workload,
            long pswpout,
            long pswpin,
            long daemonHwmKib,
            boolean daemonAlive,
            long oomKills,
            List<String> kernelTrouble,
            List<String> servingThreadEvents) {
        boolean passed() {
            return workload.exitCode() == 0 && daemonAlive && kernelTrouble.isEmpty();
        }
    }

    @Test
    @Order(1)
    void shouldSurviveAWorkloadOfTwiceTheMemoryOfACgroupItShares() throws Exception {
        Outcome on = sharedCgroupRun(true);
        report("daemon in the cgroup, protections on", on);
        assertEquals(0, on.workload().value("mismatches"), "pages came back wrong");
        assertEquals(0, on.workload().exitCode(), "workload failed");
        assertTrue(on.daemonAlive(), "the daemon died (OOM kills in the cgroup: " + on.oomKills() + ")");
        assertTrue(on.kernelTrouble().isEmpty(), "kernel log: " + on.kernelTrouble());
        assertEquals(
                List.of(),
                on.servingThreadEvents()
                        .subList(0, Math.min(20, on.servingThreadEvents().size())),
                "the serving thread asked for mmap_lock, made a memory call, faulted on a page not resident or started a thread while swap was live ("
                        + on.servingThreadEvents().size() + " events; the first 20 shown)");
    }

    /** Reports only; without the protections this run hangs until the 5-min watchdog ends it. */
    @Test
    @Order(3)
    @EnabledIfSystemProperty(named = FINDINGS, matches = "true")
    void reportTheSharedCgroupRunWithoutProtections() throws Exception {
        Outcome off = sharedCgroupRun(false);
        report("daemon in the cgroup, protections OFF", off);
        System.out.println(
                off.passed()
                        ? "FINDING: the shared-cgroup test still passes with the protections off"
                        : "FINDING: the shared-cgroup test fails with the protections off");
    }

    @Test
    @Order(2)
    void shouldSurviveAMixedWorkloadOfFourTimesItsCgroupWithTheDaemonOutside() throws Exception {
        Outcome o = fourTimesRun(true);
        report("daemon outside, 4x a 256 MiB cgroup, mixed pages, protections on", o);
        assertEquals(0, o.workload().value("mismatches"));
        assertTrue(o.passed(), "outcome " + o);
    }

    /** Reports only. */
    @Test
    @Order(4)
    @EnabledIfSystemProperty(named = FINDINGS, matches = "true")
    void reportTheFourTimesRunWithoutProtections() throws Exception {
        Outcome o = fourTimesRun(false);
        report("daemon outside, 4x a 256 MiB cgroup, mixed pages, protections OFF", o);
        System.out.println(
                o.passed()
                        ? "FINDING: the 4x test still passes with the protections off"
                        : "FINDING: the 4x test fails with the protections off");
    }

    /** The daemon outside a 256 MiB cgroup; the workload maps 4x that, a third each zero, text and random pages. */
    private Outcome fourTimesRun(boolean protections) throws Exception {
        String tag = tag();
        Path mount = Path.of("/run/ramswap-" + tag);
        List<String> up = upArgs(mount, tag, "2G", protections);
        long pid = -1;
        try {
            assertEquals(
                    0,
                    Host.ramswap(Duration.ofMinutes(4), up.toArray(String[]::new))
                            .exitCode());
            pid = daemonPid(mount);
            armHungTaskReports();
            long[] before = vmstat();
            int kernelLines = Host.kernelLog().size();
            Path pagetest = Host.pagetest();
            Host.Run r = runOrAbort(
                    mount,
                    null,
                    pid,
                    List.of(
                            Host.LAUNCHER.toString(),
                            "run",
                            "--ram",
                            "256M",
                            "--",
                            pagetest.toString(),
                            "--procs",
                            Integer.toString(8 * nproc()),
                            "--mib",
                            "1024",
                            "--passes",
                            "3",
                            "--seed",
                            "11",
                            "--mix",
                            "34:33:33",
                            "--quiet"));
            long[] after = vmstat();
            return new Outcome(
                    r,
                    after[0] - before[0],
                    after[1] - before[1],
                    hwmKib(pid),
                    ProcessHandle.of(pid).isPresent(),
                    0,
                    trouble(kernelLines),
                    List.of());
        } finally {
            tearDown(mount, pid);
        }
    }

    /**
     * Daemon and workload in one cgroup of LIMIT_MIB, the daemon with up's default options; the
     * workload maps twice the cgroup over SHARED_PROCS processes. With the protections on, the
     * serving thread is traced through the whole workload.
     */
    private Outcome sharedCgroupRun(boolean protections) throws Exception {
        String tag = tag();
        Path mount = Path.of("/run/ramswap-" + tag);
        Path group = MEMCG.resolve("ramswap-pressure-" + tag);
        Files.createDirectory(group);
        long pid = -1;
        try {
            Files.writeString(group.resolve("memory.limit_in_bytes"), Long.toString(LIMIT_MIB << 20));
            List<String> up = new ArrayList<>(List.of(
                    "/bin/sh",
                    "-c",
                    "echo $$ > \"$0\" && exec \"$@\"",
                    group.resolve("cgroup.procs").toString(),
                    Host.LAUNCHER.toString()));
            up.addAll(upArgs(mount, tag, SHARED_SIZE, protections));
            assertEquals(
                    0,
                    Host.exec(Duration.ofMinutes(4), Map.of("RAMSWAP_JAR", Host.JAR.toString()), up)
                            .exitCode(),
                    "ramswap up in the cgroup");
            pid = daemonPid(mount);
            assertTrue(
                    Files.readString(group.resolve("cgroup.procs")).contains(Long.toString(pid)),
                    "the daemon runs in the cgroup");
            armHungTaskReports();
            long[] before = vmstat();
            int kernelLines = Host.kernelLog().size();
            Path pagetest = Host.pagetest();
            List<String> workload = List.of(
                    "/bin/sh",
                    "-c",
                    "echo $$ > \"$0\" && exec \"$@\"",
                    group.resolve("cgroup.procs").toString(),
                    pagetest.toString(),
                    "--procs",
                    Integer.toString(SHARED_PROCS),
                    "--mib",
                    Long.toString(SHARED_MIB),
                    "--passes",
                    "3",
                    "--seed",
                    "5",
                    "--mix",
                    "50:50:0",
                    "--quiet");
            Host.Run r;
            List<String> events = List.of();
            if (protections) {
                try (ServingThreadTrace trace = ServingThreadTrace.start(pid, tag)) {
                    r = runOrAbort(mount, group, pid, workload);
                    events = trace.stop();
                    System.out.println("serving threads " + trace.tids() + ": " + events.size()
                            + " mmap_lock, memory-call, fault or clone events; " + trace.presentFaults()
                            + " faults on present pages, " + trace.accessFaults()
                            + " safepoint polls");
                    events.stream().limit(20).forEach(System.out::println);
                }
            } else {
                r = runOrAbort(mount, group, pid, workload);
            }
            long[] after = vmstat();
            return new Outcome(
                    r,
                    after[0] - before[0],
                    after[1] - before[1],
                    hwmKib(pid),
                    ProcessHandle.of(pid).isPresent(),
                    oomKills(group),
                    trouble(kernelLines),
                    events);
        } finally {
            tearDown(mount, pid);
            removeGroup(group);
        }
    }

    /**
     * The workload, bounded: a run that takes more than WORK_TIMEOUT is a hang (it takes about a
     * minute), and a hung swap daemon would freeze the machine's tests. On time-out the mount's
     * FUSE connection is aborted, so that the stuck processes can be killed; the run counts as failed.
     */
    private static Host.Run runOrAbort(Path mount, Path group, long daemonPid, List<String> cmd) {
        StringBuilder stuck = new StringBuilder();
        try {
            return Host.exec(
                    WORK_TIMEOUT,
                    Map.of("RAMSWAP_JAR", Host.JAR.toString()),
                    cmd,
                    () -> {
                        System.out.println(
                                "HUNG: the workload did not finish within " + WORK_TIMEOUT.toMinutes() + " min");
                        try {
                            stuck.append(Host.printThreadStacks(daemonPid));
                            stuck.append("where the swap requests are:\n")
                                    .append(Host.printHangPicture(mount, group, daemonPid));
                        } finally {
                            Host.abortFuse(mount);
                        }
                    },
                    true);
        } catch (AssertionError timedOut) {
            return new Host.Run(
                    -1,
                    "hung\n" + timedOut.getMessage()
                            + "\nthe daemon's serving thread and its threads not sleeping interruptibly:\n" + stuck);
        }
    }

    /** After a test: down (which cleans a mount whose connection was aborted), then the daemon if it is still there. */
    private static void tearDown(Path mount, long pid) {
        if (Host.mounts().contains(" " + mount + " ")) {
            Host.ramswap(Duration.ofMinutes(10), "down", "--mount", mount.toString());
        }
        if (pid > 0) {
            ProcessHandle.of(pid).ifPresent(ProcessHandle::destroyForcibly);
        }
        printMetaspaceLines(Path.of(mount + ".log"));
        Host.removeLeftovers(mount);
    }

    /** The reserve committed at start and what was committed beyond it while live, for the record. */
    private static void printMetaspaceLines(Path log) {
        try {
            Files.readAllLines(log).stream()
                    .filter(l -> l.contains("metaspace"))
                    .forEach(l -> System.out.println("  daemon: " + l));
        } catch (IOException e) {
            System.out.println("  daemon log unreadable: " + e);
        }
    }

    private static List<String> upArgs(Path mount, String tag, String size, boolean protections) {
        List<String> a = new ArrayList<>(List.of(
                "up",
                "--size",
                size,
                "--mount",
                mount.toString(),
                "--priority",
                "32000",
                "--cluster-name",
                tag,
                "--port",
                "5731"));
        if (!protections) {
            a.add("--no-protections");
        }
        return a;
    }

    private static void report(String what, Outcome o) {
        Host.Run w = o.workload();
        System.out.printf("%n== %s ==%n", what);
        System.out.printf(
                "  workload exit %d, elapsed %s s, mismatches %s, killed children %s%n",
                w.exitCode(), field(w, "elapsed_s"), field(w, "mismatches"), field(w, "killed_children"));
        System.out.printf("  pages swapped out %d, in %d%n", o.pswpout(), o.pswpin());
        System.out.printf(
                "  daemon alive %s, peak RSS %d MiB, OOM kills in its cgroup %d%n",
                o.daemonAlive(), o.daemonHwmKib() >> 10, o.oomKills());
        System.out.printf(
                "  hung-task / lockup lines in the kernel log: %d %s%n",
                o.kernelTrouble().size(), o.kernelTrouble());
        System.out.printf(
                "  serving thread: %d mmap_lock, memory-call, fault or clone events while the workload ran%n",
                o.servingThreadEvents().size());
    }

    private static String field(Host.Run r, String key) {
        try {
            return Long.toString(r.value(key));
        } catch (AssertionError | NumberFormatException e) {
            return r.output()
                    .lines()
                    .filter(l -> l.startsWith(key + " "))
                    .map(l -> l.substring(key.length() + 1))
                    .findFirst()
                    .orElse("?");
        }
    }

    private static String tag() {
        return Host.tag("prs-");
    }

    private static int nproc() {
        return Runtime.getRuntime().availableProcessors();
    }

    private static long daemonPid(Path mount) throws IOException {
        return Long.parseLong(Files.readAllLines(mount.resolve("status")).stream()
                .filter(l -> l.startsWith("pid: "))
                .findFirst()
                .orElseThrow()
                .substring(5));
    }

    private static long hwmKib(long pid) {
        try {
            return Files.readAllLines(Path.of("/proc/" + pid + "/status")).stream()
                    .filter(l -> l.startsWith("VmHWM:"))
                    .mapToLong(l -> Long.parseLong(l.replaceAll("[^0-9]", "")))
                    .findFirst()
                    .orElse(-1);
        } catch (IOException e) {
            return -1;
        }
    }

    /** pswpout, pswpin in pages. */
    private static long[] vmstat() {
        long out = 0;
        long in = 0;
        for (String line : Host.read("/proc/vmstat").split("\n")) {
            if (line.startsWith("pswpout ")) {
                out = Long.parseLong(line.substring(8));
            } else if (line.startsWith("pswpin ")) {
                in = Long.parseLong(line.substring(7));
            }
        }
        return new long[] {out, in};
    }

    private static List<String> trouble(int fromLine) {
        List<String> lines = Host.kernelLog();
        return lines.subList(Math.min(fromLine, lines.size()), lines.size()).stream()
                .filter(l -> KERNEL_TROUBLE.matcher(l).find())
                .toList();
    }

    private static long oomKills(Path group) {
        try {
            return Files.readAllLines(group.resolve("memory.oom_control")).stream()
                    .filter(l -> l.startsWith("oom_kill "))
                    .mapToLong(l -> Long.parseLong(l.substring(9).strip()))
                    .findFirst()
                    .orElse(0);
        } catch (IOException e) {
            return -1;
        }
    }

    /** Kills what is left in the group (started there by this test) and removes it, bounded. */
    private static void removeGroup(Path group) throws InterruptedException {
        for (int attempt = 0; attempt < 100 && Files.exists(group); attempt++) {
            try {
                for (String pid : Files.readAllLines(group.resolve("cgroup.procs"))) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
                Files.delete(group);
            } catch (IOException e) {
                Thread.sleep(100);
            }
        }
        assertTrue(!Files.exists(group), "cgroup " + group + " left behind");
    }
}
