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

    private ClusterReach() {
    }

    static ClusterControl connect(Instance instance) throws RamswapException {
        instance.requireLive();
        Map<String, String> status = instance.status();
        String name = status.get("cluster_name");
        String address = status.get("member_address");
        if (name == null || address == null || address.equals("-")) {
            throw new RamswapException(RamswapException.FAILED, "the daemon at " + instance.dir()
                    + " does not say where its cluster member listens (it predates this command, or has left the cluster); restart it");
        }
        try {
            return ClusterControl.connect(name, address, TIMEOUT);
        } catch (ClusterException e) {
            throw new RamswapException(RamswapException.FAILED, "cannot reach the cluster through the daemon at " + instance.dir() + ": "
                    + e.getMessage(), e);
        }
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
