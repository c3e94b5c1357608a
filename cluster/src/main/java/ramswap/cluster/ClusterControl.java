package ramswap.cluster;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.client.config.ClientConnectionStrategyConfig;
import com.hazelcast.client.config.RoutingMode;
import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.core.IExecutorService;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Steering the cluster from the command line: lists its nodes, and reads or sets a knob on one
 * node or on all of them through {@link ControlCall}s run on their members. Connects as a
 * Hazelcast client (as Management Center does) to one member, or works over a member it is
 * given (tests). Every wait is bounded.
 */
public final class ClusterControl implements AutoCloseable {

    private static final Pattern JSON_NUMBER_FIELD = Pattern.compile("\"((?:[^\"\\\\]|\\\\.)*)\"\\s*:\\s*(-?[0-9]+)");

    private final HazelcastInstance hazelcast;
    private final boolean owned;
    // JUL keeps loggers weakly; holding the reference keeps the level set in connect alive.
    @SuppressWarnings("unused")
    private final Logger hazelcastLog;

    private ClusterControl(HazelcastInstance hazelcast, boolean owned, Logger hazelcastLog) {
        this.hazelcast = hazelcast;
        this.owned = owned;
        this.hazelcastLog = hazelcastLog;
    }

    /** Over a member or client that the caller owns and closes. */
    public static ClusterControl over(HazelcastInstance hazelcast) {
        return new ClusterControl(Objects.requireNonNull(hazelcast, "hazelcast"), false, null);
    }

    /**
     * Connects as a client to the member at {@code address} ("host:port") of cluster {@code clusterName}.
     *
     * @throws ClusterException if no member answers within {@code timeout}
     */
    public static ClusterControl connect(String clusterName, String address, Duration timeout) throws ClusterException {
        Logger log = Logger.getLogger("com.hazelcast");
        if (log.getLevel() == null) {
            log.setLevel(Level.SEVERE); // a client's start and stop are a dozen INFO lines, a failed connect as many
            // WARNINGs
        }
        ClientConfig config = new ClientConfig();
        config.setClusterName(clusterName);
        config.setInstanceName("ramswap-cli-" + ProcessHandle.current().pid());
        config.setProperty("hazelcast.logging.type", "jdk");
        config.setProperty("hazelcast.phone.home.enabled", "false");
        config.setProperty(
                "hazelcast.client.invocation.timeout.seconds", Long.toString(Math.max(1, timeout.toSeconds())));
        config.getNetworkConfig().addAddress(address).setConnectionTimeout((int)
                Math.min(Integer.MAX_VALUE, timeout.toMillis()));
        // one connection, to the member named: the daemon of this machine
        config.getNetworkConfig().getClusterRoutingConfig().setRoutingMode(RoutingMode.SINGLE_MEMBER);
        ClientConnectionStrategyConfig strategy = config.getConnectionStrategyConfig();
        strategy.setReconnectMode(ClientConnectionStrategyConfig.ReconnectMode.OFF);
        strategy.getConnectionRetryConfig()
                .setClusterConnectTimeoutMillis(timeout.toMillis())
                .setInitialBackoffMillis(200)
                .setMaxBackoffMillis(1000);
        try {
            return new ClusterControl(HazelcastClient.newHazelcastClient(config), true, log);
        } catch (RuntimeException e) {
            throw new ClusterException(
                    "no member of cluster \"" + clusterName + "\" answered at " + address + " within "
                            + timeout.toSeconds() + " s: " + e.getMessage(),
                    e);
        }
    }

