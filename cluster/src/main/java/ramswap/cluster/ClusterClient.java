package ramswap.cluster;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.client.config.ClientConnectionStrategyConfig;
import com.hazelcast.client.config.ConnectionRetryConfig;
import com.hazelcast.client.config.RoutingMode;
import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;

/**
 * This daemon as a Hazelcast client: the way a node that only borrows ({@code --lend 0}) joins the
 * members it is given. A client takes no part in membership: it never suspects a member, is never
 * removed by the master, never forms a cluster of its own, and holds no partition. When its
 * connection to one member fails it goes on through the others, and reconnects in the background,
 * for ever. Its node number lives in a lease ({@link NodeDirectory}) that its {@link NodeLease}
 * renews. docs/decisions.md ("The borrower as a Hazelcast client") gives the reasons for each
 * setting below.
 */
public final class ClusterClient extends ClusterNode {

    /** How long the start waits for a member of the cluster to answer. */
    public static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(60);
    /** A connection that carried nothing this long is pinged; one silent for the timeout is closed. */
    static final int HEARTBEAT_INTERVAL_MILLIS = 2000;

    static final int HEARTBEAT_TIMEOUT_MILLIS = 15_000;
    /** Bounds the retries of one operation; 60 s is the top of remote_timeout_ms. */
    static final int INVOCATION_TIMEOUT_SECONDS = 60;

    private final String holder;
    /** Connected to some member now (false between the loss of the last connection and a reconnection). */
    private final AtomicBoolean online;

    private ClusterClient(
            ClusterSettings settings, HazelcastInstance hazelcast, Logger hazelcastLog, AtomicBoolean online) {
        super(settings, hazelcast, hazelcastLog);
        this.online = online;
        this.holder = NodeDirectory.holder(settings.bindAddress());
    }

    /**
     * Connects to the members of {@code settings}, waits until one answers and the partition table
     * is known (at most {@code timeout}), refuses a node number some other node holds, and takes
     * this node's lease.
     *
     * @throws ClusterException if no member answers in time, or the node number is taken
     */
    public static ClusterClient connect(ClusterSettings settings, Duration timeout) throws ClusterException {
        Objects.requireNonNull(settings, "settings");
        if (!settings.liteMember()) {
            throw new IllegalArgumentException(
                    "node " + settings.nodeNumber() + " lends: it must be a member, not a client");
        }
        Logger log = quietHazelcastLogging();
        ClientConfig config = config(settings);
        // in the configuration, so that the first connection's event cannot come before the listener
        AtomicBoolean online = new AtomicBoolean();
        config.addListenerConfig(new com.hazelcast.config.ListenerConfig(
                (com.hazelcast.core.LifecycleListener) event -> {
                    switch (event.getState()) {
                        case CLIENT_CONNECTED -> online.set(true);
                        case CLIENT_DISCONNECTED -> online.set(false);
                        default -> {}
                    }
                }));
        HazelcastInstance hazelcast = HazelcastClient.newHazelcastClient(config);
        ClusterClient client = new ClusterClient(settings, hazelcast, log, online);
        try {
            client.awaitConnected(timeout);
            NodeDirectory.refuseTaken(hazelcast, settings.nodeNumber(), settings.bindAddress());
            if (DataMembers.present(hazelcast)) {
                NodeDirectory.renew(hazelcast, settings.nodeNumber(), client.holder);
            }
        } catch (ClusterException e) {
            client.close();
            throw e;
        } catch (RuntimeException e) {
            client.close();
            throw new ClusterException(
                    "node " + settings.nodeNumber() + " reached cluster \"" + settings.clusterName()
                            + "\" but could not take its node number: " + e.getMessage() + "; retry",
                    e);
        }
        return client;
    }

