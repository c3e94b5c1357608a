package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;

/**
 * Publishes this node's counters into the IMap {@value #MAP_NAME}, keyed by node
 * number, as a flat JSON object, so that Management Center's map browser and
 * {@code ramswap status} on any node show every node's figures.
 *
 * <p>Entries expire after a few intervals without an update ({@link #entryTtl}):
 * a node that dies without closing its publisher vanishes from the map instead
 * of showing stale figures forever. Expiry is not eviction: the map config keeps
 * eviction NONE.
 */
public final class StatsPublisher implements AutoCloseable {

    public static final String MAP_NAME = "ramswap-stats";
    static final String THREAD_NAME = "ramswap-stats";

    private static final Duration MIN_ENTRY_TTL = Duration.ofSeconds(30);
    private static final int ENTRY_TTL_INTERVALS = 3;
    private static final Duration STOP_TIMEOUT = Duration.ofSeconds(10);
    private static final System.Logger LOG = System.getLogger(StatsPublisher.class.getName());

    private final HazelcastInstance hazelcast;
    private final IMap<Integer, HazelcastJsonValue> map;
    private final int nodeNumber;
    private final Supplier<Map<String, Long>> snapshot;
    private final long intervalNanos;
    private final long entryTtlMillis;
    private final CountDownLatch stop = new CountDownLatch(1);
    private final AtomicBoolean closed = new AtomicBoolean();
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final Thread thread;

    /**
     * Starts publishing at once, then every {@code interval}.
     *
     * @param snapshot called on the publisher's thread; returns counter name to value
     */
    public StatsPublisher(ClusterMember member, Supplier<Map<String, Long>> snapshot, Duration interval) {
        Objects.requireNonNull(member, "member");
        this.snapshot = Objects.requireNonNull(snapshot, "snapshot");
        Objects.requireNonNull(interval, "interval");
        if (interval.isNegative() || interval.isZero()) {
            throw new IllegalArgumentException("stats interval must be positive, got " + interval);
        }
        this.hazelcast = member.hazelcast();
        this.map = hazelcast.getMap(MAP_NAME);
        this.nodeNumber = member.nodeNumber();
        this.intervalNanos = interval.toNanos();
        this.entryTtlMillis = entryTtl(interval).toMillis();
        this.thread = new Thread(this::run, THREAD_NAME);
        thread.setDaemon(true);
        thread.start();
    }

    /** Snapshots written so far. */
    public long publishedCount() {
        return published.get();
    }

    /** Snapshots lost to an error (supplier failure, cluster unreachable). */
    public long errorCount() {
        return errors.get();
    }

    /**
     * Stops the thread, waiting a bounded time for a write in progress, then
     * removes this node's entry. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        stop.countDown();
        boolean interrupted = false;
        try {
            thread.join(STOP_TIMEOUT.toMillis());
            if (thread.isAlive()) {
                thread.interrupt();
                thread.join(STOP_TIMEOUT.toMillis());
            }
        } catch (InterruptedException e) {
            interrupted = true;
        }
        removeEntry();
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- publishing

    private void run() {
        try {
            do {
                publishOnce();
            } while (!stop.await(intervalNanos, TimeUnit.NANOSECONDS));
        } catch (InterruptedException e) {
            // close() gave up waiting for a write in progress; the thread ends here.
        }
    }

    private void publishOnce() {
        try {
            HazelcastJsonValue value = new HazelcastJsonValue(toJson(snapshot.get()));
            map.set(nodeNumber, value, entryTtlMillis, TimeUnit.MILLISECONDS);
            published.incrementAndGet();
        } catch (RuntimeException e) {
            // Logged once: when the cluster is unreachable this would fail every interval.
            if (errors.getAndIncrement() == 0) {
                LOG.log(System.Logger.Level.WARNING, "publishing the stats of node " + nodeNumber
                        + " failed; further failures are only counted", e);
            }
        }
    }

    private void removeEntry() {
        if (!hazelcast.getLifecycleService().isRunning()) {
            return; // the member left first; the entry expires on its own
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
        SortedMap<String, Long> sorted = counters instanceof SortedMap<String, Long> s && s.comparator() == null
                ? s
                : new TreeMap<>(counters);
        StringBuilder json = new StringBuilder(32 * sorted.size() + 2).append('{');
        for (Map.Entry<String, Long> entry : sorted.entrySet()) {
            if (entry.getValue() == null) {
                continue;
            }
            if (json.length() > 1) {
                json.append(',');
            }
            appendString(json, entry.getKey()).append(':').append(entry.getValue().longValue());
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
