package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.Collections;
import java.util.Objects;
import java.util.SortedSet;
import java.util.UUID;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.logging.Logger;

/**
 * This daemon's embedded Hazelcast member. One per daemon, created by {@link #join}.
 *
 * <p>A data member starts as a lite member and is promoted only once its node
 * number is known to be unique: a refused node never owns a partition, so its
 * refusal moves no data and leaves the other members as they were.
 *
 * <p>The checks and the promotion are retried while the cluster changes under them, up to
 * {@link #SETTLE_WAIT}: lenders started together (a service manager at boot) join, split off
 * and merge back while each is still a lite member, and a member that found a data member a
 * moment ago can find none when it reads the leases ("all nodes in the cluster are lite members").
 */
public final class ClusterMember extends ClusterNode {

    /** Longest the checks and the promotion are retried before the start fails. */
    public static final Duration SETTLE_WAIT = Duration.ofMinutes(2);
    /** Between two tries, unless the member list changes first. */
    static final Duration SETTLE_RETRY = Duration.ofSeconds(1);

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
        return join(settings, null, null, message -> {});
    }

    /**
     * As {@link #join(ClusterSettings)}, announcing the node's role in member attributes and
     * handing the daemon's knobs and counters to the member for {@link ControlCall}s.
     *
     * @param role     null to announce none; else its lite-ness must match the settings'
     * @param controls null for a member without a daemon (tests, tools)
     * @param progress told what the start waits for when the cluster changes under it
     */
    public static ClusterMember join(
            ClusterSettings settings, NodeRole role, NodeControls controls, Consumer<String> progress)
            throws ClusterException {
        Objects.requireNonNull(settings, "settings");
        if (role != null && role.liteMember() != settings.liteMember()) {
            throw new IllegalArgumentException("role " + role.name() + " (lend " + role.lendBytes()
                    + ") and lite member " + settings.liteMember() + " disagree");
        }
        requireLocalAddress(settings.bindAddress());
        Logger hazelcastLog = quietHazelcastLogging();
        HazelcastInstance hazelcast =
                startRetrying(settings, role, controls, Objects.requireNonNull(progress, "progress"));
        try {
            settle(hazelcast, settings, Objects.requireNonNull(progress, "progress"));
        } catch (ClusterException | RuntimeException e) {
            shutdownQuietly(hazelcast);
            throw e;
        }
        return new ClusterMember(settings, hazelcast, hazelcastLog);
    }

    /**
     * Checks the node number against the members and the leases, then promotes a data member;
     * tries again when the cluster changed under a try (a member that left, a master that changed,
     * no data member for the moment), at the next change of the member list or after
     * {@link #SETTLE_RETRY}, for at most {@link #SETTLE_WAIT}. A duplicate number fails at once.
     */
    private static void settle(HazelcastInstance hazelcast, ClusterSettings settings, Consumer<String> progress)
            throws ClusterException {
        int node = settings.nodeNumber();
        String goal = settings.liteMember()
                ? "to check its node number against the cluster's leases"
                : "to become a data member";
        Semaphore changes = new Semaphore(0);
        UUID listener = hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                changes.release();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                changes.release();
            }
        });
        long start = System.nanoTime();
        String said = null;
        try {
            while (true) {
                try {
                    refuseDuplicateNodeNumber(hazelcast, node);
                    NodeDirectory.refuseLeased(hazelcast, node, settings.bindAddress());
                    if (!settings.liteMember()
                            && hazelcast.getCluster().getLocalMember().isLiteMember()) {
                        hazelcast.getCluster().promoteLocalLiteMember();
                    }
                    return;
                } catch (RuntimeException e) {
                    if (!hazelcast.getLifecycleService().isRunning()) {
                        throw new ClusterException(
                                "node " + node + " left cluster \"" + settings.clusterName() + "\" while it tried "
                                        + goal + ": " + rootMessage(e),
                                e);
                    }
                    long waited = System.nanoTime() - start;
                    if (waited >= SETTLE_WAIT.toNanos()) {
                        throw new ClusterException(
                                "node " + node + " joined cluster \"" + settings.clusterName()
                                        + "\" but did not manage " + goal + " within " + SETTLE_WAIT.toSeconds()
                                        + " s: "
                                        + rootMessage(e)
                                        + "; check that its members reach each other, then start it again",
                                e);
                    }
                    String reason = rootMessage(e);
                    if (!reason.equals(said)) {
                        progress.accept("node " + node + " is waiting " + goal + " while cluster \""
                                + settings.clusterName()
                                + "\" changes ("
                                + hazelcast.getCluster().getMembers().size() + " members, "
                                + dataMemberCount(hazelcast) + " data members; " + reason + "); trying again for up to "
                                + (SETTLE_WAIT.toNanos() - waited) / 1_000_000_000L + " s");
                        said = reason;
                    }
                    changes.drainPermits();
                    if (changes.tryAcquire(SETTLE_RETRY.toMillis(), TimeUnit.MILLISECONDS)) {
                        changes.drainPermits();
                    }
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ClusterException("node " + node + " was interrupted while it tried " + goal, e);
        } finally {
            hazelcast.getCluster().removeMembershipListener(listener);
        }
    }

    private static int dataMemberCount(HazelcastInstance hazelcast) {
        int count = 0;
        for (Member m : hazelcast.getCluster().getMembers()) {
            count += m.isLiteMember() ? 0 : 1;
        }
        return count;
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

    /**
     * Starts the member, and starts it again while its join fails for {@link #SETTLE_WAIT}: lenders
     * started at one instant each find a master, and one that is not let in within Hazelcast's
     * join time gives up ("Could not join cluster", then "Node failed to start!"). Seen in
     * JoinRaceIT, one start in fifteen. Any other failure ends the start at once.
     */
    private static HazelcastInstance startRetrying(
            ClusterSettings settings, NodeRole role, NodeControls controls, Consumer<String> progress)
            throws ClusterException {
        long deadline = System.nanoTime() + SETTLE_WAIT.toNanos();
        while (true) {
            try {
                return start(settings, role, controls);
            } catch (ClusterException e) {
                boolean joinFailed = e.getCause() != null && "Node failed to start!".equals(rootMessage(e.getCause()));
                if (!joinFailed || System.nanoTime() - deadline > 0) {
                    throw e;
                }
                progress.accept("node " + settings.nodeNumber() + " could not join cluster \"" + settings.clusterName()
                        + "\" while its members start; starting again, for up to " + SETTLE_WAIT.toSeconds()
                        + " s in all");
                try {
                    Thread.sleep(SETTLE_RETRY.toMillis());
                } catch (InterruptedException interrupted) {
                    Thread.currentThread().interrupt();
                    throw e;
                }
            }
        }
    }

    private static HazelcastInstance start(ClusterSettings settings, NodeRole role, NodeControls controls)
            throws ClusterException {
        Config config = MemberConfig.build(settings, true);
        NodeControls.apply(config, role, controls);
        try {
            return Hazelcast.newHazelcastInstance(config);
        } catch (RuntimeException e) {
            throw new ClusterException(
                    "could not start the cluster member on " + settings.bindAddress()
                            + " from port " + settings.port() + ": " + rootMessage(e)
                            + "; check that a port from " + settings.port()
                            + " up is free (ss -ltn) and that the members "
                            + settings.members() + " are ramswap nodes of cluster \"" + settings.clusterName()
                            + "\" that answer",
                    e);
        }
    }

    /**
     * The member list is ordered oldest first, so only a member older than this one
     * counts as a conflict: of two nodes started with one number, the younger leaves.
     * A client has no local member: every member is checked.
     */
    static void refuseDuplicateNodeNumber(HazelcastInstance hazelcast, int nodeNumber) throws ClusterException {
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
            throw new ClusterException(
                    "cannot check bind address " + bindAddress + ": " + e.getMessage()
                            + "; give one listed by \"ip -4 addr\"",
                    e);
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
