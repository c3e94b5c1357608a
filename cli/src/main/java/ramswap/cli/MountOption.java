package ramswap.cli;

import java.nio.file.Path;
import picocli.CommandLine.Option;

/** --mount DIR, shared by every command: which ramswap to talk to. */
public final class MountOption {

    public static final String DEFAULT = "/run/ramswap";

    @Option(
            names = "--mount",
            paramLabel = "DIR",
            defaultValue = DEFAULT,
            description =
                    "Directory where this ramswap is mounted; several can run side by side (default: ${DEFAULT-VALUE}).")
    Path mount;

    public Instance instance() {
        return new Instance(mount);
    }
}
