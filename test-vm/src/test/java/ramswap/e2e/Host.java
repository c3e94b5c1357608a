package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import ramswap.fuse.FuseMount;

/** The machine as end-to-end tests see it: the ramswap launcher, the workload, /proc. */
final class Host {

    record Run(int exitCode, String output) {
        long value(String key) {
            for (String line : output.split("\n")) {
                String[] f = line.trim().split("\\s+");
                if (f.length == 2 && f[0].equals(key)) {
                    return Long.parseLong(f[1]);
                }
            }
            throw new AssertionError("no '" + key + "' in output:\n" + output);
        }
    }

    static final Path REPO = Path.of("").toAbsolutePath().getParent();
    static final Path LAUNCHER = REPO.resolve("ramswap");
    static final Path JAR = REPO.resolve("cli/target/ramswap.jar");

    private Host() {}

    static boolean canSwap() {
        return isRoot()
                && Files.exists(Path.of("/dev/fuse"))
                && Files.exists(Path.of("/dev/loop-control"))
                && Files.exists(JAR);
    }

    static boolean isRoot() {
        try {
            return Files.readString(Path.of("/proc/self/status")).lines().anyMatch(l -> l.matches("Uid:\\s+0\\s.*"));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * A name no other run uses, for a cluster, a mount or a cgroup: {@code prefix}, this JVM's pid
     * and a random part, e.g. "rl4242-1f3a".
     */
    static String tag(String prefix) {
        return prefix + ProcessHandle.current().pid() + "-"
                + Integer.toHexString(
                        java.util.concurrent.ThreadLocalRandom.current().nextInt(1 << 16));
    }

    /**
     * Waits (bounded, looking every 250 ms) until {@code done}; fails early, with the workload's
     * output, if {@code workload} (may be null) ended before.
     */
    static void await(
            String what,
            Duration bound,
            java.util.concurrent.CompletableFuture<Run> workload,
            java.util.function.BooleanSupplier done) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (System.nanoTime() < deadline) {
            if (done.getAsBoolean()) {
                return;
            }
            if (workload != null && workload.isDone()) {
                throw new AssertionError("the workload ended before " + what + ":\n"
                        + workload.join().output());
            }
            try {
                Thread.sleep(250);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
        throw new AssertionError("not within " + bound.toSeconds() + " s: " + what);
    }

    /** Runs the launcher with the already built jar, bounded in time; prints what it printed. */
    static Run ramswap(Duration timeout, String... args) {
        return ramswap(List.of(), timeout, args);
    }

    /** The same, the command run through {@code prefix} (e.g. nsenter into a network namespace). */
    static Run ramswap(List<String> prefix, Duration timeout, String... args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(LAUNCHER.toString());
        cmd.addAll(Arrays.asList(args));
        return exec(timeout, Map.of("RAMSWAP_JAR", JAR.toString()), cmd);
    }

    static Run exec(Duration timeout, Map<String, String> env, List<String> cmd) {
        return exec(timeout, env, cmd, () -> {}, true);
    }

    /**
     * Runs a command bounded in time. On time-out {@code onTimeout} runs first (to unblock what the
     * command may be stuck on, e.g. a hung FUSE mount), then the command is killed.
     */
    static Run exec(Duration timeout, Map<String, String> env, List<String> cmd, Runnable onTimeout, boolean echo) {
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            pb.environment().putAll(env);
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            Path out = Files.createTempFile("ramswap-e2e", ".out");
            pb.redirectOutput(out.toFile());
            Process p = pb.start();
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                try {
                    onTimeout.run();
                } finally {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                }
                throw new AssertionError(
                        String.join(" ", cmd) + " did not finish within " + timeout + ":\n" + Files.readString(out));
            }
            String text = Files.readString(out, StandardCharsets.UTF_8);
            Files.delete(out);
            if (echo) {
                System.out.println(
                        "$ " + String.join(" ", cmd) + "   -> exit " + p.exitValue() + "\n" + text.stripTrailing());
            }
            return new Run(p.exitValue(), text);
        } catch (IOException e) {
            throw new AssertionError("cannot run " + cmd, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError("interrupted", e);
        }
    }

    /** Compiles the page workload into target/. */
    static Path pagetest() {
        return compile("pagetest");
    }

    /** Compiles the direct-I/O write checker into target/. */
    static Path writecheck() {
        return compile("writecheck");
    }

    /** Compiles {@code src/main/c/NAME.c} into {@code target/NAME}. */
    private static synchronized Path compile(String name) {
        Path bin = REPO.resolve("test-vm/target/" + name);
        Path src = REPO.resolve("test-vm/src/main/c/" + name + ".c");
        Run r = exec(
                Duration.ofMinutes(2),
                Map.of(),
                List.of("gcc", "-std=c11", "-O2", "-Wall", "-Wextra", "-o", bin.toString(), src.toString()));
        assertEquals(0, r.exitCode(), "gcc failed");
        return bin;
    }

    static String procSwaps() {
        return read("/proc/swaps");
    }

    static String mounts() {
        return read("/proc/self/mountinfo");
    }

    static String read(String path) {
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            throw new AssertionError("cannot read " + path, e);
        }
    }

    /** Counters straight from the mount's files: cheap enough to sample while a workload runs. */
    static Map<String, Long> counters(Path mount) {
        Map<String, Long> m = new LinkedHashMap<>();
        try (var files = Files.list(mount.resolve("stats"))) {
            for (Path p : files.sorted().toList()) {
                m.put(
                        p.getFileName().toString(),
                        Long.parseLong(Files.readString(p).strip()));
            }
        } catch (IOException e) {
            throw new AssertionError("cannot read counters of " + mount, e);
        }
        return m;
    }

    /** Removes a test's mount directory and daemon log once nothing is mounted there. */
    static void removeLeftovers(Path mount) {
        if (mounts().contains(" " + mount + " ")) {
            return; // still mounted: the assertion that follows says so; never remove under a mount
        }
        try {
            Files.deleteIfExists(mount);
            Files.deleteIfExists(Path.of(mount + ".log"));
        } catch (IOException e) {
            throw new AssertionError("cannot remove " + mount, e);
        }
    }

    /**
     * Aborts the FUSE connection of a ramswap mount, as an operator would a hung one: every request
     * waiting on it fails, so processes stuck in swap-in can die. Only for this test's own mounts.
     */
    static void abortFuse(Path mount) {
        withConnection(mount, connection -> {
            try {
                Files.writeString(connection.resolve("abort"), "1");
                System.out.println("aborted the FUSE connection of " + mount);
            } catch (IOException e) {
                System.out.println("could not abort the FUSE connection of " + mount + ": " + e);
            }
        });
    }

    /** Runs {@code use} on the fusectl directory of a mount's connection, mounting fusectl for the call when it is not. */
    private static void withConnection(Path mount, java.util.function.Consumer<Path> use) {
        String minor = null;
        for (String line : read("/proc/self/mountinfo").split("\n")) {
            String[] f = line.split(" ");
            if (f.length > 4 && f[4].equals(mount.toString())) {
                minor = f[2].substring(f[2].indexOf(':') + 1);
            }
        }
        if (minor == null) {
            return;
        }
        Path connections = Path.of("/sys/fs/fuse/connections");
        boolean mounted = exec(
                                Duration.ofSeconds(10),
                                Map.of(),
                                List.of("mount", "-t", "fusectl", "none", connections.toString()))
                        .exitCode()
                == 0;
        try {
            use.accept(connections.resolve(minor));
        } finally {
            if (mounted) {
                exec(Duration.ofSeconds(10), Map.of(), List.of("umount", connections.toString()));
            }
        }
    }

    /**
     * What a hung swap run looks like from outside the daemon, printed before its connection is
     * aborted: requests waiting on the connection, requests in flight on its loop devices, the
     * memory cgroup's state (when {@code group} is not null), the daemon's last log lines and every
     * task of the machine in uninterruptible sleep (loop workers, reclaimers), with its kernel stack.
     * Returns the lines that say where a swap request is, short enough for a failure message (a
     * CI log shows its tail only): the counts, and each loop worker and each task in
     * uninterruptible sleep outside the daemon and the workload, with its stack's function names.
     */
    static String printHangPicture(Path mount, Path group, long daemonPid) {
        StringBuilder summary = new StringBuilder();
        withConnection(mount, c -> {
            String line = "FUSE requests waiting: "
                    + readOrEmpty(c.resolve("waiting")).strip();
            System.out.println("--- " + line + " (" + mount + ")");
            summary.append(line).append('\n');
        });
        for (String loop : loopsUnder(mount)) {
            Path dev = Path.of("/sys/block").resolve(Path.of(loop).getFileName());
            String line = loop + " in flight (read write): "
                    + readOrEmpty(dev.resolve("inflight")).strip().replaceAll("\\s+", " ");
            System.out.println("--- " + line);
            summary.append(line).append('\n');
        }
        String groupProcs = "";
        if (group != null) {
            groupProcs = readOrEmpty(group.resolve("cgroup.procs"));
            String usage = "memory cgroup " + group.getFileName() + ": usage "
                    + readOrEmpty(group.resolve("memory.usage_in_bytes")).strip()
                    + " B, limit hits "
                    + readOrEmpty(group.resolve("memory.failcnt")).strip() + ", "
                    + readOrEmpty(group.resolve("memory.oom_control")).strip().replace("\n", ", ");
            System.out.println("--- " + usage);
            summary.append(usage).append('\n');
            readOrEmpty(group.resolve("memory.stat"))
                    .lines()
                    .filter(l -> l.matches("(rss|cache|swap|mapped_file|unevictable|pgmajfault|total_swap) .*"))
                    .forEach(l -> System.out.println("    " + l));
        }
        System.out.println("--- the kernel log's last OOM and hung-task lines");
        List<String> kernel = kernelLog().stream()
                .filter(
                        l -> l.matches(
                                ".*(invoked oom-killer|Killed process|out of memory|blocked for more than|Write-error on swap).*"))
                .toList();
        kernel.subList(Math.max(0, kernel.size() - 20), kernel.size()).forEach(l -> System.out.println("    " + l));
        summary.append("kernel log: ")
                .append(kernel.size())
                .append(" OOM, hung-task or swap write-error lines")
                .append(
                        kernel.isEmpty()
                                ? ""
                                : ", the last: " + kernel.get(kernel.size() - 1).strip())
                .append('\n');
        List<String> log = readOrEmpty(Path.of(mount + ".log")).lines().toList();
        System.out.println("--- the daemon's log, last lines of " + log.size());
        log.subList(Math.max(0, log.size() - 30), log.size()).forEach(l -> System.out.println("    " + l));
        System.out.println(
                "--- tasks of the machine in uninterruptible sleep, and loop workers (pid/tid name state: kernel stack)");
        int shown = 0;
        int inWorkload = 0;
        try (var procs = Files.newDirectoryStream(Path.of("/proc"), "[0-9]*")) {
            for (Path p : procs) {
                try (var tasks = Files.newDirectoryStream(p.resolve("task"))) {
                    for (Path t : tasks) {
                        String state = taskState(t);
                        String comm = readOrEmpty(t.resolve("comm")).strip();
                        boolean loopWorker = comm.startsWith("kworker") && comm.contains("loop");
                        if (!(state.equals("D") || loopWorker) || shown++ >= 80) {
                            continue;
                        }
                        String stack = readOrEmpty(t.resolve("stack")).strip();
                        System.out.println(p.getFileName() + "/" + t.getFileName() + " " + comm + " " + state + ": "
                                + stack.replace("\n", " <- "));
                        String pid = p.getFileName().toString();
                        if (pid.equals(Long.toString(daemonPid))) {
                            continue; // the failure message lists the daemon's threads already
                        }
                        if (groupProcs.lines().anyMatch(pid::equals) && !loopWorker) {
                            inWorkload++;
                            continue;
                        }
                        summary.append(t.getFileName())
                                .append(' ')
                                .append(comm)
                                .append(' ')
                                .append(state)
                                .append(": ")
                                .append(functionNames(stack))
                                .append('\n');
                    }
                } catch (IOException | RuntimeException gone) {
                    // the process exited while listed
                }
            }
        } catch (IOException e) {
            System.out.println("(cannot list /proc: " + e.getMessage() + ")");
        }
        System.out.println("(" + shown + " tasks shown" + (shown > 80 ? ", the first 80" : "") + ")");
        summary.append(inWorkload).append(" workload tasks in uninterruptible sleep\n");
        return summary.toString();
    }

    /** A kernel stack from /proc as its function names, innermost first: "a < b < c". */
    static String functionNames(String stack) {
        return String.join(
                " < ",
                stack.lines()
                        .map(l -> l.replaceFirst("^\\[<[0-9a-f]+>\\] ", "").replaceFirst("\\+0x.*$", ""))
                        .filter(f -> !f.isBlank())
                        .toList());
    }

    /**
     * Prints where each thread of a process waits: name, state and kernel stack, read from
     * /proc/PID/task (which, unlike ps or a stat of the mount, does not hang on a stuck FUSE
     * daemon). For the record of a hang, before the watchdog ends it. Returns the lines of the
     * threads that matter for a failure message: those not running or sleeping interruptibly,
     * and the FUSE serving thread whatever its state (in a hang it often waits on a futex).
     */
    static String printThreadStacks(long pid) {
        System.out.println("--- threads of pid " + pid + " (name, state, kernel stack)");
        StringBuilder stuck = new StringBuilder();
        try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks) {
                String state = taskState(t);
                String name = readOrEmpty(t.resolve("comm")).strip();
                String stack = readOrEmpty(t.resolve("stack")).strip();
                System.out.println(t.getFileName() + " " + name + " " + state + ": " + stack.replace("\n", " <- "));
                if ((!state.equals("S") && !state.equals("R")) || name.startsWith(FuseMount.SERVING_THREAD_PREFIX)) {
                    stuck.append(t.getFileName())
                            .append(' ')
                            .append(name)
                            .append(' ')
                            .append(state)
                            .append(": ")
                            .append(functionNames(stack))
                            .append('\n');
                }
            }
        } catch (IOException | RuntimeException e) {
            System.out.println("(cannot list the threads of " + pid + ": " + e.getMessage() + ")");
        }
        return stuck.toString();
    }

    /** The kernel log, a line each (dmesg). */
    static List<String> kernelLog() {
        return exec(Duration.ofSeconds(30), Map.of(), List.of("dmesg"), () -> {}, false)
                .output()
                .lines()
                .toList();
    }

    /** A task's state letter from /proc/PID/task/TID/stat (R, S, D ...), "?" when it is gone. */
    /** The threads of {@code pid} now: thread id to name ({@code comm}); empty once it is gone. */
    static Map<Long, String> threads(long pid) {
        Map<Long, String> found = new java.util.TreeMap<>();
        try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks) {
                found.put(
                        Long.parseLong(t.getFileName().toString()),
                        readOrEmpty(t.resolve("comm")).strip());
            }
        } catch (IOException e) {
            // gone
        }
        return found;
    }

    private static String taskState(Path task) {
        String stat = readOrEmpty(task.resolve("stat"));
        return stat.isEmpty() ? "?" : stat.substring(stat.lastIndexOf(')') + 2).split(" ")[0];
    }

    /** A /proc file of a thread that may have exited meanwhile: its text, or "" when it is gone. */
    private static String readOrEmpty(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            return "";
        }
    }

    /** Loop devices whose backing file is under {@code mount}. */
    static List<String> loopsUnder(Path mount) {
        List<String> found = new ArrayList<>();
        try (var dirs = Files.newDirectoryStream(Path.of("/sys/block"), "loop*")) {
            for (Path d : dirs) {
                Path b = d.resolve("loop/backing_file");
                if (Files.exists(b) && Files.readString(b).strip().startsWith(mount.toString() + "/")) {
                    found.add("/dev/" + d.getFileName());
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return found;
    }
}
