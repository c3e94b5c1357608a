package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.util.Collections;
import java.util.Objects;
import java.util.SortedSet;
import java.util.logging.Logger;

/**
 * This daemon's embedded Hazelcast member. One per daemon, created by {@link #join}.
 *
 * <p>A data member starts as a lite member and is promoted only once its node
 * number is known to be unique: a refused node never owns a partition, so its
 * refusal moves no data and leaves the other members as they were.
 */
public final class ClusterMember extends ClusterNode {

    private ClusterMember(ClusterSettings settings, HazelcastInstance hazelcast, Logger hazelcastLog) {
        super(settings, hazelcast, hazelcastLog);
    }

    /**
     * Starts an embedded member that joins the members given in the settings, or
     * forms a cluster of its own when none answers within a few seconds.
     *
     * @throws ClusterException if the address is not local, the member cannot start,
     *                          or another member already has this node number
     */
    public static ClusterMember join(ClusterSettings settings) throws ClusterException {
        return join(settings, null, null);
    }

    /**
     * As {@link #join(ClusterSettings)}, announcing the node's role in member attributes and
     * handing the daemon's knobs and counters to the member for {@link ControlCall}s.
     *
     * @param role     null to announce none; else its lite-ness must match the settings'
     * @param controls null for a member without a daemon (tests, tools)
     */
    public static ClusterMember join(ClusterSettings settings, NodeRole role, NodeControls controls) throws ClusterException {
        Objects.requireNonNull(settings, "settings");
        if (role != null && role.liteMember() != settings.liteMember()) {
            throw new IllegalArgumentException("role " + role.name() + " (lend " + role.lendBytes() + ") and lite member "
                    + settings.liteMember() + " disagree");
        }
        requireLocalAddress(settings.bindAddress());
        Logger hazelcastLog = quietHazelcastLogging();
        HazelcastInstance hazelcast = start(settings, role, controls);
        try {
            refuseDuplicateNodeNumber(hazelcast, settings.nodeNumber());
            NodeDirectory.refuseLeased(hazelcast, settings.nodeNumber(), settings.bindAddress());
            if (!settings.liteMember()) {
                hazelcast.getCluster().promoteLocalLiteMember();
            }
        } catch (ClusterException e) {
            shutdownQuietly(hazelcast);
            throw e;
        } catch (RuntimeException e) {
            shutdownQuietly(hazelcast);
            throw new ClusterException("node " + settings.nodeNumber() + " joined cluster \""
                    + settings.clusterName() + "\" but could not become a data member: " + e.getMessage()
                    + "; retry, or start it with the lite-member option", e);
        }
        return new ClusterMember(settings, hazelcast, hazelcastLog);
    }

    @Override
    public boolean client() {
        return false;
    }

    /** Members of the cluster, this one included, lite members included. */
    public int memberCount() {
        requireOpen();
        return hazelcast.getCluster().getMembers().size();
    }

    /** Node numbers of all current members that carry one. */
    public SortedSet<Integer> nodeNumbers() {
        requireOpen();
        return Collections.unmodifiableSortedSet(NodeDirectory.memberNodes(hazelcast));
    }

    @Override
    public String describe() {
        if (!running()) {
            return left();
        }
        Member local = hazelcast.getCluster().getLocalMember();
        int count = hazelcast.getCluster().getMembers().size();
        return "cluster \"" + settings.clusterName() + "\", member " + hostAndPort(local.getAddress())
                + ", node " + settings.nodeNumber() + (local.isLiteMember() ? " (lite)" : "")
                + ", " + count + (count == 1 ? " member" : " members");
    }

    @Override
    public String roleLabel() {
        requireOpen();
        return NodeRole.labelOf(hazelcast.getCluster().getLocalMember());
    }

    // ---------------------------------------------------------------- helpers

    static Integer nodeNumberOf(Member member) {
        String value = member.getAttribute(MemberConfig.NODE_ATTRIBUTE);
        if (value == null) {
            return null;
        }
        try {
            return Integer.valueOf(value);
        } catch (NumberFormatException e) {
            // A member that is not a ramswap daemon; it has no node number.
            return null;
        }
    }

    private void requireOpen() {
        if (closed.get()) {
            throw new IllegalStateException("the cluster member of node " + settings.nodeNumber() + " is closed");
        }
    }

    private static HazelcastInstance start(ClusterSettings settings, NodeRole role, NodeControls controls) throws ClusterException {
        Config config = MemberConfig.build(settings, true);
        NodeControls.apply(config, role, controls);
        try {
            return Hazelcast.newHazelcastInstance(config);
        } catch (RuntimeException e) {
            throw new ClusterException("could not start the cluster member on " + settings.bindAddress()
                    + " from port " + settings.port() + ": " + rootMessage(e)
                    + "; check that a port from " + settings.port() + " up is free (ss -ltn) and that the members "
                    + settings.members() + " are ramswap nodes of cluster \"" + settings.clusterName()
                    + "\" that answer", e);
        }
    }

    /**
     * The member list is ordered oldest first, so only a member older than this one
     * counts as a conflict: of two nodes started with one number, the younger leaves.
     * A client has no local member: every member is checked.
     */
    static void refuseDuplicateNodeNumber(HazelcastInstance hazelcast, int nodeNumber)
            throws ClusterException {
        for (Member member : hazelcast.getCluster().getMembers()) {
            if (member.localMember()) {
                return;
            }
            Integer other = nodeNumberOf(member);
            if (other != null && other == nodeNumber) {
                throw new ClusterException("node number " + nodeNumber + " is already used by member "
                        + hostAndPort(member.getAddress()) + "; choose another with --node");
            }
        }
    }

    private static void requireLocalAddress(String bindAddress) throws ClusterException {
        try {
            if (NetworkInterface.getByInetAddress(InetAddress.getByName(bindAddress)) == null) {
                throw new ClusterException("bind address " + bindAddress + " is not an address of this machine;"
                        + " give one listed by \"ip -4 addr\"");
            }
        } catch (UnknownHostException | SocketException e) {
            throw new ClusterException("cannot check bind address " + bindAddress + ": " + e.getMessage()
                    + "; give one listed by \"ip -4 addr\"", e);
        }
    }

    private static String rootMessage(Throwable e) {
        Throwable root = e;
        while (root.getCause() != null && root.getCause() != root) {
            root = root.getCause();
        }
        return root.getMessage() != null ? root.getMessage() : root.getClass().getSimpleName();
    }
}
