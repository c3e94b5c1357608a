package ramswap.cluster;

import java.util.Map;
import java.util.TreeMap;

/**
 * Where a borrower's remote pages are, for a tier that sends each batch to lenders it names: for
 * each run of handles sent together, the node numbers of the lenders that hold its first and its
 * second copy. Handles come from one counter that only grows, so the pages of a batch that one
 * lender pair stored are one run (a lender that stores a prefix and refuses the rest splits a
 * batch in two runs). A run is dropped once its last page is forgotten.
 *
 * <p>The store keeps 40 bits per handle, too few to also name two lenders of 16 bits each and a
 * sequence that is never reused; a run costs {@link #RUN_BYTES} bytes at most however many pages
 * it has: under 2 bytes a page for a batch of 64, and at worst, when one page of each batch
 * outlives the others, that much for a page.
 *
 * <p>Thread-safe: the senders record runs, the serving path's fetches and the movers look them up,
 * the flusher forgets.
 */
public final class CopyPlaces {

    /** No lender: a run with one copy has no second. */
    public static final int NONE = -1;
    /**
     * Heap per run, at most: with compressed references, the tree's entry is 40 bytes, the key's
     * box 24 and the run 40 (104); 112 leaves room for a JVM that aligns differently.
     */
    static final int RUN_BYTES = 112;

    private static final long MAX_HANDLE = RemoteKey.COPY_BIT - 1;

    private static final class Run {
        final long start;
        final int length;
        final int first;
        final int second;
        int live;

        Run(long start, int length, int first, int second) {
            this.start = start;
            this.length = length;
            this.first = first;
            this.second = second;
            this.live = length;
        }
    }

    private final TreeMap<Long, Run> runs = new TreeMap<>();
    private long nextHandle;
    private long pages;

    /**
     * {@code n} fresh handles, consecutive, never given before: the first of them. Handles leave
     * room for {@link RemoteKey}'s copy bit.
     */
    public synchronized long take(int n) {
        if (n < 1 || nextHandle + n > MAX_HANDLE) {
            throw new IllegalStateException("no " + n + " handles left after " + nextHandle);
        }
        long first = nextHandle;
        nextHandle += n;
        return first;
    }

    /**
     * Records that {@code first} (a node number) holds the first copy of the {@code length} pages
     * from handle {@code start}, and {@code second} the second copy, or {@link #NONE}.
     */
    public synchronized void placed(long start, int length, int first, int second) {
        if (length < 1 || start < 0 || start + length > nextHandle) {
            throw new IllegalArgumentException("no run of " + length + " handles from " + start + " was taken");
        }
        if (first < 0 || first == second) {
            throw new IllegalArgumentException("copies on nodes " + first + " and " + second);
        }
        Map.Entry<Long, Run> before = runs.floorEntry(start + length - 1);
        if (before != null && before.getValue().start + before.getValue().length > start) {
            throw new IllegalArgumentException(
                    "handles " + start + ".." + (start + length - 1) + " are placed already");
        }
        runs.put(start, new Run(start, length, first, second));
        pages += length;
    }

    /** The node that holds the first copy of {@code handle}, or {@link #NONE} if it is not placed. */
    public synchronized int first(long handle) {
        Run r = runOf(handle);
        return r == null ? NONE : r.first;
    }

    /** The node that holds the second copy of {@code handle}, or {@link #NONE} (one copy, or not placed). */
    public synchronized int second(long handle) {
        Run r = runOf(handle);
        return r == null ? NONE : r.second;
    }

    /** Whether {@code node} holds a copy of {@code handle}. */
    public synchronized boolean on(long handle, int node) {
        Run r = runOf(handle);
        return r != null && (r.first == node || r.second == node);
    }

    /**
     * The page under {@code handle} is forgotten; its run is dropped with its last page. Each
     * handle is forgotten once: the caller forgets what it placed.
     */
    public synchronized void forgot(long handle) {
        Run r = runOf(handle);
        if (r == null) {
            throw new IllegalArgumentException("handle " + handle + " is not placed");
        }
        pages--;
        if (--r.live == 0) {
            runs.remove(r.start);
        }
    }

    /** Pages placed and not forgotten. */
    public synchronized long pages() {
        return pages;
    }

    /** Runs kept. */
    public synchronized int runs() {
        return runs.size();
    }

    /** Heap these places cost, at most. */
    public synchronized long bytes() {
        return (long) runs.size() * RUN_BYTES;
    }

    private Run runOf(long handle) {
        Map.Entry<Long, Run> e = runs.floorEntry(handle);
        if (e == null) {
            return null;
        }
        Run r = e.getValue();
        return handle < r.start + r.length ? r : null;
    }
}
