package ramswap.cli;

import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import ramswap.store.Knob;

@Command(mixinStandardHelpOptions = true, name = "set", description = {"Change a knob while ramswap runs, like echo VALUE > DIR/ramster/NAME. Needs root.",
    "Knobs and their ranges:",
    "  remote_target_nodenum  -1..65535   node that receives cold pages (-1 none)",
    "  pers_remotify_enable   0|1         send cold pages to the remote target",
    "  selfshrink_enable      0|1         bring remote pages back when memory allows",
    "  selfshrink_interval    1..3600 s   seconds between self-shrink samples",
    "  frontswap_hysteresis   1..1000     each step brings back 1/hysteresis of remote pages",
    "  frontswap_inertia      0..1000     samples without growth before self-shrink acts",
    "  pool_max_bytes         bytes       most memory the local pool may map"})
final class SetCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Parameters(index = "0", paramLabel = "NAME")
    String name;

    @Parameters(index = "1", paramLabel = "VALUE")
    String value;

    @Override
    public Integer call() throws RamswapException {
        Root.require("ramswap set");
        Knob knob = Knob.byFileName(name);
        if (knob == null) {
            throw new RamswapException(RamswapException.USAGE, "no knob named '" + name + "'; knobs: " + GetCommand.knobNames());
        }
        Instance instance = mountOption.instance();
        instance.requireLive();
        long v;
        try {
            v = knob == Knob.POOL_MAX_BYTES ? Sizes.parse(value) : Long.parseLong(value.strip());
        } catch (RuntimeException e) {
            throw new RamswapException(RamswapException.USAGE, name + ": '" + value + "' is not a number");
        }
        try {
            instance.writeKnob(name, v + "\n");
        } catch (MountIo.NoAnswer e) {
            throw instance.hung();
        } catch (IOException e) {
            String range = knob == Knob.POOL_MAX_BYTES ? "between 256 KiB and the pool's capacity (swap size + 32 MiB)"
                    : "in [" + knob.min() + ", " + knob.max() + "]";
            throw new RamswapException(RamswapException.USAGE, name + ": " + value + " was refused; it must be " + range);
        }
        spec.commandLine().getOut().println(name + " " + v);
        return 0;
    }
}
