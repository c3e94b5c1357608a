package ramswap.cli;

import java.io.PrintWriter;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

@Command(
        mixinStandardHelpOptions = true,
        name = "stats",
        description =
                "Every counter, one \"name value\" per line (the files in DIR/stats/). README.md says what each one counts.")
final class StatsCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Option(names = "--json", description = "Print one JSON object instead.")
    boolean json;

    @Override
    public Integer call() throws RamswapException {
        PrintWriter out = spec.commandLine().getOut();
        Instance instance = mountOption.instance();
        instance.requireLive();
        Map<String, Long> counters = instance.counters();
        if (json) {
            StringJoiner j = new StringJoiner(", ", "{", "}");
            counters.forEach((k, v) -> j.add("\"" + k + "\": " + v));
            out.println(j);
        } else {
            counters.forEach((k, v) -> out.println(k + " " + v));
        }
        return 0;
    }
}
