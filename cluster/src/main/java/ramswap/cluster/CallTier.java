package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.cluster.MembershipEvent;
import com.hazelcast.cluster.MembershipListener;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.IExecutorService;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.FetchSlot;
import ramswap.store.Knob;
import ramswap.store.Knobs;

/**
 * The remote tier on lenders' own stores: each batch goes to the lender that RAMster's rule names
 * (the first usable of {@code remote_target_nodenum}) with one {@link PageCall}, its second copy to
 * the next usable target with another, and a read asks each lender once for all the pages of a
 * request it holds. Which lenders hold a handle is {@link CopyPlaces}'s; each page travels sealed
 * ({@link PageSeal}).
 *
 * <p>It sends, reads, late-binds, frees, re-places the pages of a lender that left or is leaving,
 * drops a node's earlier lives at start, and frees leaked copies; a copy on a lender gone for less
 * than a split takes to heal reads as no answer, not as missing.
 */
public final class CallTier implements ClusterTier {

    static final Duration REFUSAL_BACKOFF = Duration.ofSeconds(1);
    /**
     * A page stored with one copy while two were wanted is not re-placed (for a second copy) until
     * this long after a second copy last could not be had, so that full targets are not asked again
     * and again.
     */
    static final Duration SECOND_COPY_QUIET = Duration.ofSeconds(30);
    /**
     * A copy no block uses is freed once found so this far apart: longer than any send can go on
     * before its pages commit (the remotifier gives a send up after 60 s, the repairer after at most
     * remote_timeout_ms, at most 60 s).
     */
    static final Duration LEAK_CONFIRM = Duration.ofSeconds(90);
    /**
     * How long after a lender left its copies still read as no answer rather than missing: a split's
     * sides find each other and merge within about the heartbeat timeout and a few merge rounds.
     */
    static final Duration REJOIN_WINDOW = Duration.ofSeconds(MemberConfig.MAX_NO_HEARTBEAT_SECONDS
            + MemberConfig.MERGE_FIRST_RUN_DELAY_SECONDS
            + 4L * MemberConfig.MERGE_NEXT_RUN_DELAY_SECONDS);

    static final int FLUSH_BATCH = 256;
    /** Threads that open fetched pages and go on with sends: one per core of the machines measured. */
    static final int ANSWER_THREADS = 2;
    /** Longest a leak sweep waits for one lender's list. */
    static final Duration LIST_TIMEOUT = Duration.ofSeconds(30);

    private static final System.Logger LOG = System.getLogger(CallTier.class.getName());

    private static final int ASKED_SECOND = 1;
    private static final int FIRST_FAILED = 2;
    private static final int SECOND_FAILED = 4;
    private static final int UNAUTHENTIC_SEEN = 8;
    private static final int NO_ANSWER_SEEN = 16;

    private final HazelcastInstance hazelcast;
    private final IExecutorService calls;
    private final int node;
    private final long incarnation;
    private final Knobs knobs;
    private final Counters counters;
    private final PageSeal seal;
    private final PresentLenders lenders;
    private final CopyPlaces places = new CopyPlaces();
    private final Map<Integer, Long> refusedAt = new ConcurrentHashMap<>();
    /** Node number of a lender that left -> when (its copies read as no answer for a while: a split heals). */
    private final Map<Integer, Long> departedAt = new ConcurrentHashMap<>();
    /** Clock time when a page last got one copy while two were wanted. */
    private volatile long secondCopyShortAt;

    private final AtomicLong placementEpoch = new AtomicLong();
    /** The time of a refusal's back-off and a leak's confirmation; tests move it. */
    private final NanoClock clock;
    /** Keys found without a live handle, and when first found so; the sweeping mover's only. */
    private Map<Long, Long> leakCandidates = new HashMap<>();

    /** Slots with a round in flight, for {@link FetchTimer}. */
    private final ParkedRounds parked = new ParkedRounds();

    private final FetchTimer fetchTimer = new FetchTimer();
    /**
     * Runs the calls' callbacks: threads of the tier's own, started with it and kept. Hazelcast's
     * {@code ExecutionCallback} and {@code whenComplete} hand them to the common fork-join pool,
     * whose threads come and go: a thread started while swap is live maps its stack under the
     * {@code mmap_lock} (docs/memory-pressure.md). Nor can they run on the thread that completes
     * the call: a member's response thread may not send calls, and a callback sends the next copy.
     */
    private final ThreadPoolExecutor answers;
    /** Node numbers of lenders that are leaving ({@link Lender#announceLeaving}): nothing goes there, pages move off. */
    private final java.util.Set<Integer> leavingLenders = ConcurrentHashMap.newKeySet();

