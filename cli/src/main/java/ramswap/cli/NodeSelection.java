package ramswap.cli;

import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import picocli.CommandLine.Option;

/** --node N[,N...] or --all: which nodes of the cluster a get or set goes to; neither means this node, through its mount. */
final class NodeSelection {

    @Option(
            names = "--node",
            split = ",",
            paramLabel = "N",
            description = "Ask node N of the cluster (several: 1,2), through the cluster.")
    List<Integer> nodes;

    @Option(names = "--all", description = "Ask every node of the cluster.")
    boolean all;

    /** True when the command goes through the cluster. */
    boolean remote() {
        return all || (nodes != null && !nodes.isEmpty());
    }

    /** The nodes asked; null for all of them. */
    Set<Integer> nodes() throws RamswapException {
        if (all && nodes != null && !nodes.isEmpty()) {
            throw new RamswapException(RamswapException.USAGE, "give --node or --all, not both");
        }
        if (all) {
            return null;
        }
        for (int n : nodes) {
            if (n < 0 || n > ramswap.cluster.ClusterSettings.MAX_NODE_NUMBER) {
                throw new RamswapException(
                        RamswapException.USAGE,
                        "--node " + n + " is out of range: use a number from 0 to "
                                + ramswap.cluster.ClusterSettings.MAX_NODE_NUMBER);
            }
        }
        return new TreeSet<>(nodes);
    }
}
