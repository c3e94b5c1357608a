package ramswap.cluster;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.concurrent.locks.LockSupport;
import ramswap.agent.Wakeup;
import ramswap.store.FetchSlot;

/**
 * The fetch slots with a round in flight, for a tier's fetch timer: an agent that looks at them
 * when the first thing among them is due (a late binding, a deadline) rather than a task per read.
 * The tier watches a slot when it starts a round ({@link #watch}, {@link #started}); the timer walks
 * {@code slot(0)} to {@code slot(end() - 1)} between {@link #looking} and {@link #rest}.
 */
final class ParkedRounds {

    /** Longest park between two looks, so that a stop is seen within it. */
    static final long MAX_PARK_NANOS = 100_000_000L;

    /** By slot id; a slot stays once seen. */
    private final AtomicReferenceArray<FetchSlot> watched = new AtomicReferenceArray<>(FetchSlot.MAX_SLOTS);
    /** One past the highest slot id watched. */
    private final AtomicInteger watchedEnd = new AtomicInteger();

    final Wakeup wakeup = new Wakeup();
    /**
     * When the timer wakes by itself ({@code System.nanoTime()}): {@link Long#MIN_VALUE} while it
     * looks at the slots (every new round wakes it, so that it looks again), {@link Long#MAX_VALUE}
     * while idle. A new round due before it wakes the timer; the others wait for it, which spares
     * a wake-up per request while reads keep coming.
     */
    private volatile long sleepsUntil = Long.MIN_VALUE;

    /** Watches {@code slot} from now on; before its round's asks, so that the timer sees them. */
    void watch(FetchSlot slot) {
        if (watched.get(slot.id()) != slot) {
            watched.set(slot.id(), slot);
            watchedEnd.accumulateAndGet(slot.id() + 1, Math::max);
        }
    }

    /** After a round's asks: wakes the timer if it would wake after this round's late binding is due. */
    void started(FetchSlot slot) {
        if (slot.lateAt() - sleepsUntil < 0) {
            wakeup.wake();
        }
    }

    int end() {
        return watchedEnd.get();
    }

    /** The slot of id {@code i}, or null if none was watched. */
    FetchSlot slot(int i) {
        return watched.get(i);
    }

    /** The timer starts a look: a round started meanwhile wakes it again. */
    void looking() {
        sleepsUntil = Long.MIN_VALUE;
    }

    /**
     * The timer ends a look: idle (0, the agent's idle period or a wake-up by the next round) if no
     * page waited; else it parks until {@code next}, the first thing due (a round due sooner wakes
     * it), at most {@link #MAX_PARK_NANOS}, and returns 1.
     */
    int rest(boolean waiting, long now, long next) {
        if (!waiting) {
            sleepsUntil = Long.MAX_VALUE;
            return 0;
        }
        long until = next == Long.MAX_VALUE ? now + 1_000_000 : next;
        sleepsUntil = until;
        long wait = until - System.nanoTime();
        if (wait > 0) {
            // at most a stop's look away: a deadline can be minutes off (swapoff's fetches)
            LockSupport.parkNanos(Math.min(wait, MAX_PARK_NANOS));
        }
        return 1;
    }
}
