package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.partition.PartitionService;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import com.hazelcast.partition.MigrationListener;
import com.hazelcast.partition.MigrationState;
import com.hazelcast.partition.ReplicaMigrationEvent;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.Agent;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knobs;
import ramswap.store.RemoteTier;

/**
 * The remote tier on a Hazelcast cluster: this node's pages, sealed ({@link PageSeal}), in the
 * IMap {@value #MAP_NAME} under keys ({@link RemoteKey}) whose partitions the target member owns.
 *
 * <p><b>Targets</b> are the node numbers of {@code remote_target_nodenum}, tried in order. One is
 * usable while a member with that node number is present, is a data member and is not this
 * node's own member; one that refused a page for its quota within {@link #REFUSAL_BACKOFF} is
 * skipped, and a batch it refuses goes on to the next target at once. A batch goes to one member.
 *
 * <p><b>Handles</b> are the keys' 40-bit sequence numbers: the key is
 * {@code RemoteKey.of(node, incarnation, handle)}, so the store keeps 40 bits, never reused.
 *
 * <p><b>Who counts what.</b> This class counts where a page could not go:
 * {@code pers_pages_local_no_target} (no target usable), {@code pers_pages_local_targets_full}
 * (every usable target refused), {@code pers_pages_remote_failed} (the put failed otherwise), and
 * the deletes: {@code remote_pages_flushed} (pages deleted that were there) and
 * {@code remote_flush_failed} (pages whose delete failed, once per failed attempt). The store
 * counts {@code pers_pages_remoted} and {@code remote_pers_pages} when it commits a move (and
 * lowers the gauge when it forgets a page), and the outcome of fetches by their codes. A lender's
 * figures are its {@link Lender}'s.
 *
 * <p><b>Allocation.</b> The remote paths allocate (the sealed copy of each page, the key maps,
 * Hazelcast's futures and operations); nothing here is on the local hot path.
 *
 * <p><b>Wiring</b> (the daemon): {@link #start} once the member joined and before the first send;
 * run each of {@link #agents()} on the daemon's {@code Agents}; fetches are waited for by the
 * calling thread, the tier owns none for them; at shutdown, after swapoff and after the store let
 * go of the tier, close the agents (the flusher drains its queue as it stops), then
 * {@link #deleteAllPages} what is left, then {@link #close()} this, then the member.
 */
public final class HazelcastRemoteTier implements RemoteTier, AutoCloseable {

    public static final String MAP_NAME = "ramswap-blocks";
    /** A target that refused a page for its quota is skipped this long. */
    static final Duration REFUSAL_BACKOFF = Duration.ofSeconds(1);
    /** Keys deleted per operation of the flusher. */
    static final int FLUSH_BATCH = 256;
    /** Flushes in flight at most; the queue waits beyond. */
    static final int FLUSHES_IN_FLIGHT = 4;
    /** Tries of one delete before it is left to the lender's orphan cleanup. */
    static final int FLUSH_TRIES = 3;
    /** Threads for fetches of several pages: more than the requests the store can have in flight. */
    static final int FETCH_THREADS = 16;
    /** Between two tries of a start sweep that failed. */
    static final Duration SWEEP_RETRY = Duration.ofSeconds(2);
    /** Longest the flusher spends sending its queue when it stops. */
    static final Duration CLOSE_DRAIN = Duration.ofSeconds(5);
    private static final System.Logger LOG = System.getLogger(HazelcastRemoteTier.class.getName());

    private final HazelcastInstance hazelcast;
    private final IMap<Long, byte[]> map;
    private final PartitionService partitions;
    private final int node;
    private final long incarnation;
    private final Knobs knobs;
    private final Counters counters;
    private final PageSeal seal;
    private final KeyPlacer placer;
    /** Node number -> System.nanoTime() of its last quota refusal. */
    private final Map<Integer, Long> refusedAt = new ConcurrentHashMap<>();
    private final Flusher flusher = new Flusher();
    /**
     * True once every page of this node's earlier lives is deleted. Nothing is sent before: a
     * sweep still running (its operations retried on partitions that migrate) would delete the new
     * life's pages, which carry the same node number.
     */
    private volatile boolean swept;
    /** Counts finished migrations and member departures: partitions may have moved. */
    private final AtomicLong placementEpoch = new AtomicLong();
    private volatile boolean closed;
    /**
     * Threads that run a request's {@code getAll}: more than the requests the store can have in
     * flight (the FUSE threads and the movers), each interrupted when its caller stops waiting, so
     * that a lender that stopped answering holds none of them past the caller's deadline.
     */
    private final java.util.concurrent.ExecutorService fetchThreads;