    private final Flusher flusher = new Flusher();
    /** Where a completing thread opens a sealed page before the slot takes it. */
    private static final ThreadLocal<byte[]> OPENED = new ThreadLocal<>();

    private CallTier(ClusterNode member, Knobs knobs, Counters counters, long incarnation, NanoClock clock) {
        this.clock = Objects.requireNonNull(clock, "clock");
        secondCopiesWorthTrying();
        this.hazelcast = member.hazelcast();
        this.calls = hazelcast.getExecutorService(PageCall.EXECUTOR_NAME);
        this.node = member.nodeNumber();
        this.incarnation = incarnation;
        this.knobs = Objects.requireNonNull(knobs, "knobs");
        this.counters = Objects.requireNonNull(counters, "counters");
        this.seal = new PageSeal(member.clusterName(), node, incarnation, new SecureRandom());
        this.lenders = new PresentLenders(hazelcast);
        this.answers = new ThreadPoolExecutor(
                ANSWER_THREADS,
                ANSWER_THREADS,
                0,
                TimeUnit.NANOSECONDS,
                new LinkedBlockingQueue<>(),
                r -> {
                    Thread t = new Thread(r, "ramswap-call-answers");
                    t.setDaemon(true);
                    return t;
                },
                new ThreadPoolExecutor.CallerRunsPolicy()); // after close: on the completing thread
        answers.prestartAllCoreThreads(); // not while swap is live: a thread's start maps its stack
        com.hazelcast.map.IMap<Integer, Boolean> leavingMap = hazelcast.getMap(Lender.LEAVING_MAP);
        leavingMap.addEntryListener(
                (com.hazelcast.map.listener.EntryAddedListener<Integer, Boolean>) e -> leavingChanged(e.getKey(), true),
                false);
        leavingMap.addEntryListener(
                (com.hazelcast.map.listener.EntryRemovedListener<Integer, Boolean>)
                        e -> leavingChanged(e.getKey(), false),
                false);
        if (DataMembers.present(hazelcast)) { // alone as a lite member no map answers; the listeners see what comes
            try {
                leavingLenders.addAll(leavingMap.keySet());
            } catch (RuntimeException e) { // the data members left meanwhile
                LOG.log(System.Logger.Level.DEBUG, "reading the leaving lenders failed", e);
            }
        }
        hazelcast.getCluster().addMembershipListener(new MembershipListener() {
            @Override
            public void memberAdded(MembershipEvent event) {
                Integer n = ClusterMember.nodeNumberOf(event.getMember());
                if (n != null) {
                    departedAt.remove(n);
                }
                lenders.refresh();
                secondCopiesWorthTrying(); // a lender may have come: pages with one copy may get their second
                placementEpoch.incrementAndGet();
            }

            @Override
            public void memberRemoved(MembershipEvent event) {
                lenders.refresh();
                Integer n = ClusterMember.nodeNumberOf(event.getMember());
                // redundancy unknown until the repairer's next sweep, before the count: whoever sees
                // the lender gone counted sees that too
                counters.set(Counter.REMOTE_PARTITIONS_SETTLED, 0);
                placementEpoch.incrementAndGet();
                if (n != null && !event.getMember().isLiteMember()) {
                    departedAt.put(n, CallTier.this.clock.nanoTime());
                    counters.increment(Counter.REMOTE_LENDERS_LEFT);
                }
            }
        });
        lenders.refresh(); // after the listener, so that no change falls between the two
    }

    /**
     * The tier of this node's {@code incarnation}; first asks every lender present to drop the
     * pages of this node's earlier lives, waiting at most {@code sweepTimeout}.
     */
    public static CallTier start(
            ClusterNode member, Knobs knobs, Counters counters, long incarnation, Duration sweepTimeout) {
        return start(member, knobs, counters, incarnation, sweepTimeout, SystemNanoClock.INSTANCE);
    }

    /** {@link #start(ClusterNode, Knobs, Counters, long, Duration)} with {@code clock} for its windows. */
    public static CallTier start(
            ClusterNode member,
            Knobs knobs,
            Counters counters,
            long incarnation,
            Duration sweepTimeout,
            NanoClock clock) {
        CallTier tier = new CallTier(Objects.requireNonNull(member, "member"), knobs, counters, incarnation, clock);
        tier.dropAll((int) (incarnation & 0xFF), sweepTimeout);
        return tier;
    }

