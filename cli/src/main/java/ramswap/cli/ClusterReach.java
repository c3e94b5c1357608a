package ramswap.cli;

import java.io.PrintWriter;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import ramswap.cluster.ClusterControl;
import ramswap.cluster.ClusterException;
import ramswap.cluster.ControlAnswer;
import ramswap.cluster.ControlCall;

/**
 * The cluster as the command line reaches it: a Hazelcast client connected to this machine's
 * daemon's member, whose cluster name and address its status file gives. Every wait is bounded.
 */
final class ClusterReach {

    /** Bounds the connection, and then all the answers of one command together. */
    static final Duration TIMEOUT = Duration.ofSeconds(5);

    private ClusterReach() {}

    static ClusterControl connect(Instance instance) throws RamswapException {
        instance.requireLive();
        Map<String, String> status = instance.status();
        String name = status.get("cluster_name");
        List<String> addresses = addresses(status);
        if (name == null || addresses.isEmpty()) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "the daemon at " + instance.dir()
                            + " does not say where its cluster's members listen (it predates this command, or has left the cluster); restart it");
        }
        // its own member; for a client node, the members it is connected to, one after the other
        long deadline = System.nanoTime() + TIMEOUT.toNanos();
        ClusterException last = null;
        for (String address : addresses) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            try {
                return ClusterControl.connect(name, address, Duration.ofNanos(left));
            } catch (ClusterException e) {
                last = e;
            }
        }
        throw new RamswapException(
                RamswapException.FAILED,
                "cannot reach the cluster through the daemon at " + instance.dir() + ": "
                        + (last == null ? "no time left" : last.getMessage()),
                last);
    }

    /** member_address when the daemon is a member, else the members of cluster_members. */
    static List<String> addresses(Map<String, String> status) {
        String own = status.get("member_address");
        if (own != null && !own.equals("-")) {
            return List.of(own);
        }
        String members = status.get("cluster_members");
        if (members == null || members.isBlank() || members.equals("-")) {
            return List.of();
        }
        return List.of(members.trim().split("\\s+"));
    }

    /** Runs a get or set on the selected nodes and prints one line per node; exit 0 only if every node answered with a value. */
    static int callAndPrint(Instance instance, ControlCall call, Set<Integer> nodes, PrintWriter out, PrintWriter err)
            throws RamswapException {
        try (ClusterControl control = connect(instance)) {
            return print(control.call(call, nodes, TIMEOUT), out, err);
        }
    }

    static int print(List<ControlAnswer> answers, PrintWriter out, PrintWriter err) {
        boolean allOk = true;
        for (ControlAnswer a : answers) {
            (a.ok() ? out : err).println(a.line());
            allOk &= a.ok();
        }
        if (answers.isEmpty()) {
            err.println("no ramswap node in the cluster answered");
            return RamswapException.FAILED;
        }
        return allOk ? 0 : RamswapException.FAILED;
    }
}
