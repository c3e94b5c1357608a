package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;
import com.hazelcast.partition.NoDataMemberInClusterException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import ramswap.agent.PeriodicAgent;

/**
 * Publishes this node's counters into the IMap {@value #MAP_NAME}, keyed by node
 * number, as a flat JSON object, so that Management Center's map browser and
 * {@code ramswap status} on any node show every node's figures.
 *
 * <p>Entries expire after a few intervals without an update ({@link #entryTtl}):
 * a node that dies without closing its publisher vanishes from the map instead
 * of showing stale figures forever. Expiry is not eviction: the map config keeps
 * eviction NONE.
 *
 * <p>With no data member in the cluster (only nodes that lend nothing) no map works; the
 * publisher then skips its ticks without counting them as errors.
 *
 * <p>An agent: the daemon's {@code Agents} runs it on a thread named {@value #THREAD_NAME}; when
 * it stops, this node's entry is removed.
 */
public final class StatsPublisher extends PeriodicAgent {

    public static final String MAP_NAME = "ramswap-stats";
    static final String THREAD_NAME = "ramswap-stats";

    private static final Duration MIN_ENTRY_TTL = Duration.ofSeconds(30);
    private static final int ENTRY_TTL_INTERVALS = 3;
    private static final System.Logger LOG = System.getLogger(StatsPublisher.class.getName());

    private final HazelcastInstance hazelcast;
    private final IMap<Integer, HazelcastJsonValue> map;
    private final int nodeNumber;
    private final Supplier<Map<String, Long>> snapshot;
    private final long entryTtlMillis;
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();

    /**
     * Publishes at once once running, then every {@code interval}.
     *
     * @param snapshot called on the publisher's thread; returns counter name to value
     */
    public StatsPublisher(ClusterNode member, Supplier<Map<String, Long>> snapshot, Duration interval) {
        super(Objects.requireNonNull(interval, "interval")); // refuses an interval that is not positive
        Objects.requireNonNull(member, "member");
        this.snapshot = Objects.requireNonNull(snapshot, "snapshot");
        this.hazelcast = member.hazelcast();
        this.map = hazelcast.getMap(MAP_NAME);
        this.nodeNumber = member.nodeNumber();
        this.entryTtlMillis = entryTtl(interval).toMillis();
    }

    /** Snapshots written so far. */
    public long publishedCount() {
        return published.get();
    }

    /** Snapshots lost to an error (supplier failure, cluster unreachable). */
    public long errorCount() {
        return errors.get();
    }

    @Override
    public String roleName() {
        return THREAD_NAME;
    }

    @Override
    protected void tick() {
        publishOnce();
    }

    /** Removes this node's entry: its figures stop with it. */
    @Override
    public void onClose() {
        removeEntry();
    }

    private void publishOnce() {
        if (hazelcast.getLifecycleService().isRunning() && !DataMembers.present(hazelcast)) {
            return; // only lite members: no map works, and nobody lends, so there is nothing to show either
        }
        try {
            HazelcastJsonValue value = new HazelcastJsonValue(toJson(snapshot.get()));
            map.set(nodeNumber, value, entryTtlMillis, TimeUnit.MILLISECONDS);
            published.incrementAndGet();
        } catch (NoDataMemberInClusterException e) {
            // the last data member left between the check and the write: as above, not an error
        } catch (RuntimeException e) {
            // Logged once: when the cluster is unreachable this would fail every interval.
            if (errors.getAndIncrement() == 0) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "publishing the stats of node " + nodeNumber + " failed; further failures are only counted",
                        e);
            }
        }
    }

    private void removeEntry() {
        if (!hazelcast.getLifecycleService().isRunning() || !DataMembers.present(hazelcast)) {
            return; // the member left first, or no map works: the entry, if any, expires on its own
        }
        try {
            map.delete(nodeNumber);
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "removing the stats of node " + nodeNumber + " failed", e);
        }
    }

    // ---------------------------------------------------------------- helpers

    static Duration entryTtl(Duration interval) {
        Duration ttl = interval.multipliedBy(ENTRY_TTL_INTERVALS);
        return ttl.compareTo(MIN_ENTRY_TTL) < 0 ? MIN_ENTRY_TTL : ttl;
    }

    /** A flat JSON object, names sorted so that successive snapshots read alike. */
    static String toJson(Map<String, Long> counters) {
        Objects.requireNonNull(counters, "stats snapshot");
        SortedMap<String, Long> sorted =
                counters instanceof SortedMap<String, Long> s && s.comparator() == null ? s : new TreeMap<>(counters);
        StringBuilder json = new StringBuilder(32 * sorted.size() + 2).append('{');
        for (Map.Entry<String, Long> entry : sorted.entrySet()) {
            if (entry.getValue() == null) {
                continue;
            }
            if (json.length() > 1) {
                json.append(',');
            }
            appendString(json, entry.getKey())
                    .append(':')
                    .append(entry.getValue().longValue());
        }
        return json.append('}').toString();
    }

    private static StringBuilder appendString(StringBuilder json, String s) {
        json.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> json.append("\\\"");
                case '\\' -> json.append("\\\\");
                case '\n' -> json.append("\\n");
                case '\r' -> json.append("\\r");
                case '\t' -> json.append("\\t");
                default -> {
                    if (c < 0x20) {
                        json.append(String.format("\\u%04x", (int) c));
                    } else {
                        json.append(c);
                    }
                }
            }
        }
        return json.append('"');
    }
}