    /** Every member, and every client node by its lease, ordered by node number (members without one last). */
    public List<NodeInfo> nodes() {
        Map<Integer, Map<String, Long>> stats = stats();
        List<NodeInfo> nodes = new ArrayList<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            Integer node = ClusterMember.nodeNumberOf(m);
            int n = node == null ? -1 : node;
            nodes.add(new NodeInfo(
                    n,
                    m.getAddress().getHost() + ":" + m.getAddress().getPort(),
                    NodeRole.labelOf(m),
                    NodeRole.lendOf(m),
                    stats.getOrDefault(node, Map.of())));
        }
        Set<Integer> listed = new TreeSet<>();
        nodes.forEach(i -> listed.add(i.node()));
        for (Map.Entry<Integer, String> lease : leases().entrySet()) {
            if (!listed.contains(lease.getKey())) {
                nodes.add(new NodeInfo(
                        lease.getKey(),
                        NodeDirectory.addressOf(lease.getValue()),
                        NodeRole.CLIENT_LABEL,
                        0,
                        stats.getOrDefault(lease.getKey(), Map.of())));
            }
        }
        nodes.sort(Comparator.comparingInt((NodeInfo i) -> i.node() < 0 ? Integer.MAX_VALUE : i.node()));
        return nodes;
    }

    /** Node numbers of the current members that carry one. */
    public Set<Integer> nodeNumbers() {
        return NodeDirectory.memberNodes(hazelcast);
    }

    /**
     * Runs {@code call} on the given nodes (all ramswap nodes when {@code nodes} is null) and
     * returns one answer per node, in node order: a node that is not in the cluster, or that does
     * not answer within {@code timeout} (all nodes together), is answered for with a refusal. A
     * member runs the call on its control executor; a client node gets it through
     * {@link ClientControl}.
     */
    public List<ControlAnswer> call(ControlCall call, Set<Integer> nodes, Duration timeout) {
        String name = call.name();
        Map<Integer, Member> members = new HashMap<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            Integer n = ClusterMember.nodeNumberOf(m);
            if (n != null) {
                members.put(n, m);
            }
        }
        // the leases only when a target may be a client node: a call to members alone reads no map
        Map<Integer, String> leases = nodes != null && members.keySet().containsAll(nodes) ? new HashMap<>() : leases();
        leases.keySet().removeAll(members.keySet());
        Set<Integer> targets = new TreeSet<>(nodes == null ? members.keySet() : nodes);
        if (nodes == null) {
            targets.addAll(leases.keySet());
        }
        IExecutorService executor = hazelcast.getExecutorService(NodeControls.EXECUTOR_NAME);
        Map<Integer, Future<ControlAnswer>> pending = new LinkedHashMap<>();
        Map<Integer, ControlAnswer> answers = new HashMap<>();
        Map<Integer, String> asked = new LinkedHashMap<>(); // client nodes: request id by node
        for (int n : targets) {
            Member m = members.get(n);
            if (m == null && leases.containsKey(n)) {
                String id = java.util.UUID.randomUUID().toString();
                try {
                    hazelcast
                            .<ClientControl.Request>getTopic(ClientControl.TOPIC)
                            .publish(new ClientControl.Request(id, n, call));
                    asked.put(n, id);
                } catch (RuntimeException e) {
                    answers.put(n, ControlAnswer.refused(n, name, "could not ask it: " + e.getMessage()));
                }
                continue;
            }
            if (m == null) {
                Set<Integer> all = new TreeSet<>(members.keySet());
                all.addAll(leases.keySet());
                answers.put(n, ControlAnswer.refused(n, name, "no such node in the cluster (nodes: " + all + ")"));
                continue;
            }
            try {
                pending.put(n, executor.submitToMember(call, m));
            } catch (RuntimeException e) {
                answers.put(n, ControlAnswer.refused(n, name, "could not ask it: " + e.getMessage()));
            }
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        for (Map.Entry<Integer, Future<ControlAnswer>> p : pending.entrySet()) {
            int n = p.getKey();
            try {
                answers.put(n, p.getValue().get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS));
            } catch (TimeoutException e) {
                p.getValue().cancel(true);
                answers.put(n, ControlAnswer.refused(n, name, "no answer within " + timeout.toMillis() + " ms"));
            } catch (ExecutionException e) {
                Throwable cause = e.getCause() != null ? e.getCause() : e;
                answers.put(n, ControlAnswer.refused(n, name, "failed: " + cause.getMessage()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                answers.put(n, ControlAnswer.refused(n, name, "interrupted"));
            }
        }
        if (!asked.isEmpty()) {
            IMap<String, ControlAnswer> replies = hazelcast.getMap(ClientControl.ANSWERS);
            while (true) {
                for (java.util.Iterator<Map.Entry<Integer, String>> it =
                                asked.entrySet().iterator();
                        it.hasNext(); ) {
                    Map.Entry<Integer, String> a = it.next();
                    ControlAnswer answer = replies.get(a.getValue());
                    if (answer != null) {
                        answers.put(a.getKey(), answer);
                        replies.delete(a.getValue());
                        it.remove();
                    }
                }
                if (asked.isEmpty() || System.nanoTime() - deadline >= 0) {
                    break;
                }
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    break;
                }
            }
            for (int n : asked.keySet()) {
                answers.put(n, ControlAnswer.refused(n, name, "no answer within " + timeout.toMillis() + " ms"));
            }
        }
        List<ControlAnswer> ordered = new ArrayList<>();
        for (int n : targets) {
            ordered.add(answers.get(n));
        }
        return ordered;
    }

    /** The client nodes' leases; empty when they cannot be read. */
    private Map<Integer, String> leases() {
        try {
            return new HashMap<>(NodeDirectory.leases(hazelcast));
        } catch (RuntimeException e) {
            return new HashMap<>();
        }
    }

    /** The stats map by node number; empty when no data member holds it. */
    private Map<Integer, Map<String, Long>> stats() {
        if (!DataMembers.present(hazelcast)) {
            return Map.of();
        }
        IMap<Integer, HazelcastJsonValue> map = hazelcast.getMap(StatsPublisher.MAP_NAME);
        Map<Integer, Map<String, Long>> stats = new HashMap<>();
        for (Map.Entry<Integer, HazelcastJsonValue> e : map.entrySet()) {
            stats.put(e.getKey(), parseFlatJson(e.getValue().getValue()));
        }
        return stats;
    }

    /** The numbers of a flat JSON object as {@link StatsPublisher#toJson} writes it. */
    static Map<String, Long> parseFlatJson(String json) {
        Map<String, Long> m = new LinkedHashMap<>();
        Matcher matcher = JSON_NUMBER_FIELD.matcher(json);
        while (matcher.find()) {
            m.put(matcher.group(1).replace("\\\"", "\"").replace("\\\\", "\\"), Long.parseLong(matcher.group(2)));
        }
        return m;
    }

    @Override
    public void close() {
        if (owned) {
            hazelcast.shutdown();
        }
    }
}
