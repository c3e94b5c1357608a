package ramswap.store;

import java.util.concurrent.CompletableFuture;

/**
 * What the store needs from wherever its remote pages live (another node's RAM, through the
 * cluster): send pages, fetch them back, forget them. The store owns every decision about
 * blocks (which go, when a move commits, when a copy is dead); the tier owns where a page goes,
 * how it is sealed and how it travels.
 *
 * <p>A page is identified to the tier by its block and the generation its remote entry has (the
 * generation after the move commits), which the tier binds into the sealed page, and by the
 * tier's handle, which the store keeps in the block's entry. A handle is at most
 * {@link BlockTable#HANDLE_MASK} and is never reused for another page.
 *
 * <p>Implementations are thread-safe: serving threads fetch, the movers send and forget.
 */
public interface RemoteTier {

    /** {@link #fetch}: the page is not held anywhere. */
    int MISSING = -1;
    /** {@link #fetch}: the page came back but failed authentication (altered, misplaced or stale). */
    int UNAUTHENTIC = -2;
    /** {@link #fetch}: no answer within the timeout. */
    int TIMEOUT = -3;

    /** {@link Sent#handles}: no target was present and lending; the page stays local. */
    long NO_TARGET = -1;
    /** {@link Sent#handles}: every target refused the page (quota) or the send failed; the page stays local. */
    long REFUSED = -2;

    /** A batch of pages to send: block, generation after the move, and the stored (compressed) bytes. */
    final class Batch {
        public final int[] blocks;
        public final int[] generations;
        public final byte[][] pages;
        public final int[] lengths;
        public int count;

        public Batch(int capacity, int pageBytes) {
            blocks = new int[capacity];
            generations = new int[capacity];
            pages = new byte[capacity][pageBytes];
            lengths = new int[capacity];
        }

        public int capacity() {
            return blocks.length;
        }
    }

    /** What became of a sent batch: for page k, its handle, or {@link #NO_TARGET} or {@link #REFUSED}. */
    final class Sent {
        public final long[] handles;

        public Sent(int count) {
            handles = new long[count];
        }

        /** The same answer for every page: {@link #NO_TARGET} or {@link #REFUSED}. */
        public static Sent all(int count, long code) {
            Sent sent = new Sent(count);
            java.util.Arrays.fill(sent.handles, code);
            return sent;
        }
    }

    /**
     * True when some target is present and lending now, so that copying pages out for
     * {@link #send} is worth it.
     */
    boolean canSend();

    /**
     * Seals and sends the batch's pages: the first copy to the first target (in the operator's
     * order) that takes them, the second, when wanted, to another target. Never blocks; the future completes, normally, once each page is stored remotely or
     * refused. A page stored remotely is the store's to forget when it no longer needs it.
     */
    CompletableFuture<Sent> send(Batch batch);

    /**
     * Fetches {@code n} pages together, waiting at most {@code timeoutMillis}: page k, of block
     * {@code blocks[k]} at generation {@code generations[k]} under {@code handles[k]}, is opened
     * into {@code pages[k]} and {@code lengths[k]} set to its length, or to {@link #MISSING},
     * {@link #UNAUTHENTIC} or {@link #TIMEOUT}. A page with two copies is read from whichever
     * answers first with the page; it fails only when neither does within the timeout. Never
     * returns bytes that failed authentication.
     */
    void fetch(
            int n, int[] blocks, int[] generations, long[] handles, byte[][] pages, int[] lengths, long timeoutMillis);

    /**
     * Fetches the pages of a parked request's current round without waiting for them: each page
     * {@code k} of {@link FetchSlot#count()} is answered with {@link FetchSlot#answer}, once, by
     * whichever copy gives it first, by a failure of every copy, or at {@link FetchSlot#deadline()}
     * with {@link #TIMEOUT}; the last answer finishes the round on its thread. Asks a page's second
     * copy at once when its first fails, and at {@code late_bind_ms} when it has not answered.
     *
     * <p>This default, for a tier without its own, fetches the round here with {@link #fetch(int,
     * int[], int[], long[], byte[][], int[], long)} and answers it before it returns.
     */
    default void fetch(FetchSlot slot) {
        int round = slot.round();
        long left = Math.max(1, (slot.deadline() - System.nanoTime()) / 1_000_000);
        SwapStore.Fetch f = slot.fetch;
        fetch(f.count, f.blocks, f.generations, f.handles, f.pages, f.lengths, left);
        slot.answerInPlace(round);
    }

    /** Deletes a page that the store no longer needs; asynchronous and batched, never blocks. */
    void forget(long handle);

    /**
     * True when the page under {@code handle} must be given new copies: one of its copies was lost
     * with a lender, sits on this node's own member, or shares a member with its other copy, or it
     * has fewer copies than wanted and more could be had now. The store fetches it and sends it
     * again under a new handle.
     */
    boolean needsReplacing(long handle);

    /**
     * True when every copy of the page under {@code handle} was in a partition lost with its lender:
     * no copy is left to read or to repair from, unless the loss was only seen, not real (a
     * partition table that lagged behind a graceful departure). The store calls such a page lost
     * once a fetch finds it missing too.
     */
    default boolean lost(long handle) {
        return false;
    }

    /**
     * True when a member that could hold this node's pages is present: a data member other than
     * this node's own. Without one (this node cut off from every lender, or every lender gone),
     * every partition belongs to this node's own member, where its pages never are by design: a
     * copy found missing there says nothing about the page, and a repair has nothing to fetch from
     * and nowhere to send to. {@link #fetch} waits for one, within its timeout.
     */
    default boolean holdersPresent() {
        return true;
    }

    /**
     * A number that changes each time this node merged back into a cluster it had been cut off
     * from. The side it joins kept its own copies, so what this node concluded while cut off (pages
     * found lost) may be wrong: the store tries those pages again.
     */
    default long rejoins() {
        return 0;
    }

    /**
     * True when the cluster's partition table has settled: every partition has an owner that is a
     * member, and no migration is in flight. While partitions move, a copy can land on the member
     * of the other copy, so the copies a page has are known only once this holds. May ask the
     * cluster; call from a mover thread.
     */
    default boolean placementSettled() {
        return true;
    }

    /**
     * True when a copy of the page under {@code handle} sits on a lender that is leaving: the page
     * must move off it, and home into the pool when no target takes it.
     */
    boolean leaving(long handle);

    /**
     * Deletes this node's copies in the cluster that belong to no handle {@code live} accepts (a
     * delete that failed, a send given up midway), once found so in two sweeps far enough apart
     * that no send still in flight is mistaken for one. Blocks while it lists them; call from a
     * mover thread, now and then. Returns the copies deleted.
     */
    int sweepLeaks(java.util.function.LongPredicate live);

    /** How many copies the page under {@code handle} was stored with: 1 or 2. */
    int copies(long handle);

    /**
     * A number that changes whenever pages may need new copies (partitions moved or were lost, a
     * member joined or left, the number of copies wanted changed), so that the store looks for them
     * only then.
     */
    long placementEpoch();
}
