package ramswap.cli;

import java.io.PrintWriter;
import java.util.List;
import java.util.Locale;
import java.util.StringJoiner;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import ramswap.cluster.ClusterControl;
import ramswap.cluster.NodeInfo;

@Command(
        mixinStandardHelpOptions = true,
        name = "nodes",
        description = {
            "Every node of the cluster, one line each: node number, address, "
                    + "role, the daemon's resident memory, lend quota and how much of it others use, the pages the node keeps on others "
                    + "(and their compressed bytes, each page counted once) and whether each has the copies it wants. Asks the cluster through this machine's daemon.",
            "Roles: lends (--no-swap), lends+borrows (swap and --lend), borrows (client) (swap, lends nothing, connected to the members as a "
                    + "client, listed by its lease), borrows (lite) (the same as a lite member: alone, or started with --member); "
                    + "lite or data for a member that is no ramswap daemon. '-' where a node has published no figures (no member lends, or it just joined)."
        })
final class NodesCommand implements Callable<Integer> {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Mixin
    MountOption mountOption;

    @Option(names = "--json", description = "Print one JSON array instead.")
    boolean json;

    @Override
    public Integer call() throws RamswapException {
        PrintWriter out = spec.commandLine().getOut();
        List<NodeInfo> nodes;
        try (ClusterControl control = ClusterReach.connect(mountOption.instance())) {
            nodes = control.nodes();
        }
        if (json) {
            out.println(json(nodes));
        } else {
            table(nodes).forEach(out::println);
        }
        return 0;
    }

    static List<String> table(List<NodeInfo> nodes) {
        String format = "%-5s %-21s %-16s %-10s %-10s %-18s %-26s %s";
        List<String> lines = new java.util.ArrayList<>();
        lines.add(String.format(
                        Locale.ROOT,
                        format,
                        "node",
                        "address",
                        "role",
                        "resident",
                        "lend",
                        "lent (used)",
                        "remote pages (compressed)",
                        "copies")
                .stripTrailing());
        for (NodeInfo n : nodes) {
            long used = n.stat("foreign_pers_bytes");
            long quota = n.lendBytes() >= 0 ? n.lendBytes() : n.stat("lend_quota_bytes");
            String lent = used < 0
                    ? "-"
                    : quota > 0
                            ? Sizes.human(used)
                                    + String.format(Locale.ROOT, " (%d%%)", Math.round(100.0 * used / quota))
                            : Sizes.human(used);
            long remote = n.stat("remote_pers_pages");
            long away = n.stat("remote_pers_zbytes");
            String remotePages = remote < 0
                    ? "-"
                    : remote > 0 && away >= 0 ? remote + " (" + Sizes.human(away) + ")" : Long.toString(remote);
            long resident = n.stat("rss_bytes");
            lines.add(String.format(
                            Locale.ROOT,
                            format,
                            n.node() < 0 ? "-" : Integer.toString(n.node()),
                            n.address(),
                            n.role(),
                            resident < 0 ? "-" : Sizes.human(resident),
                            quota < 0 ? "-" : quota == 0 ? "0" : Sizes.human(quota),
                            lent,
                            remotePages,
                            redundancy(n))
                    .stripTrailing());
        }
        return lines;
    }

    /** Whether a node's remote pages have the copies it wants: "full", or "DEGRADED" and why; "-" without remote pages. */
    static String redundancy(NodeInfo n) {
        long remote = n.stat("remote_pers_pages");
        if (remote <= 0) {
            return "-";
        }
        long oneCopy = n.stat("remote_pages_one_copy");
        long toRepair = n.stat("remote_pages_to_replace");
        long lost = n.stat("remote_pages_lost");
        boolean moving = n.stat("remote_partitions_settled") == 0; // -1: a node that does not say
        if (oneCopy <= 0 && toRepair <= 0 && lost <= 0 && !moving) {
            return "full";
        }
        StringJoiner why = new StringJoiner(", ", lost > 0 ? "LOST " + lost + ", DEGRADED: " : "DEGRADED: ", "");
        why.setEmptyValue("LOST " + lost);
        if (oneCopy > 0) {
            why.add(oneCopy + " with one copy");
        }
        if (toRepair > 0) {
            why.add(toRepair + " to repair");
        }
        if (moving) {
            why.add("partitions settling");
        }
        return why.toString();
    }

    static String json(List<NodeInfo> nodes) {
        StringJoiner array = new StringJoiner(", ", "[", "]");
        for (NodeInfo n : nodes) {
            StringJoiner o = new StringJoiner(", ", "{", "}");
            o.add("\"node\": " + n.node());
            o.add("\"address\": \"" + n.address() + "\"");
            o.add("\"role\": \"" + n.role() + "\"");
            o.add("\"lend_bytes\": " + n.lendBytes());
            StringJoiner stats = new StringJoiner(", ", "{", "}");
            new java.util.TreeMap<>(n.stats()).forEach((k, v) -> stats.add("\"" + k + "\": " + v));
            o.add("\"stats\": " + stats);
            array.add(o.toString());
        }
        return array.toString();
    }
}