    static ClientConfig config(ClusterSettings settings) {
        ClientConfig config = new ClientConfig();
        config.setClusterName(settings.clusterName());
        config.setInstanceName("ramswap-node-" + settings.nodeNumber() + "-"
                + Integer.toHexString(ThreadLocalRandom.current().nextInt()));
        config.addLabel(MemberConfig.NODE_ATTRIBUTE + "=" + settings.nodeNumber());
        config.addLabel(NodeRole.ROLE_ATTRIBUTE + "=borrows");
        config.setProperty("hazelcast.logging.type", "jdk");
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.client.heartbeat.interval", Integer.toString(HEARTBEAT_INTERVAL_MILLIS));
        config.setProperty("hazelcast.client.heartbeat.timeout", Integer.toString(HEARTBEAT_TIMEOUT_MILLIS));
        config.setProperty("hazelcast.client.invocation.timeout.seconds", Integer.toString(INVOCATION_TIMEOUT_SECONDS));
        config.setProperty("hazelcast.client.invocation.retry.pause.millis", "100");
        config.setProperty("hazelcast.client.event.thread.count", "1");
        config.setProperty("hazelcast.client.event.queue.capacity", "10000");
        config.setProperty("hazelcast.client.io.input.thread.count", "1");
        config.setProperty("hazelcast.client.io.output.thread.count", "1");
        // the output thread writes every socket, never the thread that sends (MemberConfig says why)
        config.setProperty("hazelcast.client.io.write.through", "false");
        config.getNetworkConfig()
                .setAddresses(new ArrayList<>(settings.members()))
                .setConnectionTimeout(3000);
        // straight to each partition's owner; through any other member when that one cannot be reached
        config.getNetworkConfig().getClusterRoutingConfig().setRoutingMode(RoutingMode.ALL_MEMBERS);
        ClientConnectionStrategyConfig strategy = config.getConnectionStrategyConfig();
        strategy.setAsyncStart(true).setReconnectMode(ClientConnectionStrategyConfig.ReconnectMode.ON);
        ConnectionRetryConfig retry = strategy.getConnectionRetryConfig();
        // -1: never give up. A client whose connect timeout runs out shuts itself down, also after a
        // disconnection, and a swap daemon must never lose its way to its pages.
        retry.setClusterConnectTimeoutMillis(-1)
                .setInitialBackoffMillis(500)
                .setMaxBackoffMillis(2000)
                .setMultiplier(1.5)
                .setJitter(0.2);
        return config;
    }

    /** Until the client is connected and knows the partition table (the tier sizes its arrays by it). */
    private void awaitConnected(Duration timeout) throws ClusterException {
        long deadline = System.nanoTime() + timeout.toNanos();
        RuntimeException last = null;
        while (System.nanoTime() - deadline < 0) {
            try {
                if (online.get()
                        && !hazelcast.getCluster().getMembers().isEmpty()
                        && !hazelcast.getPartitionService().getPartitions().isEmpty()) {
                    return;
                }
            } catch (RuntimeException e) { // offline until connected: HazelcastClientOfflineException
                last = e;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        throw new ClusterException(
                "no member of cluster \"" + settings.clusterName() + "\" answered at " + settings.members()
                        + " within " + timeout.toSeconds() + " s" + (last == null ? "" : " (" + last.getMessage() + ")")
                        + "; check that they are ramswap nodes that lend (--lend SIZE) in this cluster and that this machine reaches them",
                last);
    }

    @Override
    public boolean client() {
        return true;
    }

    /** This node's lease value: "address pid". */
    String holder() {
        return holder;
    }

    @Override
    public String roleLabel() {
        return NodeRole.CLIENT_LABEL;
    }

    @Override
    public String describe() {
        if (!running()) {
            return left();
        }
        if (!online.get()) {
            return "cluster \"" + settings.clusterName() + "\", node " + settings.nodeNumber()
                    + " (client), no member reached;" + " reconnecting to " + String.join(" ", settings.members());
        }
        List<String> members = memberAddresses();
        return "cluster \"" + settings.clusterName() + "\", node " + settings.nodeNumber() + " (client), "
                + members.size() + (members.size() == 1 ? " member " : " members ") + "(" + String.join(" ", members)
                + ")";
    }
}
