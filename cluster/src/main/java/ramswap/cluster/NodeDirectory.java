package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.SortedSet;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;

/**
 * Which ramswap nodes are in the cluster. A member announces its node number in its attributes; a
 * client ({@link ClusterClient}) has none that the members can read, so it holds a lease in the
 * IMap {@value #MAP_NAME}: node number to "address pid", written with a time to live of
 * {@link #LEASE_TTL} and renewed every {@link #LEASE_RENEW} by a {@link NodeLease}. A lender keeps
 * the pages of every node present here, and frees a node's pages only once it has been absent for
 * {@code orphan_grace_seconds}.
 */
public final class NodeDirectory {

    /** The leases of client nodes. */
    public static final String MAP_NAME = "ramswap-nodes";
    /** A lease not renewed this long lapses: the node counts as absent from then on. */
    static final Duration LEASE_TTL = Duration.ofSeconds(30);
    /** Between two renewals of a lease. */
    static final Duration LEASE_RENEW = Duration.ofSeconds(5);

    private NodeDirectory() {}

    /**
     * Node numbers of the members that carry one and of the live leases.
     *
     * @throws RuntimeException when the leases cannot be read now (a member left meanwhile): the
     *                          caller decides nothing on a partial answer
     */
    public static SortedSet<Integer> present(HazelcastInstance hazelcast) {
        SortedSet<Integer> numbers = new TreeSet<>(memberNodes(hazelcast));
        numbers.addAll(leases(hazelcast).keySet());
        return Collections.unmodifiableSortedSet(numbers);
    }

    /** Node numbers of the current members that carry one. */
    static SortedSet<Integer> memberNodes(HazelcastInstance hazelcast) {
        SortedSet<Integer> numbers = new TreeSet<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            Integer number = ClusterMember.nodeNumberOf(m);
            if (number != null) {
                numbers.add(number);
            }
        }
        return numbers;
    }

    /** The live leases, node number to "address pid"; empty when no data member holds the map. */
    public static Map<Integer, String> leases(HazelcastInstance hazelcast) {
        if (!DataMembers.present(hazelcast)) {
            return Map.of();
        }
        return new HashMap<>(map(hazelcast));
    }

    /** The lease of {@code node} for {@code holder} ("address pid"), written or renewed. */
    static void renew(HazelcastInstance hazelcast, int node, String holder) {
        map(hazelcast).set(node, holder, LEASE_TTL.toMillis(), TimeUnit.MILLISECONDS);
    }

    static void release(HazelcastInstance hazelcast, int node, String holder) {
        map(hazelcast).remove(node, holder);
    }

    /** "address pid" of this process at {@code address}. */
    static String holder(String address) {
        return address + " " + ProcessHandle.current().pid();
    }

    /** The address of a lease's holder. */
    static String addressOf(String lease) {
        return lease.split(" ")[0];
    }

    /**
     * Refuses {@code node} when a member carries it, or when a live lease holds it for another
     * node: one at another address, or a process still running at this address (two daemons on one
     * machine). A lease of a process gone from this address is this node's earlier life.
     */
    static void refuseTaken(HazelcastInstance hazelcast, int node, String address) throws ClusterException {
        ClusterMember.refuseDuplicateNodeNumber(hazelcast, node);
        refuseLeased(hazelcast, node, address);
    }

    /** Refuses {@code node} when a live lease holds it for another node, as {@link #refuseTaken} says. */
    static void refuseLeased(HazelcastInstance hazelcast, int node, String address) throws ClusterException {
        String lease = DataMembers.present(hazelcast) ? map(hazelcast).get(node) : null;
        if (lease == null || lease.equals(holder(address))) {
            return;
        }
        String[] parts = lease.split(" ");
        boolean elsewhere = !parts[0].equals(address);
        boolean running = parts.length > 1
                && parts[1].matches("[0-9]+")
                && ProcessHandle.of(Long.parseLong(parts[1]))
                        .map(ProcessHandle::isAlive)
                        .orElse(false);
        if (elsewhere || running) {
            throw new ClusterException("node number " + node + " is already used by a client node at " + parts[0]
                    + (elsewhere ? "" : " (pid " + parts[1] + ")") + "; choose another with --node");
        }
    }

    private static IMap<Integer, String> map(HazelcastInstance hazelcast) {
        return hazelcast.getMap(MAP_NAME);
    }
}
