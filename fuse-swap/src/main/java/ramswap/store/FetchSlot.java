package ramswap.store;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicIntegerArray;

/**
 * One read request whose pages are remote, parked while the tier fetches them: the serving thread
 * that took it goes on to its next request, and the request is answered from the fetch's
 * completion. A slot is made once, before swap is on, from a fixed pool its owner keeps, and
 * carries every buffer the request needs to the end, so that completing it allocates nothing.
 *
 * <p>The request's life is one small state machine, so that it gets exactly one answer:
 *
 * <pre>
 *   FREE --park--> PARKED --last page of a round--> FINISHING --reply--> FREE
 *                    |  ^                              |
 *                    |  +------a block moved: refetch--+
 *                    +--abort (unmount, shutdown)--> ABORTED --reply EIO--> FREE
 * </pre>
 *
 * <p>Each fetch of the slot's pages is a <em>round</em>, numbered. A page of a round is answered
 * once: by its first copy, its second, a failure of every copy, or the deadline, whichever comes
 * first, by a compare-and-set of the page's word from {@code 2 * round} (waiting) to
 * {@code 2 * round + 1} (answered). The answer that brings the round's count of outstanding pages
 * to zero finishes the round, once. An answer of an earlier round, or of the slot's earlier use,
 * fails its compare-and-set and changes nothing; so does a round's end after an abort.
 */
public final class FetchSlot {

    static final int FREE = 0;
    static final int PARKED = 1;
    static final int FINISHING = 2;
    static final int ABORTED = 3;

    /** How the owner answers a request whose round ended: exactly once per park, on the finishing thread. */
    public interface Completion {
        /** {@code result} is {@link IoResult#DONE} with {@link #length()} bytes in {@link #data()}, or a refusal. */
        void completed(FetchSlot slot, IoResult result);
    }

    /** Where a store takes a slot for a request with remote pages: the owner's pool. */
    public interface Source {
        /** A free slot, waiting for one if all are parked; null if none came within the owner's bound. */
        FetchSlot take();
    }

    /** Slots an owner makes at most; ids are 0 to this, exclusive (the tier watches them by id). */
    public static final int MAX_SLOTS = 1024;

    private final int id;
    private final AtomicInteger state = new AtomicInteger(FREE);
    private final AtomicIntegerArray pageWords;
    private final AtomicInteger outstanding = new AtomicInteger();
    /** For the tier, per page of the round: which copies it asked and how they failed. */
    private final AtomicIntegerArray marks;

    private final Completion completion;
    final SwapStore.Fetch fetch;
    final SwapStore.Span span = new SwapStore.Span();
    private final byte[] data = new byte[SwapStore.MAX_REQUEST_BYTES];
    private volatile int round;
    private int length;
    /** The owner's mark of the request (the FUSE request). */
    private long tag;

    SwapStore store;
    int attempt;
    long startNanos;
    private volatile long lateAt;
    private volatile long deadline;

    public FetchSlot(int id, int pageBytes, Completion completion) {
        if (id < 0 || id >= MAX_SLOTS) {
            throw new IllegalArgumentException("fetch slot id " + id + " outside 0.." + (MAX_SLOTS - 1));
        }
        this.id = id;
        this.completion = completion;
        this.fetch = new SwapStore.Fetch(SwapStore.MAX_REQUEST_BLOCKS, pageBytes);
        this.pageWords = new AtomicIntegerArray(SwapStore.MAX_REQUEST_BLOCKS);
        this.marks = new AtomicIntegerArray(SwapStore.MAX_REQUEST_BLOCKS);
    }

    public int id() {
        return id;
    }

    public long tag() {
        return tag;
    }

    /** The request's bytes, placed as its pages arrive: valid in {@link Completion#completed}. */
    public byte[] data() {
        return data;
    }

    /** The request's length in bytes. */
    public int length() {
        return length;
    }

    // ================================================================ the owner's side

    /** Takes a free slot for request {@code tag}; false if it is not free. */
    public boolean claim(long tag) {
        if (!state.compareAndSet(FREE, PARKED)) {
            return false;
        }
        this.tag = tag;
        return true;
    }

    /** Gives the slot back once its request is answered, from {@link Completion#completed}'s caller or after an abort. */
    public void release() {
        state.set(FREE);
    }

    /**
     * Answers a parked request with EIO from outside (unmount, shutdown): true if this call won
     * the request, which the caller then answers and releases; false if it is free or a round is
     * finishing it (which answers it).
     */
    public boolean abort() {
        return state.compareAndSet(PARKED, ABORTED);
    }

