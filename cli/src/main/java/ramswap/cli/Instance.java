package ramswap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalInt;
import java.util.OptionalLong;
import ramswap.fuse.MountTable;
import ramswap.fuse.SwapFileSystem;

/** One ramswap, addressed by its mount directory: what is there, and its control files. */
public final class Instance {

    public enum State {
        /** nothing mounted there (the directory may not exist) */
        ABSENT,
        /** our mount, and the daemon answers */
        LIVE,
        /** our mount type, but the daemon is gone (a crash): safe to clean */
        STALE,
        /** somebody else's mount: left alone */
        FOREIGN,
        /** our mount type, the daemon lives but does not answer (stopped, stuck): down --abort */
        HUNG
    }

    private final Path dir;
    private final MountIo io = new MountIo(MountIo.ANSWER_TIMEOUT);

    public Instance(Path dir) {
        this.dir = dir.toAbsolutePath().normalize();
    }

    public Path dir() {
        return dir;
    }

    public Path swapFile() {
        return dir.resolve(SwapFileSystem.SWAPFILE);
    }

    public Path knobFile(String name) {
        return dir.resolve(SwapFileSystem.KNOB_DIR).resolve(name);
    }

    public Path counterDir() {
        return dir.resolve(SwapFileSystem.COUNTER_DIR);
    }

    public Path knobDir() {
        return dir.resolve(SwapFileSystem.KNOB_DIR);
    }

    public State state() {
        Optional<String> type = MountTable.typeOf(dir);
        if (type.isEmpty()) {
            return State.ABSENT;
        }
        if (!type.get().equals(MountTable.RAMSWAP_TYPE)) {
            return State.FOREIGN;
        }
        try {
            io.readString(dir.resolve(SwapFileSystem.STATUS));
            return State.LIVE;
        } catch (MountIo.NoAnswer e) {
            return State.HUNG;
        } catch (IOException e) {
            return State.STALE; // "Transport endpoint is not connected": the daemon died
        }
    }

    /** Throws, with the message for the user, unless a daemon of ours is mounted here and answers. */
    public void requireLive() throws RamswapException {
        switch (state()) {
            case ABSENT -> throw notRunning();
            case STALE ->
                throw new RamswapException(
                        RamswapException.NOT_RUNNING,
                        "ramswap at " + dir
                                + " has died and left its mount; clean up with: sudo ./ramswap down --mount " + dir);
            case FOREIGN -> throw foreign(RamswapException.NOT_RUNNING, "");
            case HUNG -> throw hung();
            case LIVE -> {}
        }
    }

    /** The pid of the daemon that mounted this directory, from the mount table: found without asking the daemon. */
    public OptionalLong daemonPid() {
        return MountTable.find(dir).map(MountTable.Entry::daemonPid).orElse(OptionalLong.empty());
    }

    /** The FUSE connection of this mount (its number in /sys/fs/fuse/connections), if ours is mounted here. */
    public OptionalInt fuseConnection() {
        return MountTable.find(dir)
                .filter(e -> e.type().equals(MountTable.RAMSWAP_TYPE))
                .map(e -> OptionalInt.of(e.deviceMinor()))
                .orElse(OptionalInt.empty());
    }

    /** The daemon named by the mount table, if that process lives and is a ramswap daemon: the only one ever signalled. */
    public Optional<ProcessHandle> daemon() {
        OptionalLong pid = daemonPid();
        return pid.isPresent() ? ProcessHandle.of(pid.getAsLong()).filter(Instance::isRamswapDaemon) : Optional.empty();
    }

    /**
     * True when {@code p} looks like ramswap's daemon: a JVM ({@code java} in /proc/PID/stat) that
     * holds /dev/fuse open. Its pid comes from our mount's source, which the daemon wrote. Nothing
     * here reads a file of the process that takes its mmap_lock ({@code cmdline}, {@code environ},
     * {@code maps}): a daemon stuck in reclaim on its own swap can hold that lock for good, and a
     * reader would wait with it, in D state (seen with {@code down --abort}). {@code stat} and the
     * {@code fd} links need only the process and its file table.
     */
    static boolean isRamswapDaemon(ProcessHandle p) {
        Path proc = Path.of("/proc", Long.toString(p.pid()));
        try {
            String stat = Files.readString(proc.resolve("stat"));
            int open = stat.indexOf('(');
            int close = stat.lastIndexOf(')');
            if (open < 0 || close < open || !stat.substring(open + 1, close).equals("java")) {
                return false;
            }
            try (var fds = Files.newDirectoryStream(proc.resolve("fd"))) {
                for (Path fd : fds) {
                    try {
                        if (Files.readSymbolicLink(fd).toString().equals("/dev/fuse")) {
                            return true;
                        }
                    } catch (IOException closedMeanwhile) {
                        // the descriptor was closed while we listed them: not /dev/fuse's, which stays open
                    }
                }
            }
            return false;
        } catch (IOException e) {
            return false; // gone
        }
    }

