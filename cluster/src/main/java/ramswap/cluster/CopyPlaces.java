package ramswap.cluster;

import java.util.Arrays;
import org.agrona.collections.Long2ObjectHashMap;

/**
 * Where a borrower's remote pages are, for a tier that sends each batch to lenders it names: for
 * each run of handles sent together, the node numbers of the lenders that hold its first and its
 * second copy. Handles come from one counter that only grows, so the pages of a batch that one
 * lender pair stored are one run (a lender that stores a prefix and refuses the rest splits a
 * batch in two runs). A run is dropped once its last page is forgotten.
 *
 * <p>The store keeps 40 bits per handle, too few to also name two lenders of 16 bits each and a
 * sequence that is never reused; a run costs {@link #RUN_BYTES} bytes, a bit per page (one word
 * per 64) and {@link #CHUNK_BYTES} for each chunk of 64 handles it spans: about 2 bytes a page
 * for a batch of 64, and at worst, when one page of each batch outlives the others, that much for
 * a page. The bit says whether the page is forgotten, so that forgetting a handle twice (the
 * store forgot it, its free failed, and the leak sweep found its copy later) cannot drop its run
 * while other pages of the run are still away.
 *
 * <p>Runs are found by their chunks (handle / 64) in a hash map of primitive keys, each chunk
 * holding the few runs that overlap it: a look-up is one probe and a scan of one or two runs,
 * allocating nothing. (A tree of runs by their first handle cost 10% of a borrower's Java time
 * in the all-remote benchmark: every send, fetch and repair sweep looks pages up, and each look
 * walked a dozen boxed keys and allocated an entry.)
 *
 * <p>Thread-safe: the senders record runs, the serving path's fetches and the movers look them up,
 * the flusher forgets.
 */
public final class CopyPlaces {

    /** No lender: a run with one copy has no second. */
    public static final int NONE = -1;
    /** Heap per run beside its words of bits and its chunks: the run 40 bytes, its array's header 16. */
    static final int RUN_BYTES = 56;

    /**
     * Heap per chunk a run spans, at most, as if it shared the chunk with no other run: its
     * reference in the chunk's array of runs (4), that array's header (16) and the chunk's slot in
     * the map (a key of 8 and a value of 4 at a load of 0.65, 19), rounded up.
     */
    static final int CHUNK_BYTES = 40;

    private static final int CHUNK_SHIFT = 6;
    private static final Run[] NO_RUNS = new Run[0];

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

        long firstChunk() {
            return start >>> CHUNK_SHIFT;
        }

        long lastChunk() {
            return (start + length - 1) >>> CHUNK_SHIFT;
        }

        boolean holds(long handle) {
            return handle >= start && handle < start + length;
        }

        long bytes() {
            return RUN_BYTES + 8L * forgotten.length + CHUNK_BYTES * (lastChunk() - firstChunk() + 1);
        }
    }

    /** Chunk (handle / 64) -> the runs that overlap it. */
    private final Long2ObjectHashMap<Run[]> chunks = new Long2ObjectHashMap<>();

    private int runs;
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
        Run r = new Run(start, length, first, second);
        for (long c = r.firstChunk(); c <= r.lastChunk(); c++) {
            for (Run other : runsOf(c)) {
                if (other.start < start + length && start < other.start + other.length) {
                    throw new IllegalArgumentException(
                            "handles " + start + ".." + (start + length - 1) + " are placed already");
                }
            }
        }
        for (long c = r.firstChunk(); c <= r.lastChunk(); c++) {
            Run[] old = runsOf(c);
            Run[] now = Arrays.copyOf(old, old.length + 1);
            now[old.length] = r;
            chunks.put(c, now);
        }
        runs++;
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
            drop(r);
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
        return runs;
    }

    /** Heap these places cost, at most. */
    public synchronized long bytes() {
        return bytes;
    }

    private Run runOf(long handle) {
        Run[] rs = chunks.get(handle >>> CHUNK_SHIFT);
        if (rs != null) {
            for (Run r : rs) {
                if (r.holds(handle)) {
                    return r;
                }
            }
        }
        return null;
    }

    private Run[] runsOf(long chunk) {
        Run[] rs = chunks.get(chunk);
        return rs == null ? NO_RUNS : rs;
    }

    private void drop(Run r) {
        for (long c = r.firstChunk(); c <= r.lastChunk(); c++) {
            Run[] old = runsOf(c);
            if (old.length == 1) {
                chunks.remove(c);
                continue;
            }
            Run[] now = new Run[old.length - 1];
            int n = 0;
            for (Run other : old) {
                if (other != r) {
                    now[n++] = other;
                }
            }
            chunks.put(c, now);
        }
        runs--;
        bytes -= r.bytes();
    }
}
