package ramswap.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import java.util.OptionalLong;

/**
 * Reads /proc/self/mountinfo: is a directory a mount point, of which file system type, and for
 * ramswap's mounts which daemon serves it. None of this touches the mount itself, so it answers
 * even when the daemon behind a mount does not.
 */
public final class MountTable {

    /** The type that {@link SwapFileSystem} mounts show ("fuse.ramswap"). */
    public static final String RAMSWAP_TYPE = "fuse.ramswap";

    /** A ramswap mount's source (its fsname) names the daemon's pid: "ramswap:1234". */
    private static final String SOURCE_PREFIX = "ramswap:";

    /**
     * One line of mountinfo.
     *
     * @param deviceMinor the minor of the mount's device; for FUSE, the connection's number in
     *                    /sys/fs/fuse/connections
     */
    public record Entry(String type, String source, int deviceMinor) {

        /** The pid of the daemon that mounted it, when the mount is ramswap's and names one. */
        public OptionalLong daemonPid() {
            if (!type.equals(RAMSWAP_TYPE) || !source.startsWith(SOURCE_PREFIX)) {
                return OptionalLong.empty();
            }
            try {
                return OptionalLong.of(Long.parseLong(source.substring(SOURCE_PREFIX.length())));
            } catch (NumberFormatException e) {
                return OptionalLong.empty();
            }
        }
    }

    private MountTable() {}

    /** The source a ramswap mount made by process {@code pid} shows in mountinfo. */
    public static String sourceFor(long pid) {
        return SOURCE_PREFIX + pid;
    }

    public static boolean isMountPoint(Path dir) {
        return find(dir).isPresent();
    }

    /** The file system type mounted on {@code dir}, if it is a mount point (the topmost mount). */
    public static Optional<String> typeOf(Path dir) {
        return find(dir).map(Entry::type);
    }

    /** The topmost mount on {@code dir}, if it is a mount point. */
    public static Optional<Entry> find(Path dir) {
        String target = dir.toAbsolutePath().normalize().toString();
        Entry found = null;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                Entry e = parse(line, target);
                if (e != null) {
                    found = e;
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/mountinfo", e);
        }
        return Optional.ofNullable(found);
    }

    /** The entry of a mountinfo line if its mount point is {@code target}, else null. */
    static Entry parse(String line, String target) {
        // id parent major:minor root mountpoint options [optional...] - fstype source superopts
        String[] f = line.split(" ");
        if (f.length < 10 || !unescape(f[4]).equals(target)) {
            return null;
        }
        for (int i = 6; i < f.length - 2; i++) {
            if (f[i].equals("-")) {
                int minor = Integer.parseInt(f[2].substring(f[2].indexOf(':') + 1));
                return new Entry(f[i + 1], unescape(f[i + 2]), minor);
            }
        }
        return null;
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ")
                .replace("\\011", "\t")
                .replace("\\012", "\n")
                .replace("\\134", "\\");
    }
}
