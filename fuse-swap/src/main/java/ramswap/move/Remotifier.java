package ramswap.store;

import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.agent.Wakeup;

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
 * since it was copied ({@link SwapStore#commitMoved}); otherwise the copy sent is deleted.
 *
 * <p>A completed send wakes the agent's thread: with every batch in flight there is nothing to do
 * but wait, and an idle period (50 ms) slept instead would cap sending near
 * {@value #IN_FLIGHT} x {@value #BATCH_PAGES} pages per idle period, whatever the rate knob says.
 */
public final class Remotifier implements Agent {

    static final int BATCH_PAGES = 64;
    static final int IN_FLIGHT = 4;
    /**
     * A send not answered within this is given up: its pages stay local, and copies that arrive
     * later are freed as leaks ({@link RemoteTier#sweepLeaks}), which wait longer than this.
     */
    static final long SEND_GIVE_UP_NANOS = 60_000_000_000L;
    /** Blocks the hand looks at per batch, so that a sparse table does not hold the agent long. */
    private static final int SCAN_PER_BATCH = 16_384;

    private final SwapStore store;
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

    private double tokens = BATCH_PAGES;
    private long lastRefillNanos;

    public Remotifier(SwapStore store, Knobs knobs, int pageBytes) {
        this(store, knobs, pageBytes, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for its rate and its give-up time (tests drive it). */
    public Remotifier(SwapStore store, Knobs knobs, int pageBytes, NanoClock clock) {
        this.store = store;
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
        RemoteTier tier = store.remote();
        if (tier == null || knobs.get(Knob.PERS_REMOTIFY_ENABLE) == 0 || knobs.get(Knob.REPATRIATE_ALL) == 1) {
            return work;
        }
        long target = knobs.get(Knob.LOCAL_TARGET_BYTES);
        if (store.counters().get(Counter.PERS_ZBYTES) <= target || !tier.canSend()) {
            return work;
        }
        refill();
        for (int i = 0; i < IN_FLIGHT && tokens >= 1; i++) {
            if (pending[i] != null) {
                continue;
            }
            int n = store.collectCold(batches[i], (int) Math.min(BATCH_PAGES, tokens), SCAN_PER_BATCH, target == 0);
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
                store.commitMoved(batches[i], RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED));
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
                store.commitMoved(batches[i], RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED));
                store.counters().add(Counter.PERS_PAGES_REMOTE_FAILED, batches[i].count);
                done++;
                continue;
            }
            try {
                sent = f.join();
            } catch (RuntimeException e) { // a tier that broke its contract: nothing was stored, keep every page
                sent = RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED);
                store.counters().increment(Counter.AGENT_ERRORS);
            }
            pending[i] = null;
            store.commitMoved(batches[i], sent);
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
                store.commitMoved(batches[i], RemoteTier.Sent.all(batches[i].count, RemoteTier.REFUSED));
                pending[i] = null;
            }
        }
    }
}
