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
 * sequence that is never reused; a run costs {@link #RUN_BYTES} bytes and a bit per page (one word
 * per 64): about 2 bytes a page for a batch of 64, and at worst, when one page of each batch
 * outlives the others, that much for a page. The bit says whether the page is forgotten, so that
 * forgetting a handle twice (the store forgot it, its free failed, and the leak sweep found its
 * copy later) cannot drop its run while other pages of the run are still away.
 *
 * <p>Thread-safe: the senders record runs, the serving path's fetches and the movers look them up,
 * the flusher forgets.
 */
public final class CopyPlaces {

    /** No lender: a run with one copy has no second. */
    public static final int NONE = -1;
    /**
     * Heap per run beside its words of bits, at most: with compressed references, the tree's entry
     * is 40 bytes, the key's box 24, the run 40 and its array's header 16 (120); 128 leaves room
     * for a JVM that aligns differently.
     */
    static final int RUN_BYTES = 128;

    private static final long MAX_HANDLE = RemoteKey.COPY_BIT - 1;

    private static final class Run {
        final long start;
        final int length;
        final int first;
        final int second;
        /** One bit per page of the run, set once the page is forgotten. */
        final long[] forgotten;

        int live;

        Run(long start, int length, int first, int second) {
            this.start = start;
            this.length = length;
            this.first = first;
            this.second = second;
            this.forgotten = new long[(length + 63) >>> 6];
            this.live = length;
        }

        long bytes() {
            return RUN_BYTES + 8L * forgotten.length;
        }
    }

    private final TreeMap<Long, Run> runs = new TreeMap<>();
    private long nextHandle;
    private long pages;
    private long bytes;

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
        Run r = new Run(start, length, first, second);
        runs.put(start, r);
        pages += length;
        bytes += r.bytes();
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
     * The page under {@code handle} is forgotten; its run is dropped with its last page. A handle
     * forgotten already, or never placed, is left as it is.
     *
     * @return whether this call forgot it
     */
    public synchronized boolean forgot(long handle) {
        Run r = runOf(handle);
        if (r == null) {
            return false;
        }
        int i = (int) (handle - r.start);
        long bit = 1L << i;
        if ((r.forgotten[i >>> 6] & bit) != 0) {
            return false;
        }
        r.forgotten[i >>> 6] |= bit;
        pages--;
        if (--r.live == 0) {
            runs.remove(r.start);
            bytes -= r.bytes();
        }
        return true;
    }

    /** Whether {@code handle} is placed and not forgotten. */
    public synchronized boolean placed(long handle) {
        Run r = runOf(handle);
        if (r == null) {
            return false;
        }
        int i = (int) (handle - r.start);
        return (r.forgotten[i >>> 6] & (1L << i)) == 0;
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
        return bytes;
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