    /** True while no request holds the slot. */
    public boolean free() {
        return state.get() == FREE;
    }

    // ================================================================ the tier's side

    /** Pages of the current round. */
    public int count() {
        return fetch.count;
    }

    public int block(int k) {
        return fetch.blocks[k];
    }

    public int generation(int k) {
        return fetch.generations[k];
    }

    public long handle(int k) {
        return fetch.handles[k];
    }

    /** The current round's number: the tier passes it back with each answer. */
    public int round() {
        return round;
    }

    /** When the tier asks the second copies of the pages still waiting ({@code System.nanoTime()}). */
    public long lateAt() {
        return lateAt;
    }

    /** When the pages still waiting are answered {@link RemoteTier#TIMEOUT} ({@code System.nanoTime()}). */
    public long deadline() {
        return deadline;
    }

    /** True while page {@code k} of round {@code round} has no answer. */
    public boolean waiting(int round, int k) {
        return pageWords.get(k) == 2 * round;
    }

    /** The tier's marks of page {@code k}: set bits with {@link #mark}, read them here. */
    public int marks(int k) {
        return marks.get(k);
    }

    /** Sets {@code bits} in page {@code k}'s marks; true if this call set any of them first. */
    public boolean mark(int k, int bits) {
        while (true) {
            int m = marks.get(k);
            if ((m & bits) == bits) {
                return false;
            }
            if (marks.compareAndSet(k, m, m | bits)) {
                return true;
            }
        }
    }

    /**
     * Answers page {@code k} of {@code round} with its opened bytes ({@code length} of
     * {@code page}), or with a failure code ({@link RemoteTier#MISSING}, {@link RemoteTier#UNAUTHENTIC},
     * {@link RemoteTier#TIMEOUT}) and a null {@code page} (a null {@code page} with a length: the bytes are
     * in the page buffer already). Only the first answer of the round
     * counts; true if it was this one. The last page's answer finishes the round on this thread.
     */
    public boolean answer(int round, int k, byte[] page, int length) {
        if (!pageWords.compareAndSet(k, 2 * round, 2 * round + 1)) {
            return false;
        }
        if (page != null) {
            System.arraycopy(page, 0, fetch.pages[k], 0, length);
        }
        fetch.lengths[k] = length;
        if (outstanding.decrementAndGet() == 0) {
            store.finishRemote(this);
        }
        return true;
    }

    /**
     * For a tier that fetched the round synchronously into the page buffers and
     * {@code lengths}: answers every page of the round with what is there.
     */
    void answerInPlace(int round) {
        int n = fetch.count;
        for (int k = 0; k < n; k++) {
            answer(round, k, null, fetch.lengths[k]); // the bytes are in place already
        }
    }

    // ================================================================ the store's side

    /** The tier sets when it asks the second copies of the round's pages still waiting. */
    public void setLateAt(long lateAt) {
        this.lateAt = lateAt;
    }

    /** Clears page {@code k}'s marks if they are still {@code expected}: the tier asks the page again. */
    public boolean resetMarks(int k, int expected) {
        return marks.compareAndSet(k, expected, 0);
    }

    /** The size of each page buffer: no opened page is longer. */
    public int pageCapacity() {
        return fetch.pages[0].length;
    }

    /** Starts a round over the fetch's {@code count} pages: every page waiting, no marks. */
    int newRound(long now, long timeoutNanos) {
        int r = round + 1;
        if (r < 0 || r >= Integer.MAX_VALUE / 2) {
            r = 1; // no answer of a round this old is still on its way
        }
        int n = fetch.count;
        outstanding.set(n);
        for (int k = 0; k < n; k++) {
            marks.set(k, 0);
            pageWords.set(k, 2 * r);
        }
        deadline = now + timeoutNanos;
        lateAt = deadline; // until the tier says when it binds late
        round = r;
        return r;
    }

    /** A round ended: true if this thread now finishes the request (the state PARKED to FINISHING). */
    boolean startFinishing() {
        return state.compareAndSet(PARKED, FINISHING);
    }

    /** A finishing request fetches again: back to PARKED, for the next round. */
    void reparked() {
        state.set(PARKED);
    }

    void setLength(int length) {
        this.length = length;
    }

    void complete(IoResult result) {
        completion.completed(this, result);
    }
}
