package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedSet;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.agent.PeriodicAgent;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;

/**
 * This data member's side of the remote tier: it serves {@link PageCall}s from its own store of
 * other nodes' sealed pages ({@link LentPages}, off the heap, at most its quota), keeps that
 * store's figures on the node's counters, tidies it, and frees the pages of nodes gone for good.
 *
 * <p><b>Quota.</b> The store refuses a page past its quota; the sender sees the refusal and keeps
 * the page (or tries its next target).
 *
 * <p><b>Orphans.</b> The pages of a node absent from the cluster for
 * {@link Knob#ORPHAN_GRACE_SECONDS} are freed, counted in {@code orphan_pages_freed} together with
 * the pages a restarting node drops from its earlier life.
 *
 * <p><b>Figures</b> on this node's counters: gauges {@code foreign_pers_pages},
 * {@code foreign_pers_pages_max}, {@code foreign_pers_bytes}, {@code lend_quota_bytes}; events
 * {@code lend_refused_pages}, {@code orphan_pages_freed}.
 *
 * <p>Wiring: construct after the member joined as a data member, run {@link #agent()} on the
 * daemon's {@code Agents}, close after the agents stopped and before the member leaves, then close
 * the store.
 */
public final class Lender implements AutoCloseable {

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
    private final LentPages store;
    private final Knobs knobs;
    private final NanoClock clock;
    private final Counters counters;
    /**
     * Node number -> when its pages were first seen here while it was absent; the agent's thread only.
     */
    private final Map<Integer, Long> absentSince = new HashMap<>();

    private long nextScanNanos;
    private long nextTidyNanos;
    private boolean closed;

    /**
     * Starts lending {@code store}'s quota: serves page calls from it.
     *
     * @throws IllegalArgumentException if the member is lite (a lender is a data member)
     * @throws IllegalStateException    if this member already serves page calls
     */
    public Lender(ClusterMember member, LentPages store, Knobs knobs, Counters counters) {
        this(member, store, knobs, counters, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its orphan scans and {@code orphan_grace_seconds} (tests drive it). */
    public Lender(ClusterMember member, LentPages store, Knobs knobs, Counters counters, NanoClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.member = Objects.requireNonNull(member, "member");
        this.store = Objects.requireNonNull(store, "store");
        this.knobs = Objects.requireNonNull(knobs, "knobs");
        this.counters = Objects.requireNonNull(counters, "counters");
        this.hazelcast = member.hazelcast();
        if (hazelcast.getCluster().getLocalMember().isLiteMember()) {
            throw new IllegalArgumentException("node " + member.nodeNumber() + " is a lite member: it holds no pages"
                    + " and cannot lend; start it as a data member");
        }
        counters.set(Counter.LEND_QUOTA_BYTES, store.quotaBytes());
        hazelcast.getMap(LEAVING_MAP).delete(member.nodeNumber()); // an earlier life that stopped while leaving
        refresh();
        if (!PageCall.offer(hazelcast, store)) {
            throw new IllegalStateException("node " + member.nodeNumber() + " already serves page calls");
        }
    }

    /** What the store had counted refused and dropped at the last refresh (guarded by this lender). */
    private long storeRefused;

    private long storeDropped;

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
                if (now - nextTidyNanos >= 0) {
                    nextTidyNanos = now + TIDY_NANOS;
                    tidy();
                }
            }

            @Override
            public String roleName() {
                return "ramswap-lender";
            }
        };
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
            return store.pages();
        }
        int own = member.nodeNumber();
        return store.count(k -> RemoteKey.node(k) != own && present.contains(RemoteKey.node(k)));
    }

    // ---------------------------------------------------------------- on the agent's thread

    /** Reads the store's figures and sets the gauges. */
    synchronized void refresh() {
        long pages = store.pages();
        // the store counts what it refused and dropped as orphans; the counters get what is new
        long refused = store.refusedPages();
        counters.add(Counter.LEND_REFUSED_PAGES, refused - storeRefused);
        storeRefused = refused;
        long dropped = store.droppedPages();
        counters.add(Counter.ORPHAN_PAGES_FREED, dropped - storeDropped);
        storeDropped = dropped;
        counters.set(Counter.FOREIGN_PERS_BYTES, store.mappedBytes());
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
        Set<Integer> held = new HashSet<>();
        for (int n : store.nodes()) {
            if (!present.contains(n)) {
                held.add(n);
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
        int freed = store.removeIf(k -> gone.contains(RemoteKey.node(k)));
        store.dropped(freed); // counted at the next refresh, with the pages dropped for earlier lives
        LOG.log(
                System.Logger.Level.INFO,
                "node " + member.nodeNumber() + " freed " + freed + " pages of nodes gone from the cluster");
        return freed;
    }

    /**
     * Moves pages out of sparse slabs into denser ones of their class, a step at a time, so that
     * slabs empty and go back, and gives back the empty slabs of classes gone quiet.
     */
    private void tidy() {
        try {
            store.compact(COMPACT_MOVES, COMPACT_LOOKS);
            store.giveBackIdleSlabs();
        } catch (IllegalStateException closed) { // the daemon closed the store while stopping
            LOG.log(System.Logger.Level.DEBUG, "the lent pages' store is closed", closed);
        }
    }

    private long scanInterval() {
        long quarterGrace = TimeUnit.SECONDS.toNanos(knobs.get(Knob.ORPHAN_GRACE_SECONDS)) / 4;
        return Math.max(MIN_SCAN_NANOS, Math.min(MAX_SCAN_NANOS, quarterGrace));
    }

    /** Stops serving page calls; the pages held stay in the store (they are the senders'), which the daemon closes. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        PageCall.withdraw(hazelcast, store);
    }
}