    private HazelcastRemoteTier(ClusterMember member, Knobs knobs, Counters counters, long incarnation) {
        this.hazelcast = member.hazelcast();
        this.map = hazelcast.getMap(MAP_NAME);
        this.partitions = hazelcast.getPartitionService();
        this.node = member.nodeNumber();
        this.incarnation = incarnation;
        this.knobs = Objects.requireNonNull(knobs, "knobs");
        this.counters = Objects.requireNonNull(counters, "counters");
        this.seal = new PageSeal(member.clusterName(), node, incarnation, new SecureRandom());
        this.placer = new KeyPlacer(partitions, node, incarnation);
        java.util.concurrent.atomic.AtomicInteger fetchers = new java.util.concurrent.atomic.AtomicInteger();
        this.fetchThreads = java.util.concurrent.Executors.newFixedThreadPool(FETCH_THREADS, r -> {
            Thread t = new Thread(r, "ramswap-fetch-" + fetchers.incrementAndGet());
            t.setDaemon(true);
            return t;
        });
        partitions.addMigrationListener(new MigrationListener() {
            @Override
            public void migrationStarted(MigrationState state) {
            }

            @Override
            public void migrationFinished(MigrationState state) {
                placementEpoch.incrementAndGet();
            }

            @Override
            public void replicaMigrationCompleted(ReplicaMigrationEvent event) {
                placementEpoch.incrementAndGet();
            }

            @Override
            public void replicaMigrationFailed(ReplicaMigrationEvent event) {
                placementEpoch.incrementAndGet();
            }
        });
        hazelcast.getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
            @Override
            public void memberAdded(com.hazelcast.cluster.MembershipEvent event) {
                placementEpoch.incrementAndGet();
            }

            @Override
            public void memberRemoved(com.hazelcast.cluster.MembershipEvent event) {
                placementEpoch.incrementAndGet(); // its partitions get new owners, with or without a migration
            }
        });
    }

    /**
     * The tier of this node's {@code incarnation} (a number that differs at each start of the
     * daemon, such as its start time). First deletes every page an earlier life of this node left
     * in the cluster (node numbers are unique, so any page with this node's number is an orphan),
     * waiting for that at most {@code sweepTimeout}; a sweep that takes longer goes on in the
     * background and the lenders' orphan cleanup catches what it misses.
     */
    public static HazelcastRemoteTier start(ClusterMember member, Knobs knobs, Counters counters, long incarnation,
                                            Duration sweepTimeout) {
        HazelcastRemoteTier tier = new HazelcastRemoteTier(Objects.requireNonNull(member, "member"), knobs, counters,
                incarnation);
        tier.sweepEarlierLives(sweepTimeout);
        return tier;
    }

    /** The agents the daemon must run: the flusher of forgotten pages. */
    public List<Agent> agents() {
        return List.of(flusher);
    }

    // ---------------------------------------------------------------- RemoteTier

    @Override
    public boolean canSend() {
        if (!swept) {
            return false;
        }
        for (int target : knobs.targets()) {
            if (usableMember(target) != null) {
                return true;
            }
        }
        return false;
    }

    @Override
    public CompletableFuture<Sent> send(Batch batch) {
        int n = batch.count;
        byte[][] sealed = new byte[n][];
        for (int k = 0; k < n; k++) {
            sealed[k] = seal.seal(batch.pages[k], 0, batch.lengths[k], batch.blocks[k], batch.generations[k]);
        }
        CompletableFuture<Sent> result = new CompletableFuture<>();
        if (!swept) {
            counters.add(Counter.PERS_PAGES_LOCAL_NO_TARGET, n);
            result.complete(Sent.all(n, NO_TARGET));
            return result;
        }
        sendFrom(0, knobs.targets(), sealed, false, result);
        return result;
    }

    /**
     * One {@code getAll} for the request (one operation per owner) on a fetch thread that is
     * interrupted at the deadline, or one {@code getAsync} for a single page, waited for by the
     * calling thread until the deadline. A lender that stopped answering holds no thread past a
     * request's deadline, so it holds up only the requests for its own pages. A failed or late answer
     * leaves every page of the request {@link #TIMEOUT}: the page may still exist.
     */
    @Override
    public void fetch(int n, int[] blocks, int[] generations, long[] handles, byte[][] pages, int[] lengths,
                      long timeoutMillis) {
        Set<Long> keys = new HashSet<>(2 * n);
        for (int k = 0; k < n; k++) {
            keys.add(key(handles[k]));
        }
        Map<Long, byte[]> answer;
        try {
            if (n == 1) { // one partition operation; submitToKeys would ask every member
                long key = key(handles[0]);
                byte[] page = map.getAsync(key).toCompletableFuture().get(timeoutMillis, TimeUnit.MILLISECONDS);
                answer = page == null ? Map.of() : Map.of(key, page);
            } else {
                answer = getAllWithin(keys, timeoutMillis);
            }
        } catch (TimeoutException | ExecutionException | RuntimeException e) {
            Arrays.fill(lengths, 0, n, TIMEOUT);
            return;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            Arrays.fill(lengths, 0, n, TIMEOUT);
            return;
        }
        for (int k = 0; k < n; k++) {
            lengths[k] = open(answer.get(key(handles[k])), blocks[k], generations[k], pages[k]);
        }
    }

    /**
     * One {@code getAll} on a fetch thread, waited for until the deadline; past it the thread is
     * interrupted, which ends its wait, so it serves the next request. A read-only entry processor
     * through {@code submitToKeys} needs no thread but ran the benchmark's all-remote row no faster
     * and at the same CPU (docs/benchmarks.md), and for one key it asks every member.
     */
    private Map<Long, byte[]> getAllWithin(Set<Long> keys, long timeoutMillis)
            throws TimeoutException, ExecutionException, InterruptedException {
        java.util.concurrent.Future<Map<Long, byte[]>> f = fetchThreads.submit(() -> map.getAll(keys));
        try {
            return f.get(timeoutMillis, TimeUnit.MILLISECONDS);
        } finally {
            f.cancel(true); // done already, or late: free its thread
        }
    }

    @Override
    public void forget(long handle) {
        flusher.add(key(handle));
    }

    @Override
    public long placementEpoch() {
        return placementEpoch.get();
    }

    @Override
    public boolean misplaced(long handle) {
        Member owner = partitions.getPartition(key(handle)).getOwner();
        return owner != null && owner.localMember();
    }

    /** Stops a start sweep still trying; the flusher's queue is drained by its agent as it closes. */
    @Override
    public void close() {
        closed = true;
        fetchThreads.shutdownNow();
    }

    // ---------------------------------------------------------------- sending

    /** Sends to the first usable target from {@code targets[from]} on; completes {@code result} in every case. */
    private void sendFrom(int from, int[] targets, byte[][] sealed, boolean sawFull, CompletableFuture<Sent> result) {
        int n = sealed.length;
        for (int i = from; i < targets.length; i++) {
            int target = targets[i];
            Member member = usableMember(target);
            if (member == null) {
                continue;
            }
            if (refusedRecently(target)) {
                sawFull = true;
                continue;
            }
            long[] keys = keysOwnedBy(member, n);
            if (keys == null) {
                continue; // it owns no partition yet (just promoted, or migrating)
            }
            Map<Long, byte[]> entries = new HashMap<>(n * 2);
            for (int k = 0; k < n; k++) {
                entries.put(keys[k], sealed[k]);
            }
            int next = i + 1;
            CompletionStage<Void> put;
            try {
                put = map.setAllAsync(entries);
            } catch (RuntimeException e) { // the member is shutting down, say: nothing was stored
                LOG.log(System.Logger.Level.DEBUG, "sending " + n + " pages to node " + target + " failed", e);
                counters.add(Counter.PERS_PAGES_REMOTE_FAILED, n);
                result.complete(Sent.all(n, REFUSED));
                return;
            }
            put.whenComplete((ignored, failure) -> {
              try {
                if (failure == null) {
                    Sent sent = new Sent(n);
                    for (int k = 0; k < n; k++) {
                        sent.handles[k] = RemoteKey.sequence(keys[k]);
                    }
                    result.complete(sent);
                    return;
                }
                // part of the batch may be stored (no atomicity across a putAll): delete all of it
                for (long key : keys) {
                    flusher.add(key);
                }
                if (LendRefusedException.isRefusal(failure)) {
                    refusedAt.put(target, System.nanoTime());
                    sendFrom(next, targets, sealed, true, result);
                } else {
                    LOG.log(System.Logger.Level.DEBUG, "sending " + n + " pages to node " + target + " failed", failure);
                    counters.add(Counter.PERS_PAGES_REMOTE_FAILED, n);
                    result.complete(Sent.all(n, REFUSED));
                }
              } catch (RuntimeException e) { // whatever happens here, the batch gets its answer: its pages stay local
                  for (long key : keys) {
                      flusher.add(key);
                  }
                  counters.add(Counter.PERS_PAGES_REMOTE_FAILED, n);
                  result.complete(Sent.all(n, REFUSED));
              }
            });
            return;
        }
        if (sawFull) {
            counters.add(Counter.PERS_PAGES_LOCAL_TARGETS_FULL, n);
            result.complete(Sent.all(n, REFUSED));
        } else {
            counters.add(Counter.PERS_PAGES_LOCAL_NO_TARGET, n);
            result.complete(Sent.all(n, NO_TARGET));
        }
    }

    private long[] keysOwnedBy(Member member, int n) {
        long[] keys = new long[n];
        for (int k = 0; k < n; k++) {
            keys[k] = placer.nextKeyOwnedBy(member.getUuid());
            if (keys[k] < 0) {
                return null;
            }
        }
        return keys;
    }

    /** The member of node {@code target} if it is present, holds data and is not this node's own. */
    private Member usableMember(int target) {
        if (target == node) {
            return null;
        }
        for (Member m : hazelcast.getCluster().getMembers()) {
            Integer number = ClusterMember.nodeNumberOf(m);
            if (number != null && number == target) {
                return m.isLiteMember() || m.localMember() ? null : m;
            }
        }
        return null;
    }

    private boolean refusedRecently(int target) {
        Long at = refusedAt.get(target);
        return at != null && System.nanoTime() - at < REFUSAL_BACKOFF.toNanos();
    }

    // ---------------------------------------------------------------- fetching

    private int open(byte[] sealed, int block, int generation, byte[] page) {
        if (sealed == null) {
            return MISSING;
        }
        if (sealed.length - PageSeal.OVERHEAD > page.length) {
            return UNAUTHENTIC; // no page of ours is that long
        }
        int length = seal.open(sealed, sealed.length, block, generation, page, 0);
        return length < 0 ? UNAUTHENTIC : length;
    }

    private long key(long handle) {
        return RemoteKey.of(node, incarnation, handle);
    }

    // ---------------------------------------------------------------- the start sweep

    /**
     * Deletes every page of this node's earlier lives, waiting at most {@code timeout}; until it
     * has succeeded, nothing is sent ({@link #swept}). A sweep that fails is tried again in the
     * background until it succeeds or the tier closes.
     */
    private void sweepEarlierLives(Duration timeout) {
        if (!DataMembers.present(hazelcast)) {
            swept = true; // no lender, so no page of any life anywhere
            return;
        }
        CompletableFuture<Integer> sweep = new CompletableFuture<>();
        Thread t = new Thread(() -> {
            for (int tries = 1; !closed; tries++) {
                try {
                    int removed = removeAllOfThisNode();
                    swept = true;
                    sweep.complete(removed);
                    return;
                } catch (RuntimeException e) {
                    if (tries == 1) {
                        LOG.log(System.Logger.Level.WARNING, "deleting the pages of node " + node + "'s earlier lives failed;"
                                + " trying again every " + SWEEP_RETRY.toSeconds() + " s, and sending no page until it succeeds", e);
                    }
                    sleepQuietly(SWEEP_RETRY);
                }
            }
        }, "ramswap-sweep");
        t.setDaemon(true);
        t.start();
        try {
            int removed = sweep.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (removed > 0) {
                LOG.log(System.Logger.Level.INFO, "node " + node + " deleted " + removed + " pages left in the cluster by its earlier life");
            }
        } catch (TimeoutException e) {
            LOG.log(System.Logger.Level.WARNING, "deleting the pages of node " + node + "'s earlier lives takes longer than "
                    + timeout.toSeconds() + " s; it goes on, and no page is sent until it is done");
        } catch (ExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "deleting the pages of node " + node + "'s earlier lives failed", e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Deletes every page of this node in the cluster, waiting at most {@code timeout}: for a
     * daemon that stops once swapoff has brought every page it still needs back into RAM, so that
     * no lender keeps the rest until {@code orphan_grace_seconds}.
     */
    public void deleteAllPages(Duration timeout) {
        if (!DataMembers.present(hazelcast)) {
            return;
        }
        try {
            int removed = CompletableFuture.supplyAsync(this::removeAllOfThisNode).get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            LOG.log(System.Logger.Level.INFO, "node " + node + " deleted its " + removed + " pages left on other nodes");
        } catch (TimeoutException | ExecutionException e) {
            LOG.log(System.Logger.Level.WARNING, "deleting the pages of node " + node + " left on other nodes did not finish;"
                    + " the lenders free them after orphan_grace_seconds", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Removes every page keyed with this node's number, on their owners; returns how many were there. */
    private int removeAllOfThisNode() {
        int removed = 0;
        for (Boolean r : map.executeOnEntries(PageRemover.orphans(), KeyNodePredicate.of(node)).values()) {
            if (Boolean.TRUE.equals(r)) {
                removed++;
            }
        }
        return removed;
    }

    private static void sleepQuietly(Duration d) {
        try {
            Thread.sleep(d.toMillis());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------- forgetting

    /**
     * Deletes forgotten pages in batches of {@value #FLUSH_BATCH} keys, each one entry-processor
     * operation per owner partition ({@link PageRemover}), a few in flight. A failed batch is tried
     * again up to {@value #FLUSH_TRIES} times; after that its pages are left to the lenders' orphan
     * cleanup (once this node's incarnation ends) and logged.
     */
    final class Flusher implements Agent {

        private final Object lock = new Object();
        private LongArrayList queued = new LongArrayList();
        private LongArrayList draining = new LongArrayList();
        private final ConcurrentLinkedQueue<Retry> retries = new ConcurrentLinkedQueue<>();
        private final AtomicInteger inFlight = new AtomicInteger();

        void add(long key) {
            synchronized (lock) {
                queued.addLong(key);
            }
        }

        int queued() {
            synchronized (lock) {
                return queued.size();
            }
        }

        int inFlight() {
            return inFlight.get();
        }

        @Override
        public int doWork() {
            int work = 0;
            Retry retry;
            while (inFlight.get() < FLUSHES_IN_FLIGHT && (retry = retries.poll()) != null) {
                delete(retry.keys(), retry.attempt());
                work++;
            }
            while (inFlight.get() < FLUSHES_IN_FLIGHT) {
                if (draining.isEmpty()) {
                    synchronized (lock) {
                        LongArrayList swap = queued;
                        queued = draining;
                        draining = swap;
                    }
                    if (draining.isEmpty()) {
                        return work;
                    }
                }
                int from = Math.max(0, draining.size() - FLUSH_BATCH);
                Set<Long> keys = new HashSet<>(2 * (draining.size() - from));
                for (int i = draining.size() - 1; i >= from; i--) {
                    keys.add(draining.removeAt(i));
                }
                delete(keys, 1);
                work++;
            }
            return work;
        }

        private record Retry(Set<Long> keys, int attempt) {
        }

        private void delete(Set<Long> keys, int attempt) {
            inFlight.incrementAndGet();
            CompletionStage<Map<Long, Boolean>> deleted;
            try {
                deleted = map.submitToKeys(keys, PageRemover.forgotten());
            } catch (RuntimeException e) { // not sent at all: the keys go back for another try
                inFlight.decrementAndGet();
                counters.add(Counter.REMOTE_FLUSH_FAILED, keys.size());
                if (attempt < FLUSH_TRIES) {
                    retries.add(new Retry(keys, attempt + 1));
                }
                return;
            }
            deleted.whenComplete((answers, failure) -> {
                inFlight.decrementAndGet();
                if (failure == null) {
                    int removed = 0;
                    for (Boolean r : answers.values()) {
                        if (Boolean.TRUE.equals(r)) {
                            removed++;
                        }
                    }
                    counters.add(Counter.REMOTE_PAGES_FLUSHED, removed);
                    return;
                }
                counters.add(Counter.REMOTE_FLUSH_FAILED, keys.size());
                if (attempt < FLUSH_TRIES) {
                    retries.add(new Retry(keys, attempt + 1));
                } else {
                    LOG.log(System.Logger.Level.WARNING, "node " + node + " could not delete " + keys.size()
                            + " remote pages after " + FLUSH_TRIES + " tries; lenders free them once this node restarts", failure);
                }
            });
        }

        /** Sends what is queued as it stops, for at most {@link #CLOSE_DRAIN}; what is left goes to orphan cleanup. */
        @Override
        public void onClose() {
            long deadline = System.nanoTime() + CLOSE_DRAIN.toNanos();
            while (hazelcast.getLifecycleService().isRunning() && System.nanoTime() - deadline < 0
                    && (doWork() > 0 || queued() > 0 || !draining.isEmpty() || !retries.isEmpty() || inFlight.get() > 0)) {
                Thread.onSpinWait();
            }
        }

        @Override
        public String roleName() {
            return "ramswap-flusher";
        }
    }
}
