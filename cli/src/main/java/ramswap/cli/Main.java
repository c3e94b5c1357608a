package ramswap.cli;

import java.io.OutputStreamWriter;
import java.io.PrintWriter;
import java.nio.charset.Charset;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The ramswap command: subcommands, and the one place where failures become messages and exit codes. */
@Command(
        name = "ramswap",
        mixinStandardHelpOptions = true,
        versionProvider = Main.Version.class,
        description = {
            "Swap space in the RAM of a cluster: a FUSE swap file whose 4 KiB pages are LZ4-compressed and kept in memory, "
                    + "on this node or on another node of a Hazelcast cluster.",
            ""
        },
        subcommands = {
            UpCommand.class,
            DownCommand.class,
            StatusCommand.class,
            StatsCommand.class,
            GetCommand.class,
            SetCommand.class,
            NodesCommand.class,
            RunCommand.class,
            DrainCommand.class,
            CommandLine.HelpCommand.class
        },
        footer = {"", "Exit codes: 0 done, 1 failed, 2 bad usage, 3 not running, 4 needs root."})
public final class Main implements Runnable {

    @picocli.CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(execute(
                args,
                new PrintWriter(new OutputStreamWriter(System.out, Charset.defaultCharset()), true),
                new PrintWriter(new OutputStreamWriter(System.err, Charset.defaultCharset()), true)));
    }

    /** Runs one command line; tests call this to capture output and exit code. */
    public static int execute(String[] args, PrintWriter out, PrintWriter err) {
        CommandLine cl = commandLine();
        cl.setOut(out);
        cl.setErr(err);
        cl.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            if (e instanceof RamswapException r) {
                commandLine.getErr().println("ramswap: " + r.getMessage());
                return r.exitCode();
            }
            if (e instanceof IllegalArgumentException) {
                commandLine.getErr().println("ramswap: " + e.getMessage());
                return RamswapException.USAGE;
            }
            commandLine.getErr().println("ramswap: unexpected failure: " + e);
            e.printStackTrace(commandLine.getErr());
            return RamswapException.FAILED;
        });
        return cl.execute(args);
    }

    /** Every command, with the help sections the annotations cannot declare. */
    static CommandLine commandLine() {
        CommandLine cl = new CommandLine(new Main());
        KnobTable.addTo(cl.getSubcommands().get("set"));
        return cl;
    }

    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getOut());
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            // the Debian package's launcher names its version; a jar built by Maven alone has none
            String v = System.getProperty(
                    "ramswap.version", Main.class.getPackage().getImplementationVersion());
            return new String[] {"ramswap " + (v == null ? "(development build)" : v)};
        }
    }
}
