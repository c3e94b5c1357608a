package ramswap.fuse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** Reads /proc/self/mountinfo: is a directory a mount point, and of which file system type. */
public final class MountTable {

    /** The type that {@link SwapFileSystem} mounts show ("fuse.ramswap"). */
    public static final String RAMSWAP_TYPE = "fuse.ramswap";

    private MountTable() {
    }

    public static boolean isMountPoint(Path dir) {
        return typeOf(dir).isPresent();
    }

    /** The file system type mounted on {@code dir}, if it is a mount point (the topmost mount). */
    public static Optional<String> typeOf(Path dir) {
        String target = dir.toAbsolutePath().normalize().toString();
        String found = null;
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                // id parent major:minor root mountpoint options [optional...] - fstype source superopts
                String[] f = line.split(" ");
                if (f.length < 10 || !unescape(f[4]).equals(target)) {
                    continue;
                }
                for (int i = 6; i < f.length - 1; i++) {
                    if (f[i].equals("-")) {
                        found = f[i + 1];
                        break;
                    }
                }
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot read /proc/self/mountinfo", e);
        }
        return Optional.ofNullable(found);
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }
}
