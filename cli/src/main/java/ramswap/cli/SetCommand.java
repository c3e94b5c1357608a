package ramswap.cli;

import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Parameters;
import ramswap.cluster.ControlCall;
import ramswap.store.Knob;

@Command(mixinStandardHelpOptions = true, name = "set", description = {"Change a knob while ramswap runs, like echo VALUE > DIR/ramster/NAME. Needs root.",
    "With --node N or --all, on other nodes through the cluster: one line per node, exit 1 if any refused or did not answer within 5 s.",
    "Knobs and their ranges:",
    "  remote_target_nodenum  -1, N, N,M  nodes that receive cold pages, tried in order (-1 none)",
    "  pers_remotify_enable   0|1         send cold pages to the remote target",
    "  selfshrink_enable      0|1         bring remote pages back when memory allows",
    "  selfshrink_interval    1..3600 s   seconds between self-shrink samples",
    "  frontswap_hysteresis   1..1000     each step brings back 1/hysteresis of remote pages",
    "  frontswap_inertia      0..1000     samples without growth before self-shrink acts",
    "  pool_max_bytes         bytes       most memory the local pool may map",
    "  local_target_bytes     bytes       compressed bytes kept local before cold pages go remote (0: all go)",
    "  remotify_pages_per_sec 1..10000000 most pages sent remote per second",
    "  remote_timeout_ms      10..60000   longest wait for a remote page before EIO",
    "  selfshrink_min_available_bytes  bytes  self-shrink only while MemAvailable is above this",
    "  selfshrink_max_pressure 0..100     self-shrink only while memory pressure (some avg10 %) is at most this",
    "  repatriate_all         0|1         1 brings every remote page home now (ramswap drain)",
    "  orphan_grace_seconds   0..604800   a lender frees the pages of a node gone this long"})
final class SetCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Mixin
    NodeSelection selection;

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
        String text;
        try {
            text = knob == Knob.POOL_MAX_BYTES ? Long.toString(Sizes.parse(value)) : knob.isList() ? value.strip() : Long.toString(Long.parseLong(value.strip()));
        } catch (RuntimeException e) {
            throw new RamswapException(RamswapException.USAGE, name + ": '" + value + "' is not a number");
        }
        if (selection.remote()) {
            return ClusterReach.callAndPrint(instance, ControlCall.set(name, text), selection.nodes(), spec.commandLine().getOut(),
                    spec.commandLine().getErr());
        }
        instance.requireLive();
        try {
            instance.writeKnob(name, text + "\n");
        } catch (MountIo.NoAnswer e) {
            throw instance.hung();
        } catch (IOException e) {
            String range = knob == Knob.POOL_MAX_BYTES ? "between 256 KiB and the pool's capacity (swap size + 32 MiB)"
                    : knob.isList() ? "-1, or distinct node numbers in [0, " + knob.max() + "] such as 2,1"
                    : "in [" + knob.min() + ", " + knob.max() + "]";
            throw new RamswapException(RamswapException.USAGE, name + ": " + value + " was refused; it must be " + range);
        }
        spec.commandLine().getOut().println(name + " " + text);
        return 0;
    }
}
