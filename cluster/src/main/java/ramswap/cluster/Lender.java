package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.map.LocalMapStats;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.agent.PeriodicAgent;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;

/**
 * This data member's side of the remote tier: it holds other nodes' sealed pages, at most
 * {@code quotaBytes} of them, and frees the pages of nodes gone for good.
 *
 * <p><b>Quota.</b> A put past the quota is refused on this member, before the entry is stored, by
 * a {@link QuotaInterceptor}; the sender sees its put fail and keeps the page (or tries its next
 * target). The bytes in use are Hazelcast's own estimate ({@code getOwnedEntryMemoryCost}, which
 * it computes by walking the partitions, so it is read once per {@link #agent() round}) plus, in
 * between, {@value #ENTRY_OVERHEAD_BYTES} bytes more than each accepted page: at least what an entry
 * costs beyond its value, which for a 4 KiB value was first estimated at 130-190 bytes and then
 * measured at about 100-130. Eviction stays off: the quota is what keeps the heap from filling.
 *
 * <p><b>Orphans.</b> A page whose key carries the number of a node absent from the cluster for
 * {@link Knob#ORPHAN_GRACE_SECONDS} is freed, by the member that owns it, so each is freed once;
 * counted in {@code orphan_pages_freed}, together with the pages a restarting node deletes from
 * its earlier life (its sweep runs on the owners, see {@link PageRemover}).
 *
 * <p><b>Figures</b> on this node's counters: gauges {@code foreign_pers_pages},
 * {@code foreign_pers_pages_max}, {@code foreign_pers_bytes}, {@code lend_quota_bytes}; events
 * {@code lend_refused_pages}, {@code orphan_pages_freed}. {@code lend_refused_pages} counts
 * refusals, not distinct pages: a {@code setAll} whose operation failed in a partition is tried
 * again in that partition once by Hazelcast ({@code InvokeOnPartitions.retryFailedPartitions}),
 * so a refused page usually counts twice.
 *
 * <p>Wiring: construct after the member joined as a data member, run {@link #agent()} on the
 * daemon's {@code Agents}, close after the agents stopped and before the member leaves.
 */
public final class Lender implements AutoCloseable {

    /** Estimated heap per entry beyond its value (Hazelcast's estimate for a 4 KiB value: 4224 B). */
    static final int ENTRY_OVERHEAD_BYTES = 192;

    static final String USER_CONTEXT_KEY = "ramswap.lender";
    static final Duration ROUND = Duration.ofSeconds(1);
    private static final long MIN_SCAN_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final long MAX_SCAN_NANOS = TimeUnit.SECONDS.toNanos(30);
    /** How often the store is compacted a little and gives back the empty slabs of quiet classes. */
    private static final long TIDY_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** Pages moved, and index entries looked at, by one compaction step: a few milliseconds under the store's lock. */
    private static final int COMPACT_MOVES = 1024;

    private static final int COMPACT_LOOKS = 16_384;
    private static final System.Logger LOG = System.getLogger(Lender.class.getName());
    /** Node number -> true while that lender is leaving: senders place nothing there and move their pages off it. */
    public static final String LEAVING_MAP = "ramswap-leaving";

    private final ClusterMember member;
    private final HazelcastInstance hazelcast;
    private final IMap<Long, byte[]> map;
    private final long quotaBytes;
    private final Knobs knobs;
    private final NanoClock clock;
    private final Counters counters;
    private final AtomicLong usedBytes = new AtomicLong();
    private final LendRefusedException refusal;
    private final String interceptorId;
    /**
     * Node number -> when its pages were first seen here (in the map or the store) while it was
     * absent; the agent's thread only.
     */
    private final Map<Integer, Long> absentSince = new HashMap<>();

    private long nextScanNanos;
    private long nextTidyNanos;
    private boolean closed;