    @Override
    public List<Agent> agents() {
        return List.of(flusher, fetchTimer);
    }

    // ---------------------------------------------------------------- sending

    @Override
    public boolean canSend() {
        return targetTakingCopiesBut(CopyPlaces.NONE);
    }

    @Override
    public CompletableFuture<Sent> send(Batch batch) {
        int n = batch.count;
        byte[][] sealed = new byte[n][];
        for (int k = 0; k < n; k++) {
            sealed[k] = seal.seal(batch.pages[k], 0, batch.lengths[k], batch.blocks[k], batch.generations[k]);
        }
        Sending s = new Sending(places.take(n), sealed);
        s.firstCopies(0, 0, false);
        return s.result;
    }

    /** One batch on its way: its first copies to a target, then the second copies of those stored. */
    private final class Sending {
        final long start;
        final byte[][] sealed;
        final Sent sent;
        final CompletableFuture<Sent> result = new CompletableFuture<>();
        final int[] targets = knobs.targets();

        Sending(long start, byte[][] sealed) {
            this.start = start;
            this.sealed = sealed;
            this.sent = new Sent(sealed.length);
        }

        /** Sends pages from {@code from} to the first usable target from index {@code ti}. */
        // the callback completes the batch on every path
        @SuppressWarnings("FutureReturnValueIgnored")
        void firstCopies(int from, int ti, boolean sawFull) {
            int n = sealed.length;
            for (int i = ti; i < targets.length; i++) {
                int target = targets[i];
                Member member = usableMember(target);
                if (member == null) {
                    continue;
                }
                if (refusedRecently(target)) {
                    sawFull = true;
                    continue;
                }
                int next = i + 1;
                boolean full = sawFull;
                store(member, target, from, n, false).whenComplete((stored, failure) -> {
                    int m = failure == null ? stored : 0;
                    if (m < n - from) {
                        refusedAt.put(target, clock.nanoTime());
                    }
                    if (m == 0) {
                        firstCopies(from, next, full || failure == null);
                        return;
                    }
                    secondCopies(from, m, target).whenComplete((ignored, f2) -> {
                        if (from + m < n) {
                            firstCopies(from + m, next, true);
                        } else {
                            result.complete(sent);
                        }
                    });
                });
                return;
            }
            for (int k = from; k < n; k++) {
                sent.handles[k] = sawFull ? REFUSED : NO_TARGET;
            }
            counters.add(
                    sawFull ? Counter.PERS_PAGES_LOCAL_TARGETS_FULL : Counter.PERS_PAGES_LOCAL_NO_TARGET, n - from);
            result.complete(sent);
        }

        /** Stores the second copies of pages {@code from} to {@code from + m} (stored on {@code first}), records where. */
        // the callback completes done on every path
        @SuppressWarnings("FutureReturnValueIgnored")
        CompletableFuture<Void> secondCopies(int from, int m, int first) {
            CompletableFuture<Void> done = new CompletableFuture<>();
            if (knobs.get(Knob.REMOTE_COPIES) < 2) {
                placed(from, m, first, CopyPlaces.NONE);
                done.complete(null);
                return done;
            }
            for (int t : targets) {
                Member member = t == first || refusedRecently(t) ? null : usableMember(t);
                if (member == null) {
                    continue;
                }
                store(member, t, from, from + m, true).whenComplete((stored, failure) -> {
                    int p = failure == null ? stored : 0;
                    if (p < m) {
                        refusedAt.put(t, clock.nanoTime());
                    }
                    if (p > 0) {
                        placed(from, p, first, t);
                    }
                    if (p < m) {
                        secondCopyShortAt = clock.nanoTime();
                        placed(from + p, m - p, first, CopyPlaces.NONE);
                    }
                    done.complete(null);
                });
                return done;
            }
            secondCopyShortAt = clock.nanoTime();
            placed(from, m, first, CopyPlaces.NONE);
            done.complete(null);
            return done;
        }

        void placed(int from, int m, int first, int second) {
            places.placed(start + from, m, first, second);
            for (int k = from; k < from + m; k++) {
                sent.handles[k] = start + k;
            }
        }

