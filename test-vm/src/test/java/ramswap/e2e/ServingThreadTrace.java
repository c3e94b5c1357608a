package ramswap.e2e;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import ramswap.fuse.FuseMount;

/**
 * Records, through a tracefs instance of its own, every time a daemon's serving threads ask for
 * the process's {@code mmap_lock}, make a memory system call, fault on a page that is not
 * resident or start a thread.
 * The rule for a daemon that serves swap is that they never do once swap is live
 * (docs/memory-pressure.md): each of these can wait in reclaim, or behind a thread that waits
 * there, on a swap write only the serving thread can complete. The kernel filters by thread id,
 * so the threads run at full speed (strace would stop them at every system call).
 */
final class ServingThreadTrace implements AutoCloseable {

    private static final Path TRACEFS = Path.of("/sys/kernel/tracing");
    /** What a serving thread must never do; each event filtered on its thread ids. */
    private static final List<String> EVENTS = List.of(
            "mmap_lock/mmap_lock_start_locking",
            "exceptions/page_fault_user",
            "exceptions/page_fault_kernel",
            "syscalls/sys_enter_mmap",
            "syscalls/sys_enter_munmap",
            "syscalls/sys_enter_mprotect",
            "syscalls/sys_enter_mremap",
            "syscalls/sys_enter_brk",
            "syscalls/sys_enter_madvise",
            "syscalls/sys_enter_mlock",
            "syscalls/sys_enter_mlock2",
            "syscalls/sys_enter_mlockall",
            "syscalls/sys_enter_munlock",
            "syscalls/sys_enter_clone",
            "syscalls/sys_enter_clone3");

    private final long pid;
    private final Path instance;
    private final boolean mountedHere;
    private final List<Long> tids;
    private int presentFaults;
    private int accessFaults;

    private ServingThreadTrace(long pid, Path instance, boolean mountedHere, List<Long> tids) {
        this.pid = pid;
        this.instance = instance;
        this.mountedHere = mountedHere;
        this.tids = tids;
    }

    /** The threads of {@code pid} that answer /dev/fuse (FuseMount's serving threads). */
    static List<Long> servingThreads(long pid) throws IOException {
        List<Long> found = new ArrayList<>();
        try (var tasks = Files.newDirectoryStream(Path.of("/proc/" + pid + "/task"))) {
            for (Path t : tasks) {
                if (Files.readString(t.resolve("comm")).startsWith(FuseMount.SERVING_THREAD_PREFIX)) {
                    found.add(Long.parseLong(t.getFileName().toString()));
                }
            }
        }
        return found;
    }

    /** Starts recording the serving threads of {@code pid}; a tracefs instance named after {@code tag}. */
    static ServingThreadTrace start(long pid, String tag) throws IOException {
        List<Long> tids = servingThreads(pid);
        if (tids.isEmpty()) {
            throw new AssertionError("no serving thread (" + FuseMount.SERVING_THREAD_PREFIX + "*) in process " + pid);
        }
        boolean mounted = false;
        if (!Files.isDirectory(TRACEFS.resolve("instances"))) {
            mounted = Host.exec(
                                    Duration.ofSeconds(10),
                                    Map.of(),
                                    List.of("mount", "-t", "tracefs", "nodev", TRACEFS.toString()))
                            .exitCode()
                    == 0;
        }
        Path instance = TRACEFS.resolve("instances").resolve("ramswap-" + tag);
        Files.createDirectory(instance);
        ServingThreadTrace trace = new ServingThreadTrace(pid, instance, mounted, tids);
        try {
            Files.writeString(instance.resolve("buffer_size_kb"), "4096");
            String filter = String.join(
                    " || ", tids.stream().map(t -> "common_pid == " + t).toList());
            for (String e : EVENTS) {
                Path dir = instance.resolve("events").resolve(e);
                Files.writeString(dir.resolve("filter"), filter);
                Files.writeString(dir.resolve("enable"), "1");
            }
            Files.writeString(instance.resolve("tracing_on"), "1");
        } catch (IOException | RuntimeException e) {
            trace.close();
            throw e;
        }
        return trace;
    }

    List<Long> tids() {
        return tids;
    }

