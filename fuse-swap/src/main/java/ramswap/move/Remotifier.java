package ramswap.move;

import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.agent.Wakeup;
import ramswap.store.BlockTable;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.RemoteTier;
import ramswap.sys.OffHeap;

/**
 * Sends cold local blocks to the remote tier while the local pool holds more than
 * {@code local_target_bytes} (RAMster's remotify, with zcache's pool as the trigger).
 *
 * <p>Which blocks: an approximate LRU, a clock over the block table. Reads and writes mark a
 * block used; the hand clears a mark and takes the blocks it finds unmarked, so a block goes
 * remote only after one full turn of the hand without a use. With a local target of 0 every
 * local block goes at once, marks or not. Swap pages are written once when the kernel evicts
 * them and read once when it faults them back, so one bit of history is about all there is to
 * keep.
 *
 * <p>How: batches of {@value #BATCH_PAGES} pages to one owner, up to {@value #IN_FLIGHT} batches
 * in flight, at most {@code remotify_pages_per_sec}. A move commits only if the block is unchanged
 * since it was copied ({@link #commitMoved}); otherwise the copy sent is deleted.
 *
 * <p>A completed send wakes the agent's thread: with every batch in flight there is nothing to do
 * but wait, and an idle period (50 ms) slept instead would cap sending near
 * {@value #IN_FLIGHT} x {@value #BATCH_PAGES} pages per idle period, whatever the rate knob says.
 */
public final class Remotifier implements Agent {

    public static final int BATCH_PAGES = 64;
    public static final int IN_FLIGHT = 4;
    /**
     * A send not answered within this is given up: its pages stay local, and copies that arrive
     * later are freed as leaks ({@link RemoteTier#sweepLeaks}), which wait longer than this.
     */
    static final long SEND_GIVE_UP_NANOS = 60_000_000_000L;
    /** Blocks the hand looks at per batch, so that a sparse table does not hold the agent long. */
    private static final int SCAN_PER_BATCH = 16_384;

    private final Moves moves;
    private final BlockTable table;
    private final Knobs knobs;
    private final NanoClock clock;
    private final RemoteTier.Batch[] batches = new RemoteTier.Batch[IN_FLIGHT];

    @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type
    private final CompletableFuture<RemoteTier.Sent>[] pending = new CompletableFuture[IN_FLIGHT];

    private final long[] sentAt = new long[IN_FLIGHT];
    /** A completed send unparks the agent's thread. */
    private final Wakeup wakeup = new Wakeup();

    /** Held so that a send registers no new lambda: the unpark of the agent's thread. */
    private final BiConsumer<Object, Throwable> wake = this::wake;

    /** The clock hand: the next block to look at. */
    private final Moves.Hand hand = new Moves.Hand();

    private double tokens = BATCH_PAGES;
    private long lastRefillNanos;