        /** Stores pages {@code from} to {@code to} on {@code member}: how many it took, in order. */
        CompletableFuture<Integer> store(Member member, int target, int from, int to, boolean second) {
            long[] keys = new long[to - from];
            byte[][] pages = new byte[to - from][];
            for (int k = from; k < to; k++) {
                keys[k - from] = key(start + k, second);
                pages[k - from] = sealed[k];
            }
            try {
                return submit(PageCall.store(keys, pages), member).thenApply(a -> a.refused() ? 0 : a.count());
            } catch (RuntimeException e) {
                LOG.log(System.Logger.Level.DEBUG, "sending to node " + target + " failed", e);
                counters.add(Counter.PERS_PAGES_REMOTE_FAILED, to - from);
                return CompletableFuture.failedFuture(e);
            }
        }
    }

    // ---------------------------------------------------------------- fetching

    /**
     * Reads the pages with one call per lender that holds first copies; at {@code late_bind_ms},
     * or at once for a page whose first copy failed, asks the second copies still wanted, one call
     * per lender; each page is answered by whichever copy gives it first, within the timeout.
     */
    @Override
    public void fetch(
            int n, int[] blocks, int[] generations, long[] handles, byte[][] pages, int[] lengths, long timeoutMillis) {
        long start = System.nanoTime();
        long deadline = start + TimeUnit.MILLISECONDS.toNanos(timeoutMillis);
        long lateAt = Math.min(deadline, start + TimeUnit.MILLISECONDS.toNanos(knobs.get(Knob.LATE_BIND_MS)));
        Asked first = askAll(n, handles, false, null);
        first.await(lateAt);
        boolean[] wantSecond = new boolean[n];
        for (int k = 0; k < n; k++) {
            lengths[k] = first.code(k, blocks[k], generations[k], pages[k]);
            wantSecond[k] = lengths[k] < 0 && places.second(handles[k]) != CopyPlaces.NONE;
        }
        Asked second = askAll(n, handles, true, wantSecond);
        first.await(deadline);
        second.await(deadline);
        for (int k = 0; k < n; k++) {
            if (lengths[k] >= 0) {
                continue;
            }
            int a = first.code(k, blocks[k], generations[k], pages[k]);
            if (a >= 0 || !wantSecond[k]) {
                lengths[k] = a;
                continue;
            }
            int b = second.code(k, blocks[k], generations[k], pages[k]);
            if (b >= 0) {
                counters.increment(Counter.REMOTE_READS_SECOND_COPY);
            }
            lengths[k] = b >= 0 ? b : worse(a, b);
        }
    }

    /** The read calls of one copy of a synchronous fetch: per page, its lender's call and its place in it. */
    private final class Asked {
        final List<CompletableFuture<PageCall.Answer>> calls = new ArrayList<>();
        final int[] call;
        final int[] index;
        /** The code of a page whose lender is not there: missing, or no answer for a while. */
        final int[] absent;

        Asked(int n) {
            call = new int[n];
            index = new int[n];
            absent = new int[n];
            java.util.Arrays.fill(call, -1);
        }

        void await(long deadline) {
            for (CompletableFuture<PageCall.Answer> f : calls) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    return;
                }
                try {
                    f.get(left, TimeUnit.NANOSECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                } catch (Exception e) {
                    // a failed or late call: its pages' codes say so
                }
            }
        }

