package ramswap.cli;

import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import ramswap.cluster.ControlCall;
import ramswap.store.Knob;

@Command(
        mixinStandardHelpOptions = true,
        name = "set",
        description = {
            "Change a knob while ramswap runs, like echo VALUE > DIR/ramster/NAME. Needs root.",
            "With --node N or --all, on other nodes through the cluster: one line per node, exit 1 if any refused or did not answer within 5 s."
        })
final class SetCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Mixin
    NodeSelection selection;

    @Parameters(index = "0", paramLabel = "NAME", description = "A knob, from the list below.")
    String name;

    @Parameters(index = "1", paramLabel = "VALUE", description = "Its new value, within the knob's range.")
    String value;

    @Override
    public Integer call() throws RamswapException {
        Knob knob = Knob.byFileName(name);
        if (knob == null) {
            throw new RamswapException(
                    RamswapException.USAGE, "no knob named '" + name + "'; knobs: " + GetCommand.knobNames());
        }
        Instance instance = mountOption.instance();
        String text;
        try {
            text = knob == Knob.POOL_MAX_BYTES
                    ? Long.toString(Sizes.parse(value))
                    : knob.isList() ? value.strip() : Long.toString(Long.parseLong(value.strip()));
        } catch (RuntimeException e) {
            throw new RamswapException(RamswapException.USAGE, name + ": '" + value + "' is not a number");
        }
        Root.require("ramswap set"); // after the usage checks: a wrong knob is said as such, with or without sudo
        if (selection.remote()) {
            return ClusterReach.callAndPrint(
                    instance,
                    ControlCall.set(name, text),
                    selection.nodes(),
                    spec.commandLine().getOut(),
                    spec.commandLine().getErr());
        }
        instance.requireLive();
        try {
            instance.writeKnob(name, text + "\n");
        } catch (MountIo.NoAnswer e) {
            throw instance.hung();
        } catch (IOException e) {
            String range = knob == Knob.POOL_MAX_BYTES
                    ? "between 256 KiB and the pool's capacity (swap size + 32 MiB)"
                    : knob.isList()
                            ? "-1, or distinct node numbers in [0, " + knob.max() + "] such as 2,1"
                            : "in [" + knob.min() + ", " + knob.max() + "]";
            throw new RamswapException(
                    RamswapException.USAGE, name + ": " + value + " was refused; it must be " + range);
        }
        spec.commandLine().getOut().println(name + " " + text);
        return 0;
    }
}