    /**
     * Starts lending {@code quotaBytes} of this member's heap.
     *
     * @throws IllegalArgumentException if the member is lite (it owns no partition) or the quota is negative
     * @throws IllegalStateException    if this member already has a lender
     */
    public Lender(ClusterMember member, long quotaBytes, Knobs knobs, Counters counters) {
        this(member, quotaBytes, knobs, counters, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its orphan scans and {@code orphan_grace_seconds} (tests drive it). */
    public Lender(ClusterMember member, long quotaBytes, Knobs knobs, Counters counters, NanoClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.member = Objects.requireNonNull(member, "member");
        this.knobs = Objects.requireNonNull(knobs, "knobs");
        this.counters = Objects.requireNonNull(counters, "counters");
        this.hazelcast = member.hazelcast();
        if (hazelcast.getCluster().getLocalMember().isLiteMember()) {
            throw new IllegalArgumentException("node " + member.nodeNumber() + " is a lite member: it holds no pages"
                    + " and cannot lend; start it as a data member");
        }
        if (quotaBytes < 0) {
            throw new IllegalArgumentException("lend quota " + quotaBytes + " is negative");
        }
        this.quotaBytes = quotaBytes;
        this.map = hazelcast.getMap(HazelcastRemoteTier.MAP_NAME);
        this.refusal = new LendRefusedException(
                "node " + member.nodeNumber() + " refused a page: its lend quota of " + quotaBytes + " bytes is full");
        if (hazelcast.getUserContext().putIfAbsent(USER_CONTEXT_KEY, this) != null) {
            throw new IllegalStateException("node " + member.nodeNumber() + " already has a lender");
        }
        counters.set(Counter.LEND_QUOTA_BYTES, quotaBytes);
        hazelcast.getMap(LEAVING_MAP).delete(member.nodeNumber()); // an earlier life that stopped while leaving
        refresh();
        this.interceptorId = map.addInterceptor(new QuotaInterceptor(this, new SecureRandom().nextLong()));
    }

    /** The off-heap store this lender serves page calls from ({@link CallTier}), or null. */
    private volatile LentPages store;
    /** What the store had counted refused and dropped at the last refresh (guarded by this lender). */
    private long storeRefused;

    private long storeDropped;

    /**
     * Serves {@link PageCall}s from {@code pages} too: its figures join the map's, and its pages of
     * nodes gone for the grace are freed as the map's are. The lender does not close it.
     */
    public void serve(LentPages pages) {
        if (!PageCall.offer(hazelcast, pages)) {
            throw new IllegalStateException("node " + member.nodeNumber() + " already serves page calls");
        }
        this.store = pages;
        refresh();
    }

    /** The lender of the member {@code hazelcast}, or null if it lends nothing. */
    static Lender of(HazelcastInstance hazelcast) {
        Object o = hazelcast.getUserContext().get(USER_CONTEXT_KEY);
        return o instanceof Lender l ? l : null;
    }

    /** The agent that refreshes the figures each second and frees orphans; the daemon's {@code Agents} runs it. */
    public Agent agent() {
        return new PeriodicAgent(ROUND, clock) {
            @Override
            protected void tick() {
                refresh();
                long now = clock.nanoTime();
                if (now - nextScanNanos >= 0) {
                    nextScanNanos = now + scanInterval();
                    sweepOrphans();
                }
                LentPages s = store;
                if (s != null && now - nextTidyNanos >= 0) {
                    nextTidyNanos = now + TIDY_NANOS;
                    tidy(s);
                }
            }

            @Override
            public String roleName() {
                return "ramswap-lender";
            }
        };
    }

    public long quotaBytes() {
        return quotaBytes;
    }

    /** Bytes of other nodes' pages held here, as last estimated. */
    public long usedBytes() {
        return usedBytes.get();
    }

    // ---------------------------------------------------------------- leaving

    /**
     * Tells the senders that this lender is leaving: they place no new copy here and move the pages
     * they have here to other lenders, or home when no lender takes them ({@code RemoteTier}'s
     * repair). Watch {@link #heldOfPresentNodes()} fall to 0, then stop.
     */
    public void announceLeaving() {
        hazelcast.getMap(LEAVING_MAP).set(member.nodeNumber(), true);
    }

    /** Withdraws {@link #announceLeaving()}: this lender stays and takes pages again. */
    public void stayAfterAll() {
        hazelcast.getMap(LEAVING_MAP).delete(member.nodeNumber());
    }

    /**
     * Pages held here of other nodes now in the cluster. Pages of absent nodes are orphans (a node
     * that comes back deletes its earlier life's pages), and this node's own pages (a copy that a
     * partition's move put here) go with it when it stops, so neither needs a hand-over.
     */
    public long heldOfPresentNodes() {
        SortedSet<Integer> present;
        try {
            present = NodeDirectory.present(hazelcast); // members, and client nodes by their leases
        } catch (RuntimeException e) { // the leases cannot be read now: count every page as some present node's
            return map.localKeySet().size();
        }
        int own = member.nodeNumber();
        int[] nodes = present.stream()
                .mapToInt(Integer::intValue)
                .filter(n -> n != own)
                .toArray();
        LentPages s = store;
        long inStore = s == null ? 0 : s.count(k -> RemoteKey.node(k) != own && present.contains(RemoteKey.node(k)));
        return map.localKeySet(KeyNodePredicate.ofAny(nodes)).size() + inStore;
    }

    // ---------------------------------------------------------------- on the partition threads

    /** Takes room for a page of {@code valueBytes}; false, counted, when the quota is full. */
    boolean admit(int valueBytes) {
        long need = valueBytes + (long) ENTRY_OVERHEAD_BYTES;
        while (true) {
            long used = usedBytes.get();
            if (used + need > quotaBytes) {
                counters.increment(Counter.LEND_REFUSED_PAGES);
                return false;
            }
            if (usedBytes.compareAndSet(used, used + need)) {
                return true;
            }
        }
    }

    void released(int valueBytes) {
        usedBytes.addAndGet(-(valueBytes + (long) ENTRY_OVERHEAD_BYTES));
    }

    /** One refusal, made once: it carries no stack trace and travels to the sender by value. */
    LendRefusedException refusal() {
        return refusal;
    }

    void orphanFreed() {
        counters.increment(Counter.ORPHAN_PAGES_FREED);
    }

    // ---------------------------------------------------------------- on the agent's thread

    /** Reads Hazelcast's figures for the pages held here and sets the gauges. */
    synchronized void refresh() {
        LocalMapStats stats = map.getLocalMapStats();
        long cost = stats.getOwnedEntryMemoryCost();
        long pages = stats.getOwnedEntryCount();
        usedBytes.set(cost);
        LentPages s = store;
        if (s != null) {
            cost += s.mappedBytes();
            pages += s.pages();
            // the store counts what it refused and dropped as orphans; the counters get what is new
            long refused = s.refusedPages();
            counters.add(Counter.LEND_REFUSED_PAGES, refused - storeRefused);
            storeRefused = refused;
            long dropped = s.droppedPages();
            counters.add(Counter.ORPHAN_PAGES_FREED, dropped - storeDropped);
            storeDropped = dropped;
        }
        counters.set(Counter.FOREIGN_PERS_BYTES, cost);
        counters.set(Counter.FOREIGN_PERS_PAGES, pages);
        counters.raiseMax(Counter.FOREIGN_PERS_PAGES_MAX, pages);
    }

    /**
     * Frees the pages held here of nodes absent from the cluster since at least the grace period
     * (measured from when this lender first saw them absent). Returns the pages freed.
     */
    int sweepOrphans() {
        SortedSet<Integer> present;
        try {
            present = NodeDirectory.present(hazelcast); // members, and client nodes by their leases
        } catch (RuntimeException e) { // the leases cannot be read now: decide nothing on half an answer
            LOG.log(System.Logger.Level.DEBUG, "reading the node directory failed; no orphan sweep this round", e);
            return 0;
        }
        int[] nodes = present.stream().mapToInt(Integer::intValue).toArray();
        Set<Long> keys = map.localKeySet(KeyNodePredicate.notOf(nodes));
        Map<Integer, List<Long>> byNode = new HashMap<>();
        for (Long key : keys) {
            byNode.computeIfAbsent(RemoteKey.node(key), n -> new ArrayList<>()).add(key);
        }
        // the absent nodes whose pages are held here, in the map or in the store: one clock for both
        LentPages s = store;
        Set<Integer> held = new HashSet<>(byNode.keySet());
        if (s != null) {
            for (int n : s.nodes()) {
                if (!present.contains(n)) {
                    held.add(n);
                }
            }
        }
        absentSince.keySet().retainAll(held);
        long now = clock.nanoTime();
        long grace = TimeUnit.SECONDS.toNanos(knobs.get(Knob.ORPHAN_GRACE_SECONDS));
        Set<Integer> gone = new HashSet<>();
        for (int n : held) {
            long since = absentSince.computeIfAbsent(n, x -> now);
            if (now - since >= grace) {
                gone.add(n);
                absentSince.remove(n);
            }
        }
        if (gone.isEmpty()) {
            return 0;
        }
        int freed = 0;
        if (s != null) {
            freed = s.removeIf(k -> gone.contains(RemoteKey.node(k)));
            s.dropped(freed); // counted at the next refresh, with the pages dropped for earlier lives
        }
        Set<Long> expired = new HashSet<>();
        for (int n : gone) {
            expired.addAll(byNode.getOrDefault(n, List.of()));
        }
        if (!expired.isEmpty()) {
            for (Boolean removed :
                    map.executeOnKeys(expired, PageRemover.orphans()).values()) {
                if (Boolean.TRUE.equals(removed)) {
                    freed++;
                }
            }
        }
        LOG.log(
                System.Logger.Level.INFO,
                "node " + member.nodeNumber() + " freed " + freed + " pages of nodes gone from the cluster");
        return freed;
    }

    /**
     * Moves pages out of sparse slabs into denser ones of their class, a step at a time, so that
     * slabs empty and go back, and gives back the empty slabs of classes gone quiet.
     */
    private void tidy(LentPages s) {
        try {
            s.compact(COMPACT_MOVES, COMPACT_LOOKS);
            s.giveBackIdleSlabs();
        } catch (IllegalStateException closed) { // the daemon closed the store while stopping
            LOG.log(System.Logger.Level.DEBUG, "the lent pages' store is closed", closed);
        }
    }

    private long scanInterval() {
        long quarterGrace = TimeUnit.SECONDS.toNanos(knobs.get(Knob.ORPHAN_GRACE_SECONDS)) / 4;
        return Math.max(MIN_SCAN_NANOS, Math.min(MAX_SCAN_NANOS, quarterGrace));
    }

    /** Stops refusing and counting; the pages held stay (they are the senders'). */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (hazelcast.getLifecycleService().isRunning()) {
                map.removeInterceptor(interceptorId);
            }
        } catch (RuntimeException e) {
            LOG.log(
                    System.Logger.Level.DEBUG,
                    "removing the quota interceptor of node " + member.nodeNumber() + " failed",
                    e);
        } finally {
            hazelcast.getUserContext().remove(USER_CONTEXT_KEY, this);
            LentPages s = store;
            if (s != null) {
                PageCall.withdraw(hazelcast, s);
            }
        }
    }
}
