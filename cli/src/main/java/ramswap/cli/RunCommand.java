package ramswap.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(
        mixinStandardHelpOptions = true,
        name = "run",
        sortOptions = false,
        description = {
            "Run a command with a RAM limit, in a memory cgroup made for it and removed afterwards, "
                    + "so that what does not fit in --ram swaps (to ramswap when it is the highest-priority swap). "
                    + "The exit code is the command's. Needs root.",
            "",
            "For example, 'sudo ./ramswap run --ram 256M -- ./my-big-job --its-args' runs the job with 256 MiB of RAM."
        })
final class RunCommand implements Callable<Integer> {

    /** How long a stopped command gets to exit on SIGTERM before SIGKILL. */
    static final java.time.Duration STOP_GRACE = java.time.Duration.ofSeconds(10);

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Option(
            names = "--ram",
            required = true,
            paramLabel = "SIZE",
            converter = Sizes.class,
            description = "RAM the command may use, e.g. 256M.")
    long ram;

    @Option(
            names = "--swap",
            paramLabel = "SIZE",
            converter = Sizes.class,
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
        String name = "ramswap-run-" + ProcessHandle.current().pid() + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt());
        // SIGTERM or Ctrl-C: the JVM runs its hooks and halts, never reaching close() below
        SignalCleanup onSignal = new SignalCleanup(err);
        Thread hook = new Thread(onSignal, "ramswap-run-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        try (MemoryCgroup group = onSignal.group(
                () -> MemoryCgroup.create(name, ram, swap == null ? OptionalLong.empty() : OptionalLong.of(swap)))) {
            // the shell puts itself in the group, then becomes the command: nothing runs outside the limit
            List<String> argv = new ArrayList<>(List.of(
                    "/bin/sh",
                    "-c",
                    "echo $$ > \"$0\" && exec \"$@\"",
                    group.procsFile().toString()));
            argv.addAll(command);
            Process p = onSignal.job(() -> {
                try {
                    return new ProcessBuilder(argv).inheritIO().start();
                } catch (IOException e) {
                    throw new RamswapException(
                            RamswapException.FAILED, "cannot start " + command.get(0) + ": " + e.getMessage(), e);
                }
            });
            int code;
            try {
                code = p.waitFor();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                p.destroyForcibly();
                throw new RamswapException(RamswapException.FAILED, "interrupted", e);
            }
            long kills = group.oomKills();
            if (kills > 0 && !quiet) {
                err.println("ramswap run: the OOM killer killed " + kills + " process(es) of " + command.get(0)
                        + " (RAM limit "
                        + Sizes.human(ram) + (swap == null ? "" : ", swap limit " + Sizes.human(swap))
                        + "): is swap on and large enough? see: ./ramswap status");
            }
            if (!quiet) {
                group.peakBytes()
                        .ifPresent(b -> err.println("ramswap run: " + command.get(0) + " exited with " + code
                                + "; peak memory charged to its cgroup " + Sizes.human(b)));
            }
            return code;
        } finally {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException shuttingDown) {
                // the JVM is stopping: the hook stops the command and removes the group
            }
        }
    }

    /** One step of run that the shutdown hook must undo. */
    @FunctionalInterface
    private interface Step<T> {
        T run() throws RamswapException;
    }

    /**
     * The shutdown hook: stops the command and removes its group. The group is made and the
     * command started under its lock, so that a signal at any moment finds either nothing made
     * yet (and nothing more is made) or what was made.
     */
    private static final class SignalCleanup implements Runnable {
        private final PrintWriter err;
        private MemoryCgroup group;
        private Process job;
        private boolean stopping;

        SignalCleanup(PrintWriter err) {
            this.err = err;
        }

        synchronized MemoryCgroup group(Step<MemoryCgroup> create) throws RamswapException {
            refuseIfStopping();
            group = create.run();
            return group;
        }

        synchronized Process job(Step<Process> start) throws RamswapException {
            refuseIfStopping();
            job = start.run();
            return job;
        }

        private void refuseIfStopping() throws RamswapException {
            if (stopping) {
                throw new RamswapException(RamswapException.FAILED, "stopped by a signal before the command started");
            }
        }

        @Override
        public void run() {
            MemoryCgroup g;
            Process p;
            synchronized (this) {
                stopping = true;
                g = group;
                p = job;
            }
            if (g != null) {
                stop(p, g, err);
            }
        }
    }

    /**
     * Ends the command (if it was started): SIGTERM, then SIGKILL if it has not exited within
     * {@link #STOP_GRACE}; then removes its group, killing whatever else is left in it.
     */
    private static void stop(Process job, MemoryCgroup group, PrintWriter err) {
        if (job != null) {
            job.destroy();
            try {
                if (!job.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                    job.destroyForcibly();
                    job.waitFor(STOP_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                }
            } catch (InterruptedException e) {
                job.destroyForcibly(); // close() kills what is left in the group anyway
            }
        }
        try {
            group.close();
        } catch (RamswapException e) {
            err.println("ramswap run: " + e.getMessage());
            err.flush();
        }
    }
}
