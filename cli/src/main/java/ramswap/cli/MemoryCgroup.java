package ramswap.cli;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.OptionalLong;

/**
 * A memory cgroup made for one command: RAM and swap limits (OpenVZ vSwap's two knobs), cgroup v1
 * or v2, removed on close. Its name is unique, so it never touches a cgroup it did not create.
 */
final class MemoryCgroup implements AutoCloseable {

    private static final Path V1 = Path.of("/sys/fs/cgroup/memory");
    private static final Path V2 = Path.of("/sys/fs/cgroup");

    private final Path dir;
    private final boolean v1;
    /** Guarded by this: close() runs from the main thread and from a shutdown hook, maybe both. */
    private boolean removed;

    private MemoryCgroup(Path dir, boolean v1) {
        this.dir = dir;
        this.v1 = v1;
    }

    /**
     * @param swapBytes swap the group may use beyond its RAM; empty = as much as the machine has
     */
    static MemoryCgroup create(String name, long ramBytes, OptionalLong swapBytes) throws RamswapException {
        boolean v1 = Files.exists(V1.resolve("memory.limit_in_bytes"));
        boolean v2 = !v1 && Files.exists(V2.resolve("cgroup.controllers"));
        if (!v1 && !v2) {
            throw new RamswapException(
                    RamswapException.FAILED, "no memory cgroup controller found at " + V1 + " or " + V2);
        }
        Path dir = (v1 ? V1 : V2).resolve(name);
        try {
            Files.createDirectory(dir);
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED, "cannot create cgroup " + dir + ": " + e.getMessage(), e);
        }
        MemoryCgroup g = new MemoryCgroup(dir, v1);
        try {
            if (v1) {
                g.write("memory.limit_in_bytes", ramBytes);
                if (swapBytes.isPresent()) {
                    if (!Files.exists(dir.resolve("memory.memsw.limit_in_bytes"))) {
                        throw new RamswapException(
                                RamswapException.FAILED,
                                "this kernel does not account swap per cgroup "
                                        + "(no memory.memsw.limit_in_bytes; boot with swapaccount=1), so --swap cannot be enforced; omit it");
                    }
                    g.write("memory.memsw.limit_in_bytes", ramBytes + swapBytes.getAsLong());
                }
            } else {
                g.write("memory.max", ramBytes);
                if (swapBytes.isPresent()) {
                    g.write("memory.swap.max", swapBytes.getAsLong());
                }
            }
        } catch (RamswapException e) {
            g.close();
            throw e;
        }
        return g;
    }

    Path procsFile() {
        return dir.resolve("cgroup.procs");
    }

    /** How many times the OOM killer acted in this group. */
    long oomKills() {
        try {
            for (String line : Files.readAllLines(dir.resolve(v1 ? "memory.oom_control" : "memory.events"))) {
                if (line.startsWith("oom_kill ")) {
                    return Long.parseLong(line.substring(9).strip());
                }
            }
        } catch (IOException | NumberFormatException e) {
            return 0;
        }
        return 0;
    }

    /** Peak memory use (RAM, plus swap on v1 when accounted), if the kernel reports it. */
    OptionalLong peakBytes() {
        try {
            return OptionalLong.of(
                    Long.parseLong(Files.readString(dir.resolve(v1 ? "memory.max_usage_in_bytes" : "memory.peak"))
                            .strip()));
        } catch (IOException | NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    private void write(String file, long value) throws RamswapException {
        try {
            Files.writeString(dir.resolve(file), Long.toString(value));
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "cannot set " + dir.resolve(file) + " to " + value + ": " + e.getMessage(),
                    e);
        }
    }

    /**
     * Kills what is left in the group (only processes started in it), then removes it, within a few
     * seconds. Idempotent, and safe from several threads at once: the second caller waits for the first.
     */
    @Override
    public synchronized void close() throws RamswapException {
        if (removed) {
            return;
        }
        for (int attempt = 0; attempt < 100 && Files.exists(dir); attempt++) {
            try {
                List<String> pids = Files.readAllLines(procsFile());
                for (String pid : pids) {
                    if (!pid.isBlank()) {
                        ProcessHandle.of(Long.parseLong(pid.strip())).ifPresent(ProcessHandle::destroyForcibly);
                    }
                }
                Files.delete(dir);
                removed = true;
                return;
            } catch (IOException | NumberFormatException e) {
                try {
                    Thread.sleep(100);
                } catch (InterruptedException ie) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
        }
        if (Files.exists(dir)) {
            throw new RamswapException(
                    RamswapException.FAILED, "could not remove cgroup " + dir + "; remove it with: rmdir " + dir);
        }
        removed = true;
    }
}
