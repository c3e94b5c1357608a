package ramswap.cli;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.concurrent.Callable;
import java.util.stream.Collectors;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import ramswap.cluster.ControlCall;
import ramswap.store.Counter;
import ramswap.store.Knob;

@Command(
        mixinStandardHelpOptions = true,
        name = "get",
        description = {
            "Print one knob or counter, e.g. remote_target_nodenum or pers_zpages. Knobs live in DIR/ramster/, counters in DIR/stats/ (list them with: ramswap stats).",
            "With --node N or --all, from other nodes through the cluster: one line per node (\"node 1: NAME = VALUE\"), exit 1 if any did not answer within 5 s."
        })
final class GetCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Mixin
    NodeSelection selection;

    @Parameters(paramLabel = "NAME", description = "A knob (DIR/ramster/NAME) or a counter (DIR/stats/NAME).")
    String name;

    @Override
    public Integer call() throws RamswapException {
        Instance instance = mountOption.instance();
        Path file;
        if (Knob.byFileName(name) != null) {
            file = instance.knobFile(name);
        } else if (Counter.byFileName(name) != null) {
            file = instance.counterDir().resolve(name);
        } else {
            throw new RamswapException(
                    RamswapException.USAGE,
                    "no knob or counter named '" + name + "'; knobs: " + knobNames()
                            + "; counters: see ./ramswap stats");
        }
        if (selection.remote()) {
            return ClusterReach.callAndPrint(
                    instance,
                    ControlCall.get(name),
                    selection.nodes(),
                    spec.commandLine().getOut(),
                    spec.commandLine().getErr());
        }
        instance.requireLive();
        spec.commandLine().getOut().println(instance.readControlFile(file));
        return 0;
    }

    static String knobNames() {
        return Arrays.stream(Knob.values()).map(Knob::fileName).collect(Collectors.joining(", "));
    }
}
