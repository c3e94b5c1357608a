package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import com.hazelcast.partition.MigrationListener;
import com.hazelcast.partition.MigrationState;
import com.hazelcast.partition.PartitionService;
import com.hazelcast.partition.ReplicaMigrationEvent;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
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
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.agent.Wakeup;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.FetchSlot;
import ramswap.store.Knobs;

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
 * run each of {@link #agents()} on the daemon's {@code Agents}; a synchronous fetch is waited for by the
 * calling thread, a parked read's ({@link #fetch(FetchSlot)}) is answered by the threads that
 * complete Hazelcast's futures and by {@link FetchTimer}; at shutdown, after swapoff and after the store let
 * go of the tier, close the agents (the flusher drains its queue as it stops), then
 * {@link #deleteAllPages} what is left, then {@link #close()} this, then the member.
 */
public final class HazelcastRemoteTier implements ClusterTier {

    public static final String MAP_NAME = "ramswap-blocks";
    /** A target that refused a page for its quota is skipped this long. */
    static final Duration REFUSAL_BACKOFF = Duration.ofSeconds(1);
    /** Keys deleted per operation of the flusher. */
    static final int FLUSH_BATCH = 256;
    /** Flushes in flight at most; the queue waits beyond. */
    static final int FLUSHES_IN_FLIGHT = 4;
    /** Tries of one delete before it is left to the lender's orphan cleanup. */
    static final int FLUSH_TRIES = 3;
    /**
     * A page stored with one copy while two were wanted is not re-placed (for a second copy) until
     * this long after a second copy last could not be had, so that full targets are not asked again
     * and again.
     */
    static final Duration SECOND_COPY_QUIET = Duration.ofSeconds(30);
    /**
     * A copy no block uses is deleted once found so this far apart: longer than any send can go on
     * before its pages commit (the remotifier gives a send up after 60 s, the repairer after at most
     * remote_timeout_ms, at most 60 s).
     */
    static final Duration LEAK_CONFIRM = Duration.ofSeconds(90);
    /** Between two tries of a start sweep that failed. */
    static final Duration SWEEP_RETRY = Duration.ofSeconds(2);
    /** Longest the flusher spends sending its queue when it stops. */
    static final Duration CLOSE_DRAIN = Duration.ofSeconds(5);

    private static final System.Logger LOG = System.getLogger(HazelcastRemoteTier.class.getName());

    private final HazelcastInstance hazelcast;
    /** A client has no partition service of its own to ask whether partitions settled: it asks a member. */
    private final boolean client;

    private final IMap<Long, byte[]> map;
    private final PartitionService partitions;
    private final int node;
    private final long incarnation;
    private final Knobs knobs;
    private final Counters counters;
    private final PageSeal seal;
    private final KeyPlacer placer;
    /**
     * The time of the tier's windows (a refusal's back-off, the quiet after a second copy could not
     * be had, a leak's confirmation, the failure log's minute); tests move it. The waits on the
     * network (a fetch's deadline, the flusher's drain at close) wait on the system's clock.
     */
    private final NanoClock clock;
    /** Node number -> clock time of its last quota refusal. */
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
     * Per partition: handles below this lost the copy they had there (the member that owned it left
     * without handing it over). 0: none lost.
     */
    private final java.util.concurrent.atomic.AtomicLongArray lostBelow;
    /** Per partition: the member that owned it when this node last looked. */
    private final java.util.UUID[] knownOwners;
    /** Clock time when a page last got one copy while two were wanted. */
    private volatile long secondCopyShortAt;
    /** Node numbers of lenders that are leaving ({@link Lender#announceLeaving}): nothing goes there, pages move off. */
    private final Set<Integer> leaving = ConcurrentHashMap.newKeySet();
    /** The copies wanted at the last look, so that a change of the knob starts a repair sweep. */
    private volatile long copiesSeen;
    /** Times this member merged back into a cluster it had been cut off from ({@link #rejoins}). */
    private final AtomicLong rejoins = new AtomicLong();
    /** Between two looks for a holder while a fetch waits for one ({@link #fetch}). */
    static final Duration HOLDER_POLL = Duration.ofMillis(20);
    /**
     * How long after the last holder left a fetch still waits for one: a split's sides find each
     * other and merge within about the heartbeat timeout and a few merge rounds. Later, the
     * holders are taken for gone (crashed), and pages missing here are answered missing at once.
     */
    static final Duration REJOIN_WINDOW = Duration.ofSeconds(MemberConfig.MAX_NO_HEARTBEAT_SECONDS
            + MemberConfig.MERGE_FIRST_RUN_DELAY_SECONDS
            + 4L * MemberConfig.MERGE_NEXT_RUN_DELAY_SECONDS);
    /** Clock time when the last member that could hold this node's pages left; 0: none has. */
    private volatile long holdersGoneAt;

    private HazelcastRemoteTier(ClusterNode member, Knobs knobs, Counters counters, long incarnation, NanoClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.secondCopyShortAt = clock.nanoTime() - SECOND_COPY_QUIET.toNanos() - 1;
        this.hazelcast = member.hazelcast();
        this.client = member.client();
        this.map = hazelcast.getMap(MAP_NAME);
        this.partitions = hazelcast.getPartitionService();
        this.node = member.nodeNumber();
        this.incarnation = incarnation;
        this.knobs = Objects.requireNonNull(knobs, "knobs");
        this.counters = Objects.requireNonNull(counters, "counters");
        this.seal = new PageSeal(member.clusterName(), node, incarnation, new SecureRandom());
        this.placer = new KeyPlacer(partitions, node, incarnation);
        int partitionCount = partitions.getPartitions().size();
        this.lostBelow = new java.util.concurrent.atomic.AtomicLongArray(partitionCount);
        this.knownOwners = new java.util.UUID[partitionCount];
        this.copiesSeen = knobs.get(ramswap.store.Knob.REMOTE_COPIES);
        lookAtOwners(null);
        partitions.addMigrationListener(new MigrationListener() {
            @Override
            public void migrationStarted(MigrationState state) {
                moved(); // not settled until it ends
            }

            @Override
            public void migrationFinished(MigrationState state) {
                lookAtOwners(null);
            }

            @Override
            public void replicaMigrationCompleted(ReplicaMigrationEvent event) {
                lookAtOwners(null);
            }

            @Override
            public void replicaMigrationFailed(ReplicaMigrationEvent event) {
                lookAtOwners(null);
            }
        });
        IMap<Integer, Boolean> leavingMap = hazelcast.getMap(Lender.LEAVING_MAP);
        leavingMap.addEntryListener(new LeavingListener(), false);
        if (DataMembers.present(
                hazelcast)) { // alone as a lite member no map answers; the listener sees what comes later
            try {
                leaving.addAll(leavingMap.keySet());
            } catch (RuntimeException e) { // the data members left meanwhile
                LOG.log(System.Logger.Level.DEBUG, "reading the leaving lenders failed", e);
            }
        }
        // a second signal beside the owners' watch: the copies in a partition reported lost are gone
        partitions.addPartitionLostListener(event -> markLost(event.getPartitionId(), false));
        // cut off, this member took every partition, empty; merged back, it joins the side that kept the copies
        hazelcast.getLifecycleService().addLifecycleListener(event -> {
            com.hazelcast.core.LifecycleEvent.LifecycleState state = event.getState();
            // a member that merged into the other side; a client whose members did
            if (state == com.hazelcast.core.LifecycleEvent.LifecycleState.MERGED
                    || state == com.hazelcast.core.LifecycleEvent.LifecycleState.CLIENT_CHANGED_CLUSTER) {
                rejoins.incrementAndGet();
                moved();
            }
        });
        hazelcast.getCluster().addMembershipListener(new com.hazelcast.cluster.MembershipListener() {
            @Override
            public void memberAdded(com.hazelcast.cluster.MembershipEvent event) {
                secondCopyShortAt =
                        clock.nanoTime() - SECOND_COPY_QUIET.toNanos() - 1; // a lender may have come: try again
                lookAtOwners(null);
            }

            @Override
            public void memberRemoved(com.hazelcast.cluster.MembershipEvent event) {
                lookAtOwners(event.getMember().getUuid()); // its partitions get new owners, with or without a migration
                if (!event.getMember().isLiteMember() && !holdersPresent()) {
                    holdersGoneAt = clock.nanoTime();
                }
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
    public static HazelcastRemoteTier start(
            ClusterNode member, Knobs knobs, Counters counters, long incarnation, Duration sweepTimeout) {
        return start(member, knobs, counters, incarnation, sweepTimeout, SystemNanoClock.INSTANCE);
    }

    /** {@link #start(ClusterNode, Knobs, Counters, long, Duration)} with {@code clock} for its windows. */
    public static HazelcastRemoteTier start(
            ClusterNode member,
            Knobs knobs,
            Counters counters,
            long incarnation,
            Duration sweepTimeout,
            NanoClock clock) {
        HazelcastRemoteTier tier =
                new HazelcastRemoteTier(Objects.requireNonNull(member, "member"), knobs, counters, incarnation, clock);
        tier.sweepEarlierLives(sweepTimeout);
        return tier;
    }

    /** The agents the daemon must run: the flusher of forgotten pages, the log of failed reads, the parked reads' timer. */
    @Override
    public List<Agent> agents() {
        return List.of(flusher, failureLog, timer);
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
        int[] targets = knobs.targets();
        sendFrom(0, targets, sealed, false, 2 * targets.length + 2, result);
        return result;
    }

    /**
     * Late-binding reads: each page's first copy is asked at once ({@code getAsync}, one partition
     * operation each, waiting on no thread); a page with no good answer from it within
     * {@code late_bind_ms}, or whose first copy is missing or fails authentication, has its
     * second copy asked too, and takes whichever good answer comes first. A page fails only when
     * no copy gave it within {@code timeoutMillis}: {@link #UNAUTHENTIC} if a copy came back
     * altered, else {@link #MISSING} if every copy was missing, else {@link #TIMEOUT}. A lender that
     * stopped answering holds up only the pages that have no other copy.
     */
    @Override
    public void fetch(
            int n, int[] blocks, int[] generations, long[] handles, byte[][] pages, int[] lengths, long timeoutMillis) {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        fetchUntil(n, blocks, generations, handles, pages, lengths, deadline);
        long goneAt = holdersGoneAt;
        long windowLeft = goneAt == 0 ? 0 : goneAt + REJOIN_WINDOW.toNanos() - clock.nanoTime();
        if (windowLeft <= 0 || holdersPresent()) {
            return; // holders are here, or were never here, or are gone for good: missing means missing
        }
        // Alone among data members since shortly: a copy answered "missing" by this node's own member may have been
        // lost with a lender that crashed, or be held by the other side of a split that this node will merge back
        // into. Wait for a holder, within the timeout and the rejoin window, and ask again: a process that waits for
        // its page survives the merge, one answered with EIO dies. (A page a lender handed over gracefully is here, and
        // was answered above.)
        int missing = 0;
        for (int k = 0; k < n; k++) {
            missing += lengths[k] == MISSING ? 1 : 0;
        }
        if (missing == 0) {
            return;
        }
        long windowEnd = System.nanoTime() + windowLeft;
        boolean deadlineFirst = deadline - windowEnd < 0;
        if (!awaitHolders(deadlineFirst ? deadline : windowEnd)) {
            if (deadlineFirst) {
                for (int k = 0; k < n; k++) {
                    if (lengths[k] == MISSING) {
                        lengths[k] = TIMEOUT;
                    }
                }
            }
            if (withinLogBudget()) {
                failureLog.add(new FailedRead(-1, 0, deadlineFirst ? TIMEOUT : MISSING, missing, null, null));
            }
            return;
        }
        int[] at = new int[missing];
        int m = 0;
        for (int k = 0; k < n; k++) {
            if (lengths[k] == MISSING) {
                at[m++] = k;
            }
        }
        int[] b = new int[m];
        int[] g = new int[m];
        long[] h = new long[m];
        byte[][] p = new byte[m][];
        int[] l = new int[m];
        for (int i = 0; i < m; i++) {
            b[i] = blocks[at[i]];
            g[i] = generations[at[i]];
            h[i] = handles[at[i]];
            p[i] = pages[at[i]];
        }
        fetchUntil(m, b, g, h, p, l, deadline);
        for (int i = 0; i < m; i++) {
            lengths[at[i]] = l[i];
        }
    }

    // ---------------------------------------------------------------- parked reads

    /** {@link FetchSlot#marks} of a page: its second copy was asked. */
    private static final int ASKED_SECOND = 1;
    /** The first copy answered missing, unauthentic, or failed without an answer. */
    private static final int FIRST_MISSING = 2;

    private static final int FIRST_UNAUTHENTIC = 4;
    private static final int FIRST_NO_ANSWER = 8;
    /** The same for the second copy. */
    private static final int SECOND_MISSING = 16;

    private static final int SECOND_UNAUTHENTIC = 32;
    private static final int SECOND_NO_ANSWER = 64;
    /** Every copy missing while this node is cut off from every holder: asked again when one is back. */
    private static final int AWAIT_HOLDERS = 128;

    private static final int FIRST_FAILED = FIRST_MISSING | FIRST_UNAUTHENTIC | FIRST_NO_ANSWER;
    private static final int SECOND_FAILED = SECOND_MISSING | SECOND_UNAUTHENTIC | SECOND_NO_ANSWER;

    /** Slots with a round in flight, for {@link FetchTimer}. */
    private final ParkedRounds parked = new ParkedRounds();

    private final FetchTimer timer = new FetchTimer();
    /**
     * Runs a future's callback on the thread that completes it (a response thread of the member
     * or the client). Hazelcast's {@code whenComplete} would hand it to the common fork-join pool,
     * whose threads come and go: a thread started while swap is live maps its stack under the
     * {@code mmap_lock} (docs/memory-pressure.md).
     */
    private static final java.util.concurrent.Executor ON_COMPLETING_THREAD = Runnable::run;

    /** Where a completing thread opens a sealed page before the slot takes it. */
    private static final ThreadLocal<byte[]> OPENED = new ThreadLocal<>();

    /**
     * The parked read's pages, asked without waiting: each page's first copy at once, its second
     * when the first fails or at {@link FetchSlot#lateAt()} ({@link FetchTimer}), and the page
     * answered by the first copy that gives it, by the failure of every copy, or at the deadline.
     * Runs on the serving thread only as far as sending the asks; the answers run on the threads
     * that complete Hazelcast's futures.
     */
    @Override
    public void fetch(FetchSlot slot) {
        int round = slot.round();
        slot.setLateAt(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(knobs.get(ramswap.store.Knob.LATE_BIND_MS)));
        parked.watch(slot);
        int n = slot.count();
        for (int k = 0; k < n; k++) {
            askCopy(slot, round, k, false);
        }
        parked.started(slot);
    }

    /** Asks one copy of page {@code k}; its answer comes to {@link #copyAnswered}. */
    // the callback answers the page on every path, failures included
    @SuppressWarnings("FutureReturnValueIgnored")
    private void askCopy(FetchSlot slot, int round, int k, boolean second) {
        long handle = slot.handle(k);
        long key = second ? placer.secondKey(handle) : placer.firstKey(handle);
        CompletionStage<byte[]> f;
        try {
            f = map.getAsync(key);
        } catch (RuntimeException e) { // not sent (the member is stopping): as good as no answer
            copyAnswered(slot, round, k, second, null, e);
            return;
        }
        f.whenCompleteAsync((v, t) -> copyAnswered(slot, round, k, second, v, t), ON_COMPLETING_THREAD);
    }

    /**
     * One copy of page {@code k} answered (or failed): the page if it opens; else the failure is
     * marked, the second copy asked if it was not, and the page answered with its failure once
     * every copy has failed.
     */
    private void copyAnswered(FetchSlot slot, int round, int k, boolean second, byte[] sealed, Throwable t) {
        if (!slot.waiting(round, k)) {
            return; // answered already, or an answer of an earlier round
        }
        int code = TIMEOUT;
        if (t == null) {
            byte[] page = OPENED.get();
            if (page == null || page.length < slot.pageCapacity()) {
                page = new byte[slot.pageCapacity()];
                OPENED.set(page);
            }
            code = seal.openCopy(sealed, slot.block(k), slot.generation(k), page);
            if (code >= 0) {
                if (slot.answer(round, k, page, code) && second) {
                    counters.increment(Counter.REMOTE_READS_SECOND_COPY);
                }
                return;
            }
        }
        int failed = code == MISSING ? FIRST_MISSING : code == UNAUTHENTIC ? FIRST_UNAUTHENTIC : FIRST_NO_ANSWER;
        slot.mark(k, second ? failed << 3 : failed);
        if (!second && KeyPlacer.twoCopies(slot.handle(k)) && slot.mark(k, ASKED_SECOND)) {
            askCopy(slot, round, k, true);
            return;
        }
        settleFailed(slot, round, k);
    }

    /** Answers page {@code k} with its failure once every copy it has has failed. */
    private void settleFailed(FetchSlot slot, int round, int k) {
        int m = slot.marks(k);
        boolean two = KeyPlacer.twoCopies(slot.handle(k));
        if ((m & FIRST_FAILED) == 0 || (two && (m & SECOND_FAILED) == 0)) {
            return; // a copy may still give it
        }
        int code = (m & (FIRST_UNAUTHENTIC | SECOND_UNAUTHENTIC)) != 0
                ? UNAUTHENTIC
                : (m & (FIRST_NO_ANSWER | SECOND_NO_ANSWER)) != 0 ? TIMEOUT : MISSING;
        if (code == MISSING && withinRejoinWindow() && !holdersPresent()) {
            // cut off from every holder since shortly: the copies may be on the other side of a split (see fetch)
            slot.mark(k, AWAIT_HOLDERS);
            parked.wakeup.wake();
            return;
        }
        if (slot.answer(round, k, null, code) && (code != MISSING || holdersPresent())) {
            logParkedFailure(slot.block(k), slot.handle(k), code, m);
        }
    }

    private boolean withinRejoinWindow() {
        long goneAt = holdersGoneAt;
        return goneAt != 0 && clock.nanoTime() - (goneAt + REJOIN_WINDOW.toNanos()) < 0;
    }

    private void logParkedFailure(int block, long handle, int code, int marks) {
        if (withinLogBudget()) {
            failureLog.add(new FailedRead(block, handle, code, 1, null, null, marks));
        }
    }

    /**
     * The deadlines and late binding of parked reads: while pages wait, it wakes when the next of
     * them is due, asks the second copies of pages past their slot's {@link FetchSlot#lateAt()}, answers the
     * pages past its deadline with {@link #TIMEOUT}, and asks again the pages that waited for a
     * holder once one is back. Woken by each new round; idle when no page waits.
     */
    final class FetchTimer implements Agent {
        @Override
        public void onStart() {
            parked.wakeup.bind();
        }

        @Override
        public int doWork() {
            parked.looking();
            long now = System.nanoTime();
            long next = Long.MAX_VALUE;
            boolean waiting = false;
            Boolean holders = null; // asked at most once a pass, and only for pages that wait for them
            int end = parked.end();
            for (int i = 0; i < end; i++) {
                FetchSlot slot = parked.slot(i);
                if (slot == null) {
                    continue;
                }
                int round = slot.round();
                int n = slot.count();
                for (int k = 0; k < n; k++) {
                    if (!slot.waiting(round, k)) {
                        continue;
                    }
                    waiting = true;
                    int m = slot.marks(k);
                    if (now - slot.deadline() >= 0) {
                        int code = (m & (FIRST_UNAUTHENTIC | SECOND_UNAUTHENTIC)) != 0 ? UNAUTHENTIC : TIMEOUT;
                        if (slot.answer(round, k, null, code)) {
                            logParkedFailure(slot.block(k), slot.handle(k), code, m);
                        }
                        continue;
                    }
                    next = Math.min(next, slot.deadline());
                    if ((m & AWAIT_HOLDERS) != 0) {
                        if (!withinRejoinWindow()) {
                            if (slot.answer(round, k, null, MISSING) && withinLogBudget()) {
                                failureLog.add(new FailedRead(-1, 0, MISSING, 1, null, null, m));
                            }
                        } else if (holders == null ? (holders = holdersPresent()) : holders) {
                            if (slot.resetMarks(k, m)) {
                                askCopy(slot, round, k, false);
                            }
                        } else {
                            next = Math.min(next, now + HOLDER_POLL.toNanos());
                        }
                        continue;
                    }
                    if ((m & ASKED_SECOND) == 0 && KeyPlacer.twoCopies(slot.handle(k))) {
                        if (now - slot.lateAt() >= 0) {
                            if (slot.mark(k, ASKED_SECOND)) {
                                askCopy(slot, round, k, true);
                            }
                        } else {
                            next = Math.min(next, slot.lateAt());
                        }
                    }
                }
            }
            return parked.rest(waiting, now, next);
        }

        /** Says what still waited when the tier stopped: a parked read's pages are answered by then, or aborted. */
        @Override
        public void onClose() {
            int pages = 0;
            int reads = 0;
            int end = parked.end();
            for (int i = 0; i < end; i++) {
                FetchSlot slot = parked.slot(i);
                if (slot == null) {
                    continue;
                }
                int round = slot.round();
                int before = pages;
                for (int k = 0; k < slot.count(); k++) {
                    pages += slot.waiting(round, k) ? 1 : 0;
                }
                reads += pages > before ? 1 : 0;
            }
            if (pages > 0) {
                LOG.log(
                        System.Logger.Level.INFO,
                        pages + " pages of " + reads + " parked reads were still unanswered when the tier stopped"
                                + " (a read aborted at unmount was answered EIO by the file system)");
            }
        }

        @Override
        public String roleName() {
            return "ramswap-fetch-timer";
        }
    }

    /** {@link #fetch}'s reads, until {@code deadline} ({@code System.nanoTime()}). */
    private void fetchUntil(
            int n, int[] blocks, int[] generations, long[] handles, byte[][] pages, int[] lengths, long deadline) {
        long start = System.nanoTime();
        long lateAt = start + TimeUnit.MILLISECONDS.toNanos(knobs.get(ramswap.store.Knob.LATE_BIND_MS));
        java.util.concurrent.Semaphore answered = new java.util.concurrent.Semaphore(0);
        @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type
        CompletableFuture<byte[]>[] first = new CompletableFuture[n];
        @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type
        CompletableFuture<byte[]>[] second = new CompletableFuture[n];
        boolean[] done = new boolean[n];
        int[] firstCode = new int[n];
        for (int k = 0; k < n; k++) {
            first[k] = ask(placer.firstKey(handles[k]), answered);
            lengths[k] = TIMEOUT;
        }
        int left = n;
        while (true) {
            long now = System.nanoTime();
            for (int k = 0; k < n; k++) {
                if (done[k]) {
                    continue;
                }
                boolean two = KeyPlacer.twoCopies(handles[k]);
                int a = firstCode[k] != 0 ? firstCode[k] : answer(first[k], blocks[k], generations[k], pages[k]);
                if (a >= 0) {
                    lengths[k] = a;
                    done[k] = true;
                    left--;
                    continue;
                }
                if (a != TIMEOUT) {
                    firstCode[k] = a; // failed for good: only the second copy can still give the page
                }
                if (two && second[k] == null && (a != TIMEOUT || now - lateAt >= 0)) {
                    second[k] = ask(placer.secondKey(handles[k]), answered);
                }
                int b = second[k] == null ? TIMEOUT : answer(second[k], blocks[k], generations[k], pages[k]);
                if (b >= 0) {
                    lengths[k] = b;
                    done[k] = true;
                    left--;
                    counters.increment(Counter.REMOTE_READS_SECOND_COPY);
                    continue;
                }
                if (a != TIMEOUT && (!two || b != TIMEOUT)) { // every copy answered, none with the page
                    lengths[k] = a == UNAUTHENTIC || b == UNAUTHENTIC ? UNAUTHENTIC : MISSING;
                    done[k] = true;
                    left--;
                    if (lengths[k] != MISSING || holdersPresent()) { // alone, fetch says what it does with these
                        logFailure(blocks[k], handles[k], lengths[k], first[k], second[k]);
                    }
                }
            }
            if (left == 0) {
                return;
            }
            long wait = Math.min(deadline, now - lateAt < 0 ? lateAt : deadline) - System.nanoTime();
            if (System.nanoTime() - deadline >= 0) {
                for (int k = 0; k < n; k++) {
                    if (!done[k]) {
                        lengths[k] = firstCode[k] == UNAUTHENTIC ? UNAUTHENTIC : TIMEOUT;
                        logFailure(blocks[k], handles[k], lengths[k], first[k], second[k]);
                    }
                }
                return;
            }
            try {
                answered.tryAcquire(Math.max(1, wait), TimeUnit.NANOSECONDS);
                answered.drainPermits();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                deadline = System.nanoTime(); // answer at once with what came
            }
        }
    }

    /** Waits until {@link #holdersPresent} or {@code deadline}; false at the deadline. */
    private boolean awaitHolders(long deadline) {
        while (!holdersPresent()) {
            if (System.nanoTime() - deadline >= 0) {
                return false;
            }
            try {
                Thread.sleep(HOLDER_POLL.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean holdersPresent() {
        try {
            for (Member m : hazelcast.getCluster().getMembers()) {
                if (!m.isLiteMember() && !m.localMember()) {
                    return true;
                }
            }
            return false;
        } catch (RuntimeException e) { // the instance has stopped: judge nothing by it, as before it could be asked
            return true;
        }
    }

    @Override
    public long rejoins() {
        return rejoins.get();
    }

    /** Failed reads logged in the current minute, and when that minute started. */
    private final AtomicInteger failuresLogged = new AtomicInteger();

    private volatile long failureMinute;

    /**
     * A read that failed, as a serving thread hands it to {@link FailureLog}: plain fields, so that
     * the serving thread builds no message (a first string concatenation at a call site defines
     * classes), asks Hazelcast nothing and writes no log file. {@code block} -1: {@code count}
     * pages not read for want of any member that could hold them.
     */
    private record FailedRead(
            int block,
            long handle,
            int code,
            int count,
            CompletableFuture<byte[]> first,
            CompletableFuture<byte[]> second,
            int marks) {
        /** A failure of a waited-for read, whose copies are described by their futures. */
        FailedRead(
                int block,
                long handle,
                int code,
                int count,
                CompletableFuture<byte[]> first,
                CompletableFuture<byte[]> second) {
            this(block, handle, code, count, first, second, -1);
        }
    }

    /** Loads and links what a serving thread uses to hand a failure over, when the tier is made. */
    private static final FailedRead NO_FAILURE = new FailedRead(0, 0, 0, 0, null, null, 0);

    private final FailureLog failureLog = new FailureLog();

    /**
     * Logs a page that could not be read, with where its copies are and what each answered: such a
     * page kills the process that owns it. At most 20 a minute. Called on a serving thread, which
     * only hands the failure to {@link FailureLog}.
     */
    private void logFailure(
            int block, long handle, int code, CompletableFuture<byte[]> first, CompletableFuture<byte[]> second) {
        if (withinLogBudget()) {
            failureLog.add(new FailedRead(block, handle, code, 1, first, second));
        }
    }

    /** At most 20 failures a minute reach the log. */
    private boolean withinLogBudget() {
        long now = clock.nanoTime();
        if (now - failureMinute > 60_000_000_000L) {
            failureMinute = now;
            failuresLogged.set(0);
        }
        return failuresLogged.incrementAndGet() <= 20;
    }

    /** The message of a failed read, made on {@link FailureLog}'s thread. */
    private String describe(FailedRead f) {
        if (f.block() < 0) {
            return f.count() + " remote pages not read (" + (f.code() == TIMEOUT ? "timeout" : "missing")
                    + "): missing from this node's own member, and no other member that could hold them"
                    + " came back (this node cut off from every lender, or every lender gone)";
        }
        StringBuilder b = new StringBuilder("remote page of block " + f.block() + " not read ("
                + (f.code() == MISSING ? "missing" : f.code() == UNAUTHENTIC ? "unauthentic" : "timeout") + "): ");
        boolean parked = f.marks() >= 0; // a parked read's: what each copy answered is in its marks
        long first = placer.firstKey(f.handle());
        b.append("first copy ").append(parked ? describe(first, f.marks(), true) : describe(first, f.first()));
        if (KeyPlacer.twoCopies(f.handle())) {
            long second = placer.secondKey(f.handle());
            b.append("; second copy ")
                    .append(parked ? describe(second, f.marks(), false) : describe(second, f.second()));
        } else {
            b.append("; no second copy");
        }
        return b.toString();
    }

    /**
     * Writes the failed reads serving threads handed over. A log line is a file write, which in a
     * shortage can wait in reclaim on a swap write only a serving thread can answer; so no serving
     * thread writes one (docs/memory-pressure.md). A full queue drops the failure: the counters
     * still count it.
     */
    final class FailureLog implements Agent {
        private final java.util.concurrent.ArrayBlockingQueue<FailedRead> queue =
                new java.util.concurrent.ArrayBlockingQueue<>(64);

        FailureLog() {
            // every call a serving thread makes here, once, before any serving thread does
            queue.offer(NO_FAILURE);
            queue.poll();
        }

        void add(FailedRead f) {
            queue.offer(f);
        }

        @Override
        public int doWork() {
            int n = 0;
            for (FailedRead f = queue.poll(); f != null; f = queue.poll()) {
                LOG.log(System.Logger.Level.WARNING, describe(f));
                n++;
            }
            return n;
        }

        @Override
        public String roleName() {
            return "ramswap-failure-log";
        }
    }

    /** A copy of a parked read's page: where it is, and what its {@link FetchSlot#marks} say it answered. */
    private String describe(long key, int marks, boolean first) {
        int m = first ? marks : marks >> 3;
        String answer = !first && (marks & ASKED_SECOND) == 0
                ? "not asked"
                : (m & FIRST_MISSING) != 0
                        ? "missing"
                        : (m & FIRST_UNAUTHENTIC) != 0
                                ? "unauthentic"
                                : (m & FIRST_NO_ANSWER) != 0 ? "failed" : "no answer";
        return where(key) + ", " + answer;
    }

    private String describe(long key, CompletableFuture<byte[]> f) {
        String answer = f == null
                ? "not asked"
                : !f.isDone()
                        ? "no answer"
                        : f.isCompletedExceptionally()
                                ? "failed: " + failureOf(f.thenApply(v -> (Void) null))
                                : f.join() == null ? "missing" : "present";
        return where(key) + ", " + answer;
    }

    /** A key, its partition and the partition's owner, for a log line. */
    private String where(long key) {
        Member owner = placer.ownerOf(key);
        return "key " + Long.toHexString(key) + " in partition " + placer.partitionOf(key) + " owned by "
                + (owner == null
                        ? "nobody"
                        : (ClusterMember.nodeNumberOf(owner) == null
                                        ? "?"
                                        : "node " + ClusterMember.nodeNumberOf(owner))
                                + " " + owner.getAddress());
    }

    /** Asks for one key; {@code answered} gets a permit when the answer comes. */
    @SuppressWarnings("FutureReturnValueIgnored") // the callback only releases a permit; the caller keeps f itself
    private CompletableFuture<byte[]> ask(long key, java.util.concurrent.Semaphore answered) {
        CompletableFuture<byte[]> f;
        try {
            f = map.getAsync(key).toCompletableFuture();
        } catch (RuntimeException e) { // not sent (the member is stopping): as good as no answer
            f = CompletableFuture.failedFuture(e);
        }
        f.whenCompleteAsync((v, t) -> answered.release(), ON_COMPLETING_THREAD);
        return f;
    }

    /** What an asked copy gave: the page's length, or MISSING or UNAUTHENTIC, or TIMEOUT while it has not answered (or failed). */
    private int answer(CompletableFuture<byte[]> f, int block, int generation, byte[] page) {
        if (f == null || !f.isDone() || f.isCompletedExceptionally()) {
            return TIMEOUT;
        }
        return seal.openCopy(f.join(), block, generation, page);
    }

    @Override
    public void forget(long handle) {
        flusher.add(placer.firstKey(handle));
        if (KeyPlacer.twoCopies(handle)) {
            flusher.add(placer.secondKey(handle));
        }
    }

    /**
     * Copies found unused by the last leak sweeps: key -> clock time when first found so.
     * Only the mover thread that calls {@link #sweepLeaks} touches it.
     */
    private Map<Long, Long> leakCandidates = new HashMap<>();

    /**
     * Lists this incarnation's keys in the cluster (one query over the members) and deletes those
     * whose page no live handle names, once they were found so {@link #LEAK_CONFIRM} apart: longer
     * than any send can take (Hazelcast gives up on an operation after its call timeout and
     * retries), so that a page sent but not yet committed is never taken for a leak.
     */
    @Override
    public int sweepLeaks(java.util.function.LongPredicate live) {
        if (!swept || closed || !DataMembers.present(hazelcast)) {
            return 0;
        }
        Set<Long> keys;
        try {
            keys = map.keySet(KeyNodePredicate.of(node));
        } catch (RuntimeException e) { // a member left meanwhile, say: the next sweep looks again
            LOG.log(System.Logger.Level.DEBUG, "listing node " + node + "'s pages failed", e);
            return 0;
        }
        long now = clock.nanoTime();
        Map<Long, Long> next = new HashMap<>();
        int freed = 0;
        for (Long key : keys) {
            if (RemoteKey.incarnation(key) != (int) (incarnation & 0xFF)) {
                continue; // an earlier life's: the start sweep's and the lenders' business
            }
            long seq = RemoteKey.sequence(key) & ~KeyPlacer.TWO_COPIES;
            if (live.test(seq) || live.test(seq | KeyPlacer.TWO_COPIES)) {
                continue;
            }
            Long since = leakCandidates.get(key);
            if (since == null) {
                next.put(key, now);
            } else if (now - since >= LEAK_CONFIRM.toNanos()) {
                flusher.add(key);
                freed++;
            } else {
                next.put(key, since);
            }
        }
        leakCandidates = next;
        if (freed > 0) {
            LOG.log(
                    System.Logger.Level.INFO,
                    "node " + node + " freed " + freed + " copies of its pages that no block used any more");
        }
        return freed;
    }

    @Override
    public int copies(long handle) {
        return KeyPlacer.twoCopies(handle) ? 2 : 1;
    }

    @Override
    public long placementEpoch() {
        long copies = knobs.get(ramswap.store.Knob.REMOTE_COPIES);
        if (copies != copiesSeen) {
            copiesSeen = copies;
            moved();
        }
        if (ownersChanged()) {
            lookAtOwners(null);
        }
        return placementEpoch.get();
    }

    /**
     * True when some partition's owner differs from the one last noted: a member that owns no
     * partitions learns the table from the master, and an update can come after the migration
     * event it belongs to, or with none at all.
     */
    private boolean ownersChanged() {
        if (!DataMembers.present(hazelcast)) {
            return false; // nobody can own a partition; lookAtOwners notes the losses when the last one leaves
        }
        for (com.hazelcast.partition.Partition p : partitions.getPartitions()) {
            Member owner = p.getOwner();
            if (owner != null && !owner.getUuid().equals(knownOwners[p.getPartitionId()])) {
                return true;
            }
        }
        return false;
    }

    /**
     * Every partition has an owner that is a member, and {@link PartitionService#isLocalMemberSafe}:
     * no migration in flight here or on the master (one small operation to the master when this
     * member is not it). On a data member it also checks that the backups of the partitions it owns
     * are in sync, an operation per owned partition and backup, which is why the repairer asks only
     * while partitions may still be moving. {@link PartitionService#isClusterSafe} would ask every
     * member the same, each checking its own backups, and wait for the slowest.
     */
    @Override
    public boolean placementSettled() {
        if (closed || !DataMembers.present(hazelcast)) {
            return false;
        }
        try {
            for (com.hazelcast.partition.Partition p : partitions.getPartitions()) {
                if (p.getOwner() == null) {
                    return false;
                }
            }
            return client ? memberSaysSettled() : partitions.isLocalMemberSafe();
        } catch (RuntimeException e) { // the member is stopping, or the master changed meanwhile
            LOG.log(System.Logger.Level.DEBUG, "asking whether the partitions have settled failed", e);
            return false;
        }
    }

    /** Longest a member is waited for when asked whether the partitions settled; then the next is asked. */
    static final Duration SETTLED_ASK_TIMEOUT = Duration.ofSeconds(1);

    /**
     * For a client: {@link SettledCall} on the oldest data member (the master, or the member that
     * will be), the next one when it does not answer within {@link #SETTLED_ASK_TIMEOUT}.
     */
    private boolean memberSaysSettled() {
        com.hazelcast.core.IExecutorService executor = hazelcast.getExecutorService(NodeControls.EXECUTOR_NAME);
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (m.isLiteMember()) {
                continue;
            }
            java.util.concurrent.Future<Boolean> answer = executor.submitToMember(new SettledCall(), m);
            try {
                return answer.get(SETTLED_ASK_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            } catch (TimeoutException | ExecutionException e) {
                answer.cancel(true);
                LOG.log(
                        System.Logger.Level.DEBUG,
                        "member " + m.getAddress() + " did not say whether the partitions settled",
                        e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return false;
            }
        }
        return false;
    }

    /** Partitions may have moved: the store looks for pages short of copies, and redundancy is unknown until they settle. */
    private void moved() {
        placementEpoch.incrementAndGet();
        counters.set(Counter.REMOTE_PARTITIONS_SETTLED, 0);
    }

    @Override
    public boolean lost(long handle) {
        if (!lostIn(partitions.getPartition(placer.firstKey(handle)), handle)) {
            return false;
        }
        return !KeyPlacer.twoCopies(handle) || lostIn(partitions.getPartition(placer.secondKey(handle)), handle);
    }

    @Override
    public boolean needsReplacing(long handle) {
        // one partition lookup per copy (a hash of the key): the repair sweep asks for every remote page
        com.hazelcast.partition.Partition pa = partitions.getPartition(placer.firstKey(handle));
        Member a = ownerOf(pa);
        if (lostIn(pa, handle) || a != null && a.localMember() || isLeaving(a)) {
            return true;
        }
        if (KeyPlacer.twoCopies(handle)) {
            com.hazelcast.partition.Partition pb = partitions.getPartition(placer.secondKey(handle));
            Member b = ownerOf(pb);
            return lostIn(pb, handle)
                    || isLeaving(b)
                    || b != null && (b.localMember() || a != null && a.getUuid().equals(b.getUuid()));
        }
        // one copy: a second is worth trying when wanted, and two lenders other than this node are here
        return knobs.get(ramswap.store.Knob.REMOTE_COPIES) >= 2
                && clock.nanoTime() - secondCopyShortAt > SECOND_COPY_QUIET.toNanos()
                && usableTargets() >= 2;
    }

    @Override
    public boolean leaving(long handle) {
        if (leaving.isEmpty()) {
            return false; // asks for no owner, which a cluster without a data member cannot name
        }
        if (isLeaving(placer.ownerOf(placer.firstKey(handle)))) {
            return true;
        }
        return KeyPlacer.twoCopies(handle) && isLeaving(placer.ownerOf(placer.secondKey(handle)));
    }

    private boolean isLeaving(Member m) {
        if (leaving.isEmpty()) {
            return false;
        }
        Integer number = m == null ? null : ClusterMember.nodeNumberOf(m);
        return number != null && leaving.contains(number);
    }

    /** Keeps {@link #leaving} as the map says; a change may make pages want new copies. */
    private final class LeavingListener
            implements com.hazelcast.map.listener.EntryAddedListener<Integer, Boolean>,
                    com.hazelcast.map.listener.EntryUpdatedListener<Integer, Boolean>,
                    com.hazelcast.map.listener.EntryRemovedListener<Integer, Boolean> {
        @Override
        public void entryAdded(com.hazelcast.core.EntryEvent<Integer, Boolean> event) {
            leaving.add(event.getKey());
            moved();
        }

        @Override
        public void entryUpdated(com.hazelcast.core.EntryEvent<Integer, Boolean> event) {
            entryAdded(event);
        }

        @Override
        public void entryRemoved(com.hazelcast.core.EntryEvent<Integer, Boolean> event) {
            leaving.remove(event.getKey());
            moved();
        }
    }

    /**
     * The owner of {@code p}, or null when no data member is present. Without one, every question
     * about an owner makes Hazelcast try to assign all partitions and log that it cannot, once per
     * partition: a lone node that lends nothing did that at every repairer tick, hundreds of lines
     * a second through its start (docs/reliability.md).
     */
    private Member ownerOf(com.hazelcast.partition.Partition p) {
        return DataMembers.present(hazelcast) ? p.getOwner() : null;
    }

    /** True when the copy of {@code handle} in partition {@code p} was lost with a lender. */
    private boolean lostIn(com.hazelcast.partition.Partition p, long handle) {
        return (handle & ~KeyPlacer.TWO_COPIES) < lostBelow.get(p.getPartitionId());
    }

    private int usableTargets() {
        int usable = 0;
        for (int t : knobs.targets()) {
            if (usableMember(t) != null && !refusedRecently(t)) {
                usable++;
            }
        }
        return usable;
    }

    /**
     * Notes who owns each partition now. A partition whose owner changed from a member that is no
     * longer in the cluster (or is {@code removed}) lost what it held: with no backups, a member
     * that leaves gracefully hands its partitions over while still a member, one that crashed or was
     * cut off does not. Either way, partitions may have moved: the epoch changes.
     */
    private synchronized void lookAtOwners(java.util.UUID removed) {
        Set<java.util.UUID> present = new HashSet<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            present.add(m.getUuid());
        }
        if (removed != null) {
            present.remove(removed);
        }
        int lost = 0;
        boolean owned = DataMembers.present(hazelcast);
        for (com.hazelcast.partition.Partition p : partitions.getPartitions()) {
            int id = p.getPartitionId();
            Member owner = owned ? p.getOwner() : null;
            java.util.UUID now = owner == null ? null : owner.getUuid();
            java.util.UUID before = knownOwners[id];
            if (before != null && !before.equals(now) && !present.contains(before)) {
                markLost(id, true);
                lost++;
            }
            if (now != null || removed != null && removed.equals(before)) {
                knownOwners[id] = now;
            }
        }
        if (lost > 0) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    lost + " partitions lost their owner without handing them over (a member left"
                            + " or was cut off): the copies there are gone; pages with a copy there get new ones");
        }
        moved();
    }

    /**
     * Every handle made so far lost its copy in partition {@code id}, if it had one there; counted
     * once per loss, by the owners' watch ({@code count}) rather than by Hazelcast's event, which
     * may or may not come as well.
     */
    private void markLost(int id, boolean count) {
        lostBelow.getAndAccumulate(id, placer.used(), Math::max);
        moved(); // before the count: whoever sees the loss counted sees redundancy unknown too
        if (count) {
            counters.increment(Counter.REMOTE_PARTITIONS_LOST);
        }
    }

    /** Stops a start sweep still trying; the flusher's queue is drained by its agent as it closes. */
    @Override
    public void close() {
        closed = true;
    }

    // ---------------------------------------------------------------- sending

    /**
     * Sends to the first usable target from {@code targets[from]} on (the first copies), the second
     * copies to the other usable targets; completes {@code result} in every case. A member that
     * refuses for its quota is skipped for {@link #REFUSAL_BACKOFF}: when it held first copies the
     * batch goes on to the next target, when it held only second copies the batch is placed again
     * without it. {@code tries} bounds those rounds.
     */
    // the callback completes result on every path, failures included: nothing is lost with its own future
    @SuppressWarnings("FutureReturnValueIgnored")
    private void sendFrom(
            int from, int[] targets, byte[][] sealed, boolean sawFull, int tries, CompletableFuture<Sent> result) {
        int n = sealed.length;
        boolean wantTwo = knobs.get(ramswap.store.Knob.REMOTE_COPIES) >= 2;
        for (int i = from; i < targets.length && tries > 0; i++) {
            int target = targets[i];
            Member member = usableMember(target);
            if (member == null) {
                continue;
            }
            if (refusedRecently(target)) {
                sawFull = true;
                continue;
            }
            Map<java.util.UUID, Integer> seconds = new HashMap<>();
            if (wantTwo) {
                for (int t : targets) {
                    Member m = t == target || refusedRecently(t) ? null : usableMember(t);
                    if (m != null) {
                        seconds.put(m.getUuid(), t);
                    }
                }
            }
            long[] handles = place(member.getUuid(), seconds.keySet(), n);
            if (handles == null) {
                continue; // it owns no partition yet (just promoted, or migrating)
            }
            // one setAll per owner, so that a refusal names the member that refused
            Map<java.util.UUID, Map<Long, byte[]>> byOwner = new HashMap<>();
            Map<java.util.UUID, Integer> nodeOf = new HashMap<>(seconds);
            nodeOf.put(member.getUuid(), target);
            for (int k = 0; k < n; k++) {
                byOwner.computeIfAbsent(member.getUuid(), u -> new HashMap<>(2 * n))
                        .put(placer.firstKey(handles[k]), sealed[k]);
                if (KeyPlacer.twoCopies(handles[k])) {
                    long key = placer.secondKey(handles[k]);
                    Member owner = placer.ownerOf(key);
                    java.util.UUID u =
                            owner == null ? member.getUuid() : owner.getUuid(); // moved meanwhile: the put finds it
                    byOwner.computeIfAbsent(u, x -> new HashMap<>(2 * n)).put(key, sealed[k]);
                }
            }
            List<java.util.UUID> owners = new java.util.ArrayList<>(byOwner.keySet());
            List<CompletableFuture<Void>> puts = new java.util.ArrayList<>(owners.size());
            try {
                for (java.util.UUID u : owners) {
                    puts.add(map.setAllAsync(byOwner.get(u)).toCompletableFuture());
                }
            } catch (RuntimeException e) { // the member is shutting down, say
                LOG.log(System.Logger.Level.DEBUG, "sending " + n + " pages to node " + target + " failed", e);
                forgetKeys(handles);
                counters.add(Counter.PERS_PAGES_REMOTE_FAILED, n);
                result.complete(Sent.all(n, REFUSED));
                return;
            }
            int at = i;
            boolean full = sawFull;
            CompletableFuture.allOf(puts.toArray(CompletableFuture[]::new)).whenComplete((ignored, failure) -> {
                try {
                    if (failure == null) {
                        Sent sent = new Sent(n);
                        System.arraycopy(handles, 0, sent.handles, 0, n);
                        result.complete(sent);
                        return;
                    }
                    // part of the batch may be stored (no atomicity across a putAll): delete all of it
                    forgetKeys(handles);
                    boolean firstRefused = false;
                    boolean secondRefused = false;
                    Throwable other = null;
                    for (int g = 0; g < owners.size(); g++) {
                        Throwable f = failureOf(puts.get(g));
                        if (f == null) {
                            continue;
                        }
                        Integer refusing = nodeOf.get(owners.get(g));
                        if (LendRefusedException.isRefusal(f) && refusing != null) {
                            refusedAt.put(refusing, clock.nanoTime());
                            if (refusing == target) {
                                firstRefused = true;
                            } else {
                                secondRefused = true;
                            }
                        } else {
                            other = f;
                        }
                    }
                    if (other != null) {
                        LOG.log(
                                System.Logger.Level.DEBUG,
                                "sending " + n + " pages to node " + target + " failed",
                                other);
                        counters.add(Counter.PERS_PAGES_REMOTE_FAILED, n);
                        result.complete(Sent.all(n, REFUSED));
                    } else if (firstRefused) {
                        sendFrom(at + 1, targets, sealed, true, tries - 1, result);
                    } else {
                        sendFrom(at, targets, sealed, full || secondRefused, tries - 1, result);
                    }
                } catch (RuntimeException e) { // whatever happens here, the batch gets its answer: its pages stay local
                    forgetKeys(handles);
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

    private static Throwable failureOf(CompletableFuture<Void> f) {
        try {
            f.join();
            return null;
        } catch (java.util.concurrent.CompletionException | java.util.concurrent.CancellationException e) {
            return e.getCause() == null ? e : e.getCause();
        }
    }

    /**
     * Handles for {@code n} pages: first copies on {@code first}, second copies on one of
     * {@code seconds} (none: one copy each); null when {@code first} owns no partition.
     */
    private long[] place(java.util.UUID first, Set<java.util.UUID> seconds, int n) {
        long[] handles = new long[n];
        for (int k = 0; k < n; k++) {
            long h = seconds.isEmpty() ? -1 : placer.nextPair(first, seconds);
            if (h < 0) {
                if (knobs.get(ramswap.store.Knob.REMOTE_COPIES) >= 2) {
                    secondCopyShortAt = clock.nanoTime();
                }
                h = placer.nextHandleOwnedBy(first);
                if (h < 0) {
                    return null;
                }
            }
            handles[k] = h;
        }
        return handles;
    }

    /** Deletes every copy of these handles (asynchronously). */
    private void forgetKeys(long[] handles) {
        for (long h : handles) {
            forget(h);
        }
    }

    /** The member of node {@code target} if it is present, holds data and is not this node's own. */
    private Member usableMember(int target) {
        if (target == node) {
            return null;
        }
        if (leaving.contains(target)) {
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
        return at != null && clock.nanoTime() - at < REFUSAL_BACKOFF.toNanos();
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
        Thread t = new Thread(
                () -> {
                    for (int tries = 1; !closed; tries++) {
                        try {
                            int removed = removeAllOfThisNode();
                            swept = true;
                            sweep.complete(removed);
                            return;
                        } catch (RuntimeException e) {
                            if (tries == 1) {
                                LOG.log(
                                        System.Logger.Level.WARNING,
                                        "deleting the pages of node " + node + "'s earlier lives failed;"
                                                + " trying again every " + SWEEP_RETRY.toSeconds()
                                                + " s, and sending no page until it succeeds",
                                        e);
                            }
                            sleepQuietly(SWEEP_RETRY);
                        }
                    }
                },
                "ramswap-sweep");
        t.setDaemon(true);
        t.start();
        try {
            int removed = sweep.get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            if (removed > 0) {
                LOG.log(
                        System.Logger.Level.INFO,
                        "node " + node + " deleted " + removed + " pages left in the cluster by its earlier life");
            }
        } catch (TimeoutException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "deleting the pages of node " + node + "'s earlier lives takes longer than " + timeout.toSeconds()
                            + " s; it goes on, and no page is sent until it is done");
        } catch (ExecutionException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "deleting the pages of node " + node + "'s earlier lives failed",
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Deletes every page of this node in the cluster, waiting at most {@code timeout}: for a
     * daemon that stops once swapoff has brought every page it still needs back into RAM, so that
     * no lender keeps the rest until {@code orphan_grace_seconds}.
     */
    @Override
    public void deleteAllPages(Duration timeout) {
        if (!DataMembers.present(hazelcast)) {
            return;
        }
        try {
            int removed = CompletableFuture.supplyAsync(this::removeAllOfThisNode)
                    .get(timeout.toNanos(), TimeUnit.NANOSECONDS);
            LOG.log(
                    System.Logger.Level.INFO,
                    "node " + node + " deleted its " + removed + " pages left on other nodes");
        } catch (TimeoutException | ExecutionException e) {
            LOG.log(
                    System.Logger.Level.WARNING,
                    "deleting the pages of node " + node + " left on other nodes did not finish;"
                            + " the lenders free them after orphan_grace_seconds",
                    e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Removes every page keyed with this node's number, on their owners; returns how many were there. */
    private int removeAllOfThisNode() {
        int removed = 0;
        for (Boolean r : map.executeOnEntries(PageRemover.orphans(), KeyNodePredicate.of(node))
                .values()) {
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
        /** A completed delete unparks the agent's thread, so that a full window never waits out an idle period. */
        private final Wakeup wakeup = new Wakeup();

        @Override
        public void onStart() {
            wakeup.bind();
        }

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

        private record Retry(Set<Long> keys, int attempt) {}

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
                try {
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
                        LOG.log(
                                System.Logger.Level.WARNING,
                                "node " + node + " could not delete " + keys.size() + " remote pages after "
                                        + FLUSH_TRIES + " tries; lenders free them once this node restarts",
                                failure);
                    }
                } finally {
                    wakeup.wake(); // after a retry is queued, so that the woken agent sees it
                }
            });
        }

        /** Sends what is queued as it stops, for at most {@link #CLOSE_DRAIN}; what is left goes to orphan cleanup. */
        @Override
        public void onClose() {
            long deadline = System.nanoTime() + CLOSE_DRAIN.toNanos();
            while (hazelcast.getLifecycleService().isRunning()
                    && System.nanoTime() - deadline < 0
                    && (doWork() > 0
                            || queued() > 0
                            || !draining.isEmpty()
                            || !retries.isEmpty()
                            || inFlight.get() > 0)) {
                Thread.onSpinWait();
            }
        }

        @Override
        public String roleName() {
            return "ramswap-flusher";
        }
    }
}
