package ramswap.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.EvictionPolicy;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import com.hazelcast.config.NetworkConfig;

/**
 * The Hazelcast configuration of a ramswap member, built from {@link ClusterSettings}
 * alone: nothing is read from hazelcast.xml or from system properties, so two
 * members in one JVM (tests) or two daemons on one machine cannot leak settings
 * into each other.
 */
final class MemberConfig {

    /** Member attribute carrying the node number; other nodes and Management Center read it. */
    static final String NODE_ATTRIBUTE = "ramswap.node";

    /** Bounds a graceful leave: after this the member stops anyway. */
    static final int GRACEFUL_SHUTDOWN_MAX_WAIT_SECONDS = 30;

    // A listed member that cannot be reached is given up after this; when none is left the node forms its own cluster.
    static final int JOIN_CONNECTION_TIMEOUT_SECONDS = 2;
    // Bounds a join that hangs (a member that accepts connections but never answers): the start fails
    // instead of waiting Hazelcast's default 300 s. A lone node does not wait for it.
    static final int MAX_JOIN_SECONDS = 10;
    // The master gathers join requests this long before admitting them, to batch partition moves.
    static final int WAIT_SECONDS_BEFORE_JOIN = 1;
    static final int MAX_WAIT_SECONDS_BEFORE_JOIN = 5;

    // A member that stops answering (stopped, cut off) is removed this soon, and repair of the copies
    // it held starts; one that dies is removed at once (its connections are refused). Hazelcast's
    // default is 60 s. Reads never wait for it (they go to the other copy after late_bind_ms). 15 s
    // was too short: heartbeats share each connection with the pages, and while repair traffic
    // flooded two busy cores, heartbeats arrived 12 s late and healthy members were suspected
    // (docs/reliability.md).
    static final int HEARTBEAT_INTERVAL_SECONDS = 1;
    static final int MAX_NO_HEARTBEAT_SECONDS = 30;
    // A client (a node that only borrows) silent this long is dropped with its listeners (default 300 s).
    // Its pages stay: they go only once its lease lapsed for orphan_grace_seconds (NodeDirectory).
    static final int CLIENT_MAX_NO_HEARTBEAT_SECONDS = 60;
    // After a split, the sides look for each other this soon and this often (defaults 300 s and 120 s).
    static final int MERGE_FIRST_RUN_DELAY_SECONDS = 5;
    static final int MERGE_NEXT_RUN_DELAY_SECONDS = 5;

    private MemberConfig() {}

    /**
     * @param startAsLite start without partitions regardless of the settings; the
     *                    caller promotes the member once its node number is known to be unique
     */
    static Config build(ClusterSettings settings, boolean startAsLite) {
        Config config = new Config();
        config.setClusterName(settings.clusterName());
        config.setLiteMember(startAsLite || settings.liteMember());
        config.getMemberAttributeConfig().setAttribute(NODE_ATTRIBUTE, Integer.toString(settings.nodeNumber()));

        config.setProperty("hazelcast.logging.type", "jdk");
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty("hazelcast.shutdownhook.policy", "GRACEFUL");
        config.setProperty(
                "hazelcast.graceful.shutdown.max.wait", Integer.toString(GRACEFUL_SHUTDOWN_MAX_WAIT_SECONDS));
        config.setProperty("hazelcast.socket.bind.any", "false");
        config.setProperty("hazelcast.max.join.seconds", Integer.toString(MAX_JOIN_SECONDS));
        config.setProperty("hazelcast.wait.seconds.before.join", Integer.toString(WAIT_SECONDS_BEFORE_JOIN));
        config.setProperty("hazelcast.max.wait.seconds.before.join", Integer.toString(MAX_WAIT_SECONDS_BEFORE_JOIN));
        config.setProperty("hazelcast.partition.count", "271");
        config.setProperty("hazelcast.heartbeat.interval.seconds", Integer.toString(HEARTBEAT_INTERVAL_SECONDS));
        config.setProperty("hazelcast.max.no.heartbeat.seconds", Integer.toString(MAX_NO_HEARTBEAT_SECONDS));
        config.setProperty(
                "hazelcast.client.max.no.heartbeat.seconds", Integer.toString(CLIENT_MAX_NO_HEARTBEAT_SECONDS));
        config.setProperty("hazelcast.merge.first.run.delay.seconds", Integer.toString(MERGE_FIRST_RUN_DELAY_SECONDS));
        config.setProperty("hazelcast.merge.next.run.delay.seconds", Integer.toString(MERGE_NEXT_RUN_DELAY_SECONDS));
        // The once-a-minute INFO health line is noise in a swap daemon's journal.
        config.setProperty("hazelcast.health.monitoring.level", "OFF");
        // Sockets are written by Hazelcast's I/O threads only, never by the thread that sends: a
        // serving thread that fetches a page must not write a socket (kernel buffers, allocated
        // in the middle of a shortage) nor grow the JDK's per-thread direct buffer for it
        // (malloc, and the arena's growth under mmap_lock, seen in RemoteSwapIT's trace).
        config.setProperty("hazelcast.io.write.through", "false");
        // Hazelcast's thread counts stay at their defaults. One I/O, generic, event and response
        // thread each (a few MiB of locked stacks less) delayed heartbeats by more than 10 s while a
        // stopped member was being removed, and the cluster split in three (docs/reliability.md).

        NetworkConfig network = config.getNetworkConfig();
        network.setPort(settings.port()).setPortAutoIncrement(true);
        network.getInterfaces().setEnabled(true).addInterface(settings.bindAddress());
        JoinConfig join = network.getJoin();
        join.getMulticastConfig().setEnabled(false);
        join.getAutoDetectionConfig().setEnabled(false);
        join.getTcpIpConfig()
                .setEnabled(true)
                .setConnectionTimeoutSeconds(JOIN_CONNECTION_TIMEOUT_SECONDS)
                .setMembers(settings.members());

        MapConfig stats = new MapConfig(StatsPublisher.MAP_NAME).setBackupCount(1);
        stats.getEvictionConfig().setEvictionPolicy(EvictionPolicy.NONE);
        config.addMapConfig(stats);
        config.addExecutorConfig(PageCall.executorConfig());
        return config;
    }
}