        /** Page {@code k} opened into {@code page}: its length, or why not (as yet). */
        int code(int k, int block, int generation, byte[] page) {
            if (call[k] < 0) {
                return absent[k];
            }
            CompletableFuture<PageCall.Answer> f = calls.get(call[k]);
            if (!f.isDone() || f.isCompletedExceptionally()) {
                return TIMEOUT;
            }
            PageCall.Answer a = f.join();
            return a.refused() ? MISSING : seal.openCopy(a.page(index[k]), block, generation, page);
        }
    }

    /** Asks the first (or second) copies of the pages {@code which} wants (null: all), one call per lender. */
    private Asked askAll(int n, long[] handles, boolean second, boolean[] which) {
        Asked asked = new Asked(n);
        Map<Integer, LongArrayList> byLender = new HashMap<>();
        for (int k = 0; k < n; k++) {
            if (which != null && !which[k]) {
                asked.absent[k] = MISSING;
                continue;
            }
            int lender = second ? places.second(handles[k]) : places.first(handles[k]);
            if (lender == CopyPlaces.NONE) {
                asked.absent[k] = MISSING;
                continue;
            }
            byLender.computeIfAbsent(lender, x -> new LongArrayList()).addLong(k);
        }
        for (Map.Entry<Integer, LongArrayList> e : byLender.entrySet()) {
            LongArrayList ks = e.getValue();
            Member member = presentMember(e.getKey());
            if (member == null) {
                int code = absentCode(e.getKey());
                for (int i = 0; i < ks.size(); i++) {
                    asked.absent[(int) ks.getLong(i)] = code;
                }
                continue;
            }
            long[] keys = new long[ks.size()];
            for (int i = 0; i < keys.length; i++) {
                int k = (int) ks.getLong(i);
                keys[i] = key(handles[k], second);
                asked.call[k] = asked.calls.size();
                asked.index[k] = i;
            }
            CompletableFuture<PageCall.Answer> f;
            try {
                f = submit(PageCall.read(keys), member);
            } catch (RuntimeException ex) {
                f = CompletableFuture.failedFuture(ex);
            }
            asked.calls.add(f);
        }
        return asked;
    }

    /**
     * The parked read's pages, one read call per lender that holds first copies; the second copies
     * of pages whose first failed with one call per lender again. {@link FetchTimer} asks the
     * second copies of pages still waiting at the slot's late-binding time and answers TIMEOUT for
     * every page still waiting at its deadline.
     */
    @Override
    public void fetch(FetchSlot slot) {
        int round = slot.round();
        slot.setLateAt(System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(knobs.get(Knob.LATE_BIND_MS)));
        parked.watch(slot);
        int n = slot.count();
        int[] ks = new int[n];
        for (int k = 0; k < n; k++) {
            ks[k] = k;
        }
        ask(slot, round, ks, n, false);
        parked.started(slot);
    }

    /** Asks the first (or second) copies of pages {@code ks[0..count)}, one call per lender. */
    // the callbacks answer every page on every path
    @SuppressWarnings("FutureReturnValueIgnored")
    private void ask(FetchSlot slot, int round, int[] ks, int count, boolean second) {
        Map<Integer, List<Integer>> byLender = new HashMap<>();
        for (int i = 0; i < count; i++) {
            int k = ks[i];
            long h = slot.handle(k);
            int lender = second ? places.second(h) : places.first(h);
            if (lender == CopyPlaces.NONE) {
                failed(slot, round, k, second, MISSING);
                continue;
            }
            byLender.computeIfAbsent(lender, x -> new ArrayList<>()).add(k);
        }
        for (Map.Entry<Integer, List<Integer>> e : byLender.entrySet()) {
            List<Integer> pagesOf = e.getValue();
            Member member = presentMember(e.getKey());
            if (member == null) {
                int code = absentCode(e.getKey());
                for (int k : pagesOf) {
                    failed(slot, round, k, second, code);
                }
                continue;
            }
            long[] keys = new long[pagesOf.size()];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = key(slot.handle(pagesOf.get(i)), second);
            }
            try {
                submit(PageCall.read(keys), member)
                        .whenComplete((a, t) -> answered(slot, round, pagesOf, second, a, t));
            } catch (RuntimeException ex) {
                answered(slot, round, pagesOf, second, null, ex);
            }
        }
    }

    private void answered(
            FetchSlot slot, int round, List<Integer> pagesOf, boolean second, PageCall.Answer a, Throwable t) {
        for (int i = 0; i < pagesOf.size(); i++) {
            int k = pagesOf.get(i);
            if (!slot.waiting(round, k)) {
                continue;
            }
            int code;
            if (t != null) {
                code = TIMEOUT;
            } else if (a.refused()) {
                code = MISSING;
            } else {
                byte[] page = OPENED.get();
                if (page == null || page.length < slot.pageCapacity()) {
                    page = new byte[slot.pageCapacity()];
                    OPENED.set(page);
                }
                code = seal.openCopy(a.page(i), slot.block(k), slot.generation(k), page);
                if (code >= 0) {
                    if (slot.answer(round, k, page, code) && second) {
                        counters.increment(Counter.REMOTE_READS_SECOND_COPY);
                    }
                    continue;
                }
            }
            failed(slot, round, k, second, code);
        }
    }

    /** One copy of page {@code k} failed: ask the other if there is one, else answer the failure. */
    private void failed(FetchSlot slot, int round, int k, boolean second, int code) {
        if (code == UNAUTHENTIC) {
            slot.mark(k, UNAUTHENTIC_SEEN);
        } else if (code == TIMEOUT) {
            slot.mark(k, NO_ANSWER_SEEN);
        }
        slot.mark(k, second ? SECOND_FAILED : FIRST_FAILED);
        boolean two = places.second(slot.handle(k)) != CopyPlaces.NONE;
        if (!second && two && slot.mark(k, ASKED_SECOND)) {
            ask(slot, round, new int[] {k}, 1, true);
            return;
        }
        int m = slot.marks(k);
        if ((m & FIRST_FAILED) != 0 && (!two || (m & SECOND_FAILED) != 0)) {
            slot.answer(
                    round,
                    k,
                    null,
                    (m & UNAUTHENTIC_SEEN) != 0 ? UNAUTHENTIC : (m & NO_ANSWER_SEEN) != 0 ? TIMEOUT : code);
        }
    }

    /**
     * Late binding and deadlines of parked reads, without a task per read: it looks at the slots
     * with a round in flight when the first thing among them is due, asks the second copies of a
     * slot's pages still waiting at its late-binding time (one call per lender), and answers the
     * pages still waiting at the deadline.
     */
    final class FetchTimer implements Agent {
        private final int[] late = new int[ramswap.store.SwapStore.MAX_REQUEST_BLOCKS];

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
            int end = parked.end();
            for (int i = 0; i < end; i++) {
                FetchSlot slot = parked.slot(i);
                if (slot == null) {
                    continue;
                }
                int round = slot.round();
                int n = slot.count();
                boolean lateDue = now - slot.lateAt() >= 0;
                int count = 0;
                for (int k = 0; k < n; k++) {
                    if (!slot.waiting(round, k)) {
                        continue;
                    }
                    waiting = true;
                    if (now - slot.deadline() >= 0) {
                        slot.answer(round, k, null, (slot.marks(k) & UNAUTHENTIC_SEEN) != 0 ? UNAUTHENTIC : TIMEOUT);
                        continue;
                    }
                    next = Math.min(next, slot.deadline());
                    if ((slot.marks(k) & ASKED_SECOND) == 0 && places.second(slot.handle(k)) != CopyPlaces.NONE) {
                        if (!lateDue) {
                            next = Math.min(next, slot.lateAt());
                        } else if (slot.mark(k, ASKED_SECOND)) {
                            late[count++] = k;
                        }
                    }
                }
                if (count > 0) {
                    ask(slot, round, late, count, true);
                }
            }
            return parked.rest(waiting, now, next);
        }

        @Override
        public String roleName() {
            return "ramswap-fetch-timer";
        }
    }

    /**
     * What a copy on an absent lender reads as: no answer ({@link #TIMEOUT}, the page is not given
     * up) while the lender left within {@link #REJOIN_WINDOW}, since a split's
     * sides find each other again within it; missing later. A copy was placed only on a lender
     * present then, so one found absent before the membership listener heard of its leaving left
     * just now: its time starts here.
     */
    private int absentCode(int lender) {
        long now = clock.nanoTime();
        Long at = departedAt.putIfAbsent(lender, now);
        return at == null || now - at < REJOIN_WINDOW.toNanos() ? TIMEOUT : MISSING;
    }

    /** The failure that says more: unauthentic, then no answer, then missing. */
    private static int worse(int a, int b) {
        if (a == UNAUTHENTIC || b == UNAUTHENTIC) {
            return UNAUTHENTIC;
        }
        return a == TIMEOUT || b == TIMEOUT ? TIMEOUT : MISSING;
    }

    // ---------------------------------------------------------------- forgetting and placement

    @Override
    public void forget(long handle) {
        int first = places.first(handle);
        int second = places.second(handle);
        if (!places.forgot(handle)) {
            return; // never placed, or forgotten already
        }
        flusher.add(first, key(handle, false));
        if (second != CopyPlaces.NONE) {
            flusher.add(second, key(handle, true));
        }
    }

    /**
     * True when a copy is on a lender no longer here or leaving, or the page has one copy while two are
     * wanted and another target could take one now (not within {@link
     * #SECOND_COPY_QUIET} of the last time none could).
     */
    @Override
    public boolean needsReplacing(long handle) {
        int first = places.first(handle);
        int second = places.second(handle);
        if (first == CopyPlaces.NONE) {
            return false;
        }
        if (presentMember(first) == null || (second != CopyPlaces.NONE && presentMember(second) == null)) {
            return true;
        }
        if (leaving(handle)) {
            return true; // off a lender that leaves: elsewhere, or home when no target takes it
        }
        return second == CopyPlaces.NONE
                && knobs.get(Knob.REMOTE_COPIES) >= 2
                && clock.nanoTime() - secondCopyShortAt > SECOND_COPY_QUIET.toNanos()
                && targetTakingCopiesBut(first);
    }

    /** Whether a target other than {@code lender} ({@link CopyPlaces#NONE}: any) could take a copy now. */
    private boolean targetTakingCopiesBut(int lender) {
        for (int t : knobs.targets()) {
            if (t != lender && usableMember(t) != null && !refusedRecently(t)) {
                return true;
            }
        }
        return false;
    }

    @Override
    public boolean lost(long handle) {
        int first = places.first(handle);
        int second = places.second(handle);
        return first != CopyPlaces.NONE
                && presentMember(first) == null
                && (second == CopyPlaces.NONE || presentMember(second) == null);
    }

    @Override
    public boolean holdersPresent() {
        return lenders.anyHolder();
    }

    @Override
    public boolean leaving(long handle) {
        if (leavingLenders.isEmpty()) {
            return false;
        }
        int first = places.first(handle);
        int second = places.second(handle);
        return (first != CopyPlaces.NONE && leavingLenders.contains(first))
                || (second != CopyPlaces.NONE && leavingLenders.contains(second));
    }

    private void leavingChanged(int lender, boolean leaving) {
        if (leaving) {
            leavingLenders.add(lender);
        } else {
            leavingLenders.remove(lender);
        }
        placementEpoch.incrementAndGet();
    }

    /**
     * Lists this incarnation's keys on every lender (one call each) and frees those whose page no
     * live handle names, or that sit on a lender the handle's place does not name (a store call
     * that failed after the lender stored, the batch then sent elsewhere under the same handles),
     * once found so {@link #LEAK_CONFIRM} apart: longer than any send can take,
     * so that a page sent but not yet committed is never taken for a leak. A run's place of a
     * handle no block uses is forgotten with it.
     */
    @Override
    public int sweepLeaks(java.util.function.LongPredicate live) {
        long now = clock.nanoTime();
        Map<Long, Long> next = new HashMap<>();
        Map<Long, Integer> lenderOf = new HashMap<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            Integer lender = ClusterMember.nodeNumberOf(m);
            if (m.isLiteMember() || m.localMember() || lender == null) {
                continue;
            }
            PageCall.Answer a;
            try {
                a = submit(PageCall.listNode(node), m).get(LIST_TIMEOUT.toNanos(), TimeUnit.NANOSECONDS);
            } catch (Exception e) { // the next sweep looks again
                LOG.log(
                        System.Logger.Level.DEBUG,
                        "listing node " + node + "'s pages on node " + lender + " failed",
                        e);
                return 0;
            }
            if (a.refused()) {
                continue;
            }
            for (long key : a.keys()) {
                if (RemoteKey.incarnation(key) == (int) (incarnation & 0xFF)) {
                    lenderOf.put(key, lender);
                }
            }
        }
        int freed = 0;
        for (Map.Entry<Long, Integer> e : lenderOf.entrySet()) {
            long key = e.getKey();
            long handle = RemoteKey.sequence(key) & ~RemoteKey.COPY_BIT;
            boolean used = live.test(handle);
            if (used && holder(handle, (key & RemoteKey.COPY_BIT) != 0) == e.getValue()) {
                continue;
            }
            Long since = leakCandidates.get(key);
            if (since == null) {
                next.put(key, now);
            } else if (now - since >= LEAK_CONFIRM.toNanos()) {
                flusher.add(e.getValue(), key);
                if (!used) {
                    places.forgot(handle);
                }
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

    /** The lender the place of {@code handle} names for its first or second copy, or {@link CopyPlaces#NONE}. */
    private int holder(long handle, boolean second) {
        if (!places.placed(handle)) {
            return CopyPlaces.NONE;
        }
        return second ? places.second(handle) : places.first(handle);
    }

    /** Lets pages with one copy try for a second at once: the quiet after a short send is over. */
    private void secondCopiesWorthTrying() {
        secondCopyShortAt = clock.nanoTime() - SECOND_COPY_QUIET.toNanos() - 1;
    }

    /** Pages whose lenders this tier keeps: sent and neither forgotten nor found leaked. */
    long placedPages() {
        return places.pages();
    }

    @Override
    public int copies(long handle) {
        return places.second(handle) == CopyPlaces.NONE ? 1 : 2;
    }

    @Override
    public long placementEpoch() {
        return placementEpoch.get() * 4 + knobs.get(Knob.REMOTE_COPIES);
    }

    // ---------------------------------------------------------------- the end

    @Override
    public void deleteAllPages(Duration timeout) {
        dropAll(-1, timeout);
    }

    /** Asks every data member to drop this node's pages, but those of incarnation {@code keep} (-1: none). */
    private void dropAll(int keep, Duration timeout) {
        List<CompletableFuture<PageCall.Answer>> asked = new ArrayList<>();
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (!m.isLiteMember() && !m.localMember()) {
                asked.add(submit(PageCall.dropNode(node, keep), m));
            }
        }
        long dropped = 0;
        long deadline = System.nanoTime() + timeout.toNanos();
        for (CompletableFuture<PageCall.Answer> f : asked) {
            try {
                PageCall.Answer a = f.get(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                dropped += Math.max(0, a.count());
            } catch (Exception e) {
                LOG.log(System.Logger.Level.WARNING, "a lender did not drop node " + node + "'s pages", e);
            }
        }
        LOG.log(System.Logger.Level.INFO, "node " + node + " dropped " + dropped + " pages on the lenders");
    }

    @Override
    public void close() {
        answers.shutdown(); // the answers already in run; the agents stop with the daemon's others
    }

    // ---------------------------------------------------------------- members

    /** Sends {@code call} to {@code member}; the future completes on a thread of {@link #answers}. */
    // the stage below completes f on every path; the cast is to the type submitToMember returns
    @SuppressWarnings({"FutureReturnValueIgnored", "unchecked"})
    private CompletableFuture<PageCall.Answer> submit(PageCall call, Member member) {
        CompletableFuture<PageCall.Answer> f = new CompletableFuture<>();
        // a member's and a client's executor both answer with a CompletableFuture of Hazelcast's own
        CompletionStage<PageCall.Answer> sent = (CompletionStage<PageCall.Answer>) calls.submitToMember(call, member);
        sent.whenCompleteAsync(
                (answer, t) -> {
                    if (t == null) {
                        f.complete(answer);
                    } else {
                        f.completeExceptionally(t);
                    }
                },
                answers);
        return f;
    }

    private long key(long handle, boolean second) {
        return RemoteKey.of(node, incarnation, second ? handle | RemoteKey.COPY_BIT : handle);
    }

    private Member usableMember(int target) {
        if (target == node || leavingLenders.contains(target)) {
            return null;
        }
        return presentMember(target);
    }

    private Member presentMember(int number) {
        return lenders.member(number);
    }

    private boolean refusedRecently(int target) {
        Long at = refusedAt.get(target);
        return at != null && clock.nanoTime() - at < REFUSAL_BACKOFF.toNanos();
    }

    /** Frees forgotten copies with one call per lender for up to {@value #FLUSH_BATCH} keys. */
    final class Flusher implements Agent {
        private final Map<Integer, LongArrayList> queued = new HashMap<>();

        synchronized void add(int lender, long key) {
            queued.computeIfAbsent(lender, x -> new LongArrayList()).addLong(key);
        }

        @Override
        // the callback counts every outcome
        @SuppressWarnings("FutureReturnValueIgnored")
        public int doWork() {
            Map<Integer, long[]> batches = new HashMap<>();
            synchronized (this) {
                for (Map.Entry<Integer, LongArrayList> e : queued.entrySet()) {
                    LongArrayList keys = e.getValue();
                    if (keys.isEmpty()) {
                        continue;
                    }
                    int n = Math.min(FLUSH_BATCH, keys.size());
                    long[] batch = new long[n];
                    for (int i = 0; i < n; i++) {
                        batch[i] = keys.getLong(keys.size() - 1 - i);
                    }
                    for (int i = 0; i < n; i++) {
                        keys.removeAt(keys.size() - 1);
                    }
                    batches.put(e.getKey(), batch);
                }
            }
            for (Map.Entry<Integer, long[]> e : batches.entrySet()) {
                Member member = presentMember(e.getKey());
                if (member == null) {
                    continue; // gone: its pages went with it
                }
                int n = e.getValue().length;
                try {
                    submit(PageCall.free(e.getValue()), member).whenComplete((a, t) -> {
                        if (t == null && !a.refused()) {
                            counters.add(Counter.REMOTE_PAGES_FLUSHED, a.count());
                        } else {
                            counters.add(Counter.REMOTE_FLUSH_FAILED, n);
                        }
                    });
                } catch (RuntimeException ex) {
                    counters.add(Counter.REMOTE_FLUSH_FAILED, n);
                }
            }
            return batches.size();
        }

        @Override
        public String roleName() {
            return "ramswap-call-flusher";
        }
    }
}