    public Remotifier(Moves moves, Knobs knobs, int pageBytes) {
        this(moves, knobs, pageBytes, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its rate and its give-up time (tests drive it). */
    public Remotifier(Moves moves, Knobs knobs, int pageBytes, NanoClock clock) {
        this.moves = moves;
        this.table = moves.table();
        this.knobs = knobs;
        this.clock = clock;
        this.lastRefillNanos = clock.nanoTime();
        for (int i = 0; i < IN_FLIGHT; i++) {
            batches[i] = new RemoteTier.Batch(BATCH_PAGES, pageBytes);
        }
    }

    @Override
    public String roleName() {
        return "ramswap-remotifier";
    }

    @Override
    public void onStart() {
        wakeup.bind();
    }

    private void wake(Object sent, Throwable failure) {
        wakeup.wake();
    }

    @Override
    public int doWork() {
        int work = finishSent();
        RemoteTier tier = moves.remote();
        if (tier == null || knobs.get(Knob.PERS_REMOTIFY_ENABLE) == 0 || knobs.get(Knob.REPATRIATE_ALL) == 1) {
            return work;
        }
        long target = knobs.get(Knob.LOCAL_TARGET_BYTES);
        if (moves.counters().get(Counter.PERS_ZBYTES) <= target || !tier.canSend()) {
            return work;
        }
        refill();
        for (int i = 0; i < IN_FLIGHT && tokens >= 1; i++) {
            if (pending[i] != null) {
                continue;
            }
            int n = collectCold(batches[i], (int) Math.min(BATCH_PAGES, tokens), SCAN_PER_BATCH, target == 0);
            if (n == 0) {
                break;
            }
            tokens -= n;
            try {
                pending[i] = tier.send(batches[i]);
                sentAt[i] = clock.nanoTime();
                // after the future is done, so that the woken agent finds it done
                CompletableFuture<?> unused = pending[i].whenComplete(wake);
            } catch (RuntimeException e) { // a tier that broke its contract: nothing was stored, keep every page
                commitMoved(batches[i], RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED));
                throw e; // logged and counted (agent_errors) by the agent runner
            }
            work++;
        }
        return work;
    }

    /** Commits the batches whose send completed. */
    private int finishSent() {
        int done = 0;
        for (int i = 0; i < IN_FLIGHT; i++) {
            CompletableFuture<RemoteTier.Sent> f = pending[i];
            if (f == null) {
                continue;
            }
            RemoteTier.Sent sent;
            if (!f.isDone()) {
                if (clock.nanoTime() - sentAt[i] < SEND_GIVE_UP_NANOS) {
                    continue;
                }
                pending[i] = null; // before the commit: a batch is committed once, even if the commit throws
                commitMoved(batches[i], RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED));
                moves.counters().add(Counter.PERS_PAGES_REMOTE_FAILED, batches[i].count);
                done++;
                continue;
            }
            try {
                sent = f.join();
            } catch (RuntimeException e) { // a tier that broke its contract: nothing was stored, keep every page
                sent = RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED);
                moves.counters().increment(Counter.AGENT_ERRORS);
            }
            pending[i] = null;
            commitMoved(batches[i], sent);
            done++;
        }
        return done;
    }

    private void refill() {
        long now = clock.nanoTime();
        long rate = knobs.get(Knob.REMOTIFY_PAGES_PER_SEC);
        tokens = Math.min(Math.max(BATCH_PAGES, rate / 10.0), tokens + rate * ((now - lastRefillNanos) / 1e9));
        lastRefillNanos = now;
    }

    /** Waits for the batches in flight and commits them, so that no sent page is left unaccounted. */
    @Override
    public void onClose() {
        for (int i = 0; i < IN_FLIGHT; i++) {
            if (pending[i] != null) {
                try {
                    pending[i].get(10, java.util.concurrent.TimeUnit.SECONDS);
                } catch (Exception e) {
                    // committed below as refused: the pages stay local; a copy that did arrive is an orphan the lender
                    // frees
                }
            }
        }
        finishSent();
        for (int i = 0; i < IN_FLIGHT; i++) {
            if (pending[i] != null) {
                commitMoved(batches[i], RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED));
                pending[i] = null;
            }
        }
    }

    /**
     * Copies local blocks that the clock finds cold into {@code b} (at most {@code maxPages}),
     * looking at most at {@code maxScan} blocks: a block used since the hand last passed gets a
     * second chance, unless {@code anyBlock} (the local target is 0: every page goes). Each copy
     * notes the generation its remote entry will have, and the block is marked as being sent.
     */
    public int collectCold(RemoteTier.Batch b, int maxPages, int maxScan, boolean anyBlock) {
        b.count = 0;
        int blocks = table.blocks();
        int want = Math.min(maxPages, b.capacity());
        for (int scanned = 0; scanned < maxScan && b.count < want; scanned++) {
            int block = hand.next(blocks);
            if (BlockTable.state(table.peek(block)) != BlockTable.STATE_LOCAL) {
                continue;
            }
            byte mark = table.mark(block);
            if (mark == BlockTable.MARK_SENDING) {
                continue;
            }
            if (mark == BlockTable.MARK_USED && !anyBlock) {
                table.setMark(block, BlockTable.MARK_COLD);
                continue;
            }
            long e = table.lock(block);
            if (BlockTable.state(e) == BlockTable.STATE_LOCAL) {
                int k = b.count++;
                int length = BlockTable.length(e);
                OffHeap.copyFromNative(moves.pool().address(BlockTable.handle(e)), b.pages[k], 0, length);
                b.blocks[k] = block;
                b.lengths[k] = length;
                b.generations[k] = table.generation(block) + 1;
                table.setMark(block, BlockTable.MARK_SENDING);
            }
            table.unlock(block, e);
        }
        moves.sending.addAndGet(b.count);
        return b.count;
    }

    /**
     * Commits the moves of a sent batch: a block unchanged since it was copied now points at its
     * remote copy and its pool memory is freed; a block that changed meanwhile keeps its new
     * contents and the copy sent is deleted. Pages the tier did not store stay local.
     */
    public void commitMoved(RemoteTier.Batch b, RemoteTier.Sent sent) {
        try {
            commitEachMoved(b, sent);
        } finally {
            moves.sending.addAndGet(-b.count);
        }
    }

    private void commitEachMoved(RemoteTier.Batch b, RemoteTier.Sent sent) {
        RemoteTier tier = moves.remote();
        Counters counters = moves.counters();
        for (int k = 0; k < b.count; k++) {
            int block = b.blocks[k];
            long handle = sent.handles[k];
            if (table.mark(block) == BlockTable.MARK_SENDING) {
                table.setMark(block, BlockTable.MARK_COLD);
            }
            if (handle < 0) {
                continue;
            }
            long e = table.lock(block);
            if (table.generation(block) + 1 != b.generations[k] || BlockTable.state(e) != BlockTable.STATE_LOCAL) {
                table.unlock(block, e);
                tier.forget(handle);
                counters.increment(Counter.PERS_PAGES_REMOTE_RACED);
                continue;
            }
            int length = b.lengths[k];
            table.publish(block, BlockTable.entry(BlockTable.STATE_REMOTE, length, handle));
            counters.add(Counter.PERS_ZPAGES, -1);
            counters.add(Counter.PERS_ZBYTES, -length);
            moves.countRemote(tier, handle, length);
            counters.increment(Counter.PERS_PAGES_REMOTED);
            try {
                moves.pool().free(BlockTable.handle(e), length);
            } catch (RuntimeException ex) {
                counters.increment(Counter.FREE_FAILED);
            }
        }
    }
}
