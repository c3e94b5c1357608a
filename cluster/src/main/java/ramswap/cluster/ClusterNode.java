package ramswap.cluster;

import com.hazelcast.cluster.Address;
import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * This daemon's way into the cluster: an embedded member ({@link ClusterMember}: a node that lends,
 * or one alone) or a client ({@link ClusterClient}: a node that only borrows from the members it
 * joins). The remote tier and the stats publisher work through either. Closed by the daemon when
 * it stops (after swapoff, so that no page is still remote when the network goes away).
 */
public abstract sealed class ClusterNode implements AutoCloseable permits ClusterMember, ClusterClient {

    final ClusterSettings settings;
    final HazelcastInstance hazelcast;
    // JUL keeps loggers weakly; holding the reference keeps the level set by quietHazelcastLogging alive.
    @SuppressWarnings("unused")
    private final Logger hazelcastLog;

    final AtomicBoolean closed = new AtomicBoolean();

    ClusterNode(ClusterSettings settings, HazelcastInstance hazelcast, Logger hazelcastLog) {
        this.settings = settings;
        this.hazelcast = hazelcast;
        this.hazelcastLog = hazelcastLog;
    }

    /** The Hazelcast instance, member or client, for features built on the cluster (remote blocks, quotas). */
    public HazelcastInstance hazelcast() {
        return hazelcast;
    }

    public int nodeNumber() {
        return settings.nodeNumber();
    }

    public String clusterName() {
        return settings.clusterName();
    }

    /** True for a client: it holds no partition, takes no part in membership, and has no member address. */
    public abstract boolean client();

    /** "host:port" of the members this node knows, its own member first when it is one (a client has none); empty once closed. */
    public List<String> memberAddresses() {
        if (!running()) {
            return List.of();
        }
        List<String> addresses = new ArrayList<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (m.localMember()) {
                addresses.add(0, hostAndPort(m.getAddress()));
            } else {
                addresses.add(hostAndPort(m.getAddress()));
            }
        }
        return addresses;
    }

    /** One line for logs and status output. */
    public abstract String describe();

    /** This node's role as {@code status} and {@code nodes} name it ({@link NodeRole#labelOf}); asked while it is in the cluster. */
    public abstract String roleLabel();

    /** Still in the cluster: not closed here, and Hazelcast still running. */
    boolean running() {
        return !closed.get() && hazelcast.getLifecycleService().isRunning();
    }

    /** What {@link #describe} says once this node has left. */
    String left() {
        return "cluster \"" + settings.clusterName() + "\", node " + settings.nodeNumber() + ", left";
    }

    /** Leaves the cluster; a member first hands its partitions over (bounded by Hazelcast's graceful wait). Idempotent. */
    @Override
    public void close() {
        if (closed.compareAndSet(false, true)) {
            shutdownQuietly(hazelcast);
        }
    }

    @Override
    public String toString() {
        return describe();
    }

    static void shutdownQuietly(HazelcastInstance hazelcast) {
        try {
            hazelcast.shutdown();
        } catch (RuntimeException e) {
            hazelcast.getLifecycleService().terminate();
        }
    }

    /**
     * Hazelcast logs every step of its start at INFO. Unless the user configured
     * the level (java.util.logging.config.file), only warnings get through.
     */
    static Logger quietHazelcastLogging() {
        Logger logger = Logger.getLogger("com.hazelcast");
        if (logger.getLevel() == null) {
            logger.setLevel(Level.WARNING);
        }
        return logger;
    }

    static String hostAndPort(Address address) {
        return address.getHost() + ":" + address.getPort();
    }
}
