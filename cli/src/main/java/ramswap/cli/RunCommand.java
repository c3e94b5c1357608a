package ramswap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(mixinStandardHelpOptions = true, name = "run", sortOptions = false,
        description = {"Run a command with a RAM limit, in a memory cgroup made for it and removed afterwards, "
            + "so that what does not fit in --ram swaps (to ramswap when it is the highest-priority swap). "
            + "The exit code is the command's. Needs root.", "",
            "Example: sudo ./ramswap run --ram 256M -- ./my-big-job --its-args"})
final class RunCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(names = "--ram", required = true, paramLabel = "SIZE", converter = Sizes.class, description = "RAM the command may use, e.g. 256M.")
    long ram;

    @Option(names = "--swap", paramLabel = "SIZE", converter = Sizes.class,
            description = "Swap it may use beyond --ram (default: no limit of its own).")
    Long swap;

    @Option(names = "--quiet", description = "Print nothing of ramswap's own.")
    boolean quiet;

    @Parameters(arity = "1..*", paramLabel = "CMD", description = "The command and its arguments (after --).")
    List<String> command;

    @Override
    public Integer call() throws RamswapException {
        Root.require("ramswap run");
        PrintWriter err = spec.commandLine().getErr();
        String name = "ramswap-run-" + ProcessHandle.current().pid() + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt());
        try (MemoryCgroup group = MemoryCgroup.create(name, ram, swap == null ? OptionalLong.empty() : OptionalLong.of(swap))) {
            // the shell puts itself in the group, then becomes the command: nothing runs outside the limit
            List<String> argv = new ArrayList<>(List.of("/bin/sh", "-c", "echo $$ > \"$0\" && exec \"$@\"", group.procsFile().toString()));
            argv.addAll(command);
            Process p;
            try {
                p = new ProcessBuilder(argv).inheritIO().start();
            } catch (IOException e) {
                throw new RamswapException(RamswapException.FAILED, "cannot start " + command.get(0) + ": " + e.getMessage(), e);
            }
            Thread cleanup = new Thread(p::destroy, "ramswap-run-stop");
            Runtime.getRuntime().addShutdownHook(cleanup); // Ctrl-C: stop the command, then close() removes the group
            int code;
            try {
                code = p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                throw new RamswapException(RamswapException.FAILED, "interrupted", e);
            }
            try {
                Runtime.getRuntime().removeShutdownHook(cleanup);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is already stopping; the hook has run
            }
            long kills = group.oomKills();
            if (kills > 0 && !quiet) {
                err.println("ramswap run: the OOM killer killed " + kills + " process(es) of " + command.get(0) + " (RAM limit "
                        + Sizes.human(ram) + (swap == null ? "" : ", swap limit " + Sizes.human(swap))
                        + "): is swap on and large enough? see: ./ramswap status");
            }
            if (!quiet) {
                group.peakBytes().ifPresent(b -> err.println("ramswap run: " + command.get(0) + " exited with " + code
                        + "; peak memory charged to its cgroup " + Sizes.human(b)));
            }
            return code;
        }
    }
}