    /**
     * Stops recording and returns the events that break the rule, one line each. A fault on a
     * page that is present (error code bit 0: a write to a page the kernel keeps write-protected
     * until the first write) allocates nothing and takes no mmap_lock, which would show as its own
     * event: it is counted in {@link #presentFaults}, not returned. A fault's line names the
     * mappings its address and instruction fall in, with the address's VmFlags (lo: locked).
     */
    List<String> stop() throws IOException {
        Files.writeString(instance.resolve("tracing_on"), "0");
        List<String> all = Files.readAllLines(instance.resolve("trace")).stream()
                .filter(l -> !l.startsWith("#") && !l.isBlank())
                .toList();
        List<String> broken = all.stream().filter(l -> !isPresentPageFault(l)).toList();
        presentFaults = all.size() - broken.size();
        if (broken.stream().noneMatch(l -> l.contains("page_fault_"))) {
            return broken; // the daemon's smaps (which takes its mmap_lock) only to name a fault's mappings
        }
        List<String> smaps = Files.readAllLines(Path.of("/proc/" + pid + "/smaps"));
        List<String> named = broken.stream()
                .map(l -> l.contains("page_fault_")
                        ? l + " [address in " + mappingOf(smaps, field(l, "address=")) + "; ip in "
                                + mappingOf(smaps, field(l, "ip=")) + "]"
                        : l)
                .toList();
        List<String> rest = named.stream().filter(l -> !isAccessFault(l)).toList();
        accessFaults = named.size() - rest.size();
        return rest;
    }

    /**
     * A fault on a mapping without access ({@code ---p}): the JVM's safepoint poll, a load from
     * its polling page armed for a safepoint or a handshake, which the JVM's signal handler turns
     * into a stop. Nothing is allocated; a kernel that handles such a fault under the mapping's
     * own lock (this host's) asks for no {@code mmap_lock}, and one that does not shows an
     * {@code mmap_lock} event of its own, which breaks the rule.
     */
    private static boolean isAccessFault(String named) {
        int at = named.indexOf("[address in ");
        return named.contains("page_fault_")
                && at >= 0
                && named.substring(at).split(" ").length > 3
                && named.substring(at).split(" ")[3].equals("---p");
    }

    /** Faults on mappings without access seen by {@link #stop}: safepoint polls. */
    int accessFaults() {
        return accessFaults;
    }

    private static long field(String event, String key) {
        int at = event.indexOf(key + "0x");
        return at < 0
                ? -1
                : Long.parseUnsignedLong(event.substring(at + key.length() + 2).split("[^0-9a-fA-F]")[0], 16);
    }

    /** The smaps header line of the mapping holding {@code address}, with its VmFlags; "none" outside every mapping. */
    private static String mappingOf(List<String> smaps, long address) {
        for (int i = 0; i < smaps.size(); i++) {
            String[] range = smaps.get(i).split(" ")[0].split("-");
            if (range.length != 2 || !range[0].matches("[0-9a-f]+")) {
                continue;
            }
            if (Long.compareUnsigned(Long.parseUnsignedLong(range[0], 16), address) <= 0
                    && Long.compareUnsigned(address, Long.parseUnsignedLong(range[1], 16)) < 0) {
                String flags = smaps.stream()
                        .skip(i + 1)
                        .filter(l -> l.startsWith("VmFlags:"))
                        .findFirst()
                        .orElse("");
                return smaps.get(i).replaceAll(" +", " ") + " " + flags;
            }
        }
        return "none";
    }

    /** Faults on present pages seen by {@link #stop}. */
    int presentFaults() {
        return presentFaults;
    }

    private static boolean isPresentPageFault(String event) {
        long errorCode = field(event, "error_code=");
        return event.contains("page_fault_") && errorCode >= 0 && (errorCode & 1) != 0;
    }

    @Override
    public void close() {
        try {
            Files.writeString(instance.resolve("tracing_on"), "0");
            Files.writeString(instance.resolve("events/enable"), "0");
        } catch (IOException ignored) {
            // removed below all the same
        }
        try {
            Files.deleteIfExists(instance);
        } catch (IOException e) {
            System.out.println("could not remove the tracefs instance " + instance + ": " + e);
        }
        if (mountedHere) {
            Host.exec(Duration.ofSeconds(10), Map.of(), List.of("umount", TRACEFS.toString()));
        }
    }
}