    /** The daemon lives but does not answer; say so, and what the operator can do. */
    public RamswapException hung() {
        OptionalLong pid = daemonPid();
        return new RamswapException(
                RamswapException.FAILED,
                "ramswap at " + dir + " does not answer (daemon pid "
                        + (pid.isPresent() ? Long.toString(pid.getAsLong()) : "unknown")
                        + "); if it stays so: sudo ./ramswap down --abort --mount " + dir);
    }

    public Optional<String> mountType() {
        return MountTable.typeOf(dir);
    }

    /** The daemon's status file as name/value pairs. */
    public Map<String, String> status() throws RamswapException {
        Map<String, String> m = new LinkedHashMap<>();
        try {
            for (String line : io.readAllLines(dir.resolve(SwapFileSystem.STATUS))) {
                int colon = line.indexOf(':');
                if (colon > 0) {
                    m.put(
                            line.substring(0, colon).strip(),
                            line.substring(colon + 1).strip());
                }
            }
        } catch (MountIo.NoAnswer e) {
            throw hung();
        } catch (IOException e) {
            throw notRunning();
        }
        return m;
    }

    /** Every counter by name, in the daemon's order. */
    public Map<String, Long> counters() throws RamswapException {
        return readNumbers(counterDir());
    }

    /** Every knob by name, as its file shows it: a number, or for the target list a list ("2,1"). */
    public Map<String, String> knobs() throws RamswapException {
        Map<String, String> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : readTexts(knobDir()).entrySet()) {
            m.put(e.getKey(), e.getValue());
        }
        return m;
    }

    /** One control file (a knob or a counter), as the daemon shows it. */
    public String readControlFile(Path file) throws RamswapException {
        try {
            return io.readString(file).strip();
        } catch (MountIo.NoAnswer e) {
            throw hung();
        } catch (IOException e) {
            throw notRunning();
        }
    }

    /** Writes a knob; the daemon refuses a bad value with an IOException (EINVAL), and {@link MountIo.NoAnswer} says it did not answer. */
    public void writeKnob(String name, String text) throws IOException {
        io.writeString(knobFile(name), text);
    }

    private Map<String, Long> readNumbers(Path d) throws RamswapException {
        Map<String, Long> m = new LinkedHashMap<>();
        for (Map.Entry<String, String> e : readTexts(d).entrySet()) {
            m.put(e.getKey(), Long.parseLong(e.getValue()));
        }
        return m;
    }

    private Map<String, String> readTexts(Path d) throws RamswapException {
        try {
            return io.call("read " + d, () -> {
                Map<String, String> m = new LinkedHashMap<>();
                try (var files = Files.list(d)) {
                    for (Path p : files.sorted().toList()) {
                        m.put(p.getFileName().toString(), Files.readString(p).strip());
                    }
                }
                return m;
            });
        } catch (MountIo.NoAnswer e) {
            throw hung();
        } catch (IOException e) {
            throw notRunning();
        }
    }

    /** Somebody else's file system is mounted here; ramswap leaves it alone. The exit code and advice are the caller's. */
    public RamswapException foreign(int exitCode, String advice) {
        return new RamswapException(
                exitCode, dir + " is a mount of type " + mountType().orElse("?") + ", not ramswap's" + advice);
    }

    public RamswapException notRunning() {
        return new RamswapException(
                RamswapException.NOT_RUNNING,
                "ramswap is not running at " + dir + " (start it with: sudo ./ramswap up --size 2G"
                        + (dir.equals(Path.of(MountOption.DEFAULT)) ? "" : " --mount " + dir) + ")");
    }

    /**
     * Cleans what a crashed daemon of ours left: swap areas and loop devices over its swap file,
     * then the dead mount. The pages that were in that swap are gone with the daemon.
     */
    public void cleanStale(PrintWriter out) throws RamswapException {
        if (state() != State.STALE) {
            return;
        }
        out.println("ramswap: cleaning up a stale mount at " + dir + " left by a daemon that died");
        for (String loop : SwapDevice.loopsBackedBy(swapFile())) {
            if (SwapDevice.isActive(loop)) {
                Exec.Result r = Exec.run(Duration.ofSeconds(60), "swapoff", loop);
                out.println("ramswap:   swapoff " + loop + (r.ok() ? "" : " failed: " + r.describe()));
            }
            Exec.Result r = Exec.run(Duration.ofSeconds(60), "losetup", "--detach", loop);
            out.println("ramswap:   losetup --detach " + loop + (r.ok() ? "" : " failed: " + r.describe()));
        }
        Exec.Result r = Exec.run(Duration.ofSeconds(60), List.of("umount", "-l", dir.toString()));
        if (!r.ok()) {
            throw new RamswapException(
                    RamswapException.FAILED, "cannot unmount the stale mount at " + dir + ": " + r.describe());
        }
        out.flush();
    }
}
