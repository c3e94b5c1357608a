package ramswap.fuse;

import com.kenai.jffi.MemoryIO;
import java.time.Duration;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import ramswap.store.FetchSlot;
import ramswap.store.IoResult;
import ramswap.store.SwapStore;
import ramswap.sys.OffHeap;
import ru.serce.jnrfuse.ErrorCodes;

/**
 * The read requests parked on their remote pages: a fixed pool of {@link FetchSlot}s, each with a
 * native reply buffer, made with the file system of a node that has a remote tier (none for a node
 * that keeps every page home). A serving thread takes a slot for a read ({@link #take}); the
 * slot's state machine makes sure the request gets one reply, which {@link #fetched} sends from
 * the thread that completed its pages, or {@link #answerAll} at unmount.
 */
final class ParkedReads {

    /**
     * Reads parked on their remote pages at once, at most: each slot holds one request of up to
     * 128 KiB three times (its Java bytes, its reply, its fetched pages), about 400 KiB, made and
     * locked with the file system of a node with a remote tier. Beyond them a read waits for a slot.
     */
    static final int SLOTS =
            Math.min(FetchSlot.MAX_SLOTS, Math.max(1, Integer.getInteger("ramswap.fuse.parked_reads", 16)));
    /**
     * How long a read waits for a free slot before it fetches its pages on the serving thread: a
     * little more than the longest remote timeout, by which every parked read has been answered.
     */
    static final long SLOT_WAIT_MILLIS = 61_000;

    private static final MemoryIO MEMORY = MemoryIO.getInstance();

    private final LibFuse3 fuse;
    private final FetchSlot[] slots;
    /** Each slot's native reply buffer, by slot id. */
    private final long[] replies;

    private final ArrayBlockingQueue<FetchSlot> free;

    /** {@code n} slots (0: reads are never parked) for the requests of {@code store}. */
    ParkedReads(LibFuse3 fuse, SwapStore store, int n) {
        this.fuse = fuse;
        this.slots = new FetchSlot[n];
        this.replies = new long[n];
        this.free = new ArrayBlockingQueue<>(Math.max(1, n));
        for (int i = 0; i < n; i++) {
            slots[i] = new FetchSlot(i, store.compressedPageBytes(), this::fetched);
            replies[i] = OffHeap.allocate(SwapStore.MAX_REQUEST_BYTES);
            OffHeap.setMemory(replies[i], SwapStore.MAX_REQUEST_BYTES, (byte) 0);
            free.add(slots[i]);
        }
    }

    /** True when reads are never parked: the node has no remote tier. */
    boolean none() {
        return slots.length == 0;
    }

    /**
     * A free slot for request {@code req}, waiting at most {@link #SLOT_WAIT_MILLIS} when every
     * slot is parked (the kernel's queue holds the requests behind; any parked read that ends frees
     * one); null after that, and the read then waits for its pages on the serving thread.
     */
    FetchSlot take(long req) {
        FetchSlot slot = free.poll();
        if (slot == null && slots.length > 0) {
            try {
                // every parked read is answered by its deadline, so one frees within the remote timeout
                slot = free.poll(SLOT_WAIT_MILLIS, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (slot == null) {
            return null;
        }
        if (!slot.claim(req)) {
            throw new IllegalStateException("fetch slot " + slot.id() + " was in the free list, and not free");
        }
        return slot;
    }

    /** A parked read's pages came, or failed: its one reply, then the slot is free again. Runs on the completing thread. */
    private void fetched(FetchSlot slot, IoResult result) {
        try {
            if (result == IoResult.DONE) {
                long reply = replies[slot.id()];
                MEMORY.putByteArray(reply, slot.data(), 0, slot.length());
                fuse.fuse_reply_buf(slot.tag(), reply, slot.length());
            } else {
                fuse.fuse_reply_err(slot.tag(), -SwapFileSystem.errno(result));
            }
        } finally {
            slot.release();
            free.offer(slot);
        }
    }

    /**
     * Before the session goes (unmount, shutdown): every read still parked is answered EIO, so
     * that no loop device waits for a reply forever, and the slots that are being answered are
     * waited for, at most {@code bound}. True when every slot is free.
     */
    boolean answerAll(Duration bound) {
        for (FetchSlot slot : slots) {
            if (slot.abort()) {
                try {
                    fuse.fuse_reply_err(slot.tag(), ErrorCodes.EIO());
                } finally {
                    slot.release();
                    free.offer(slot);
                }
            }
        }
        long deadline = System.nanoTime() + bound.toNanos();
        for (FetchSlot slot : slots) {
            while (!slot.free()) {
                if (System.nanoTime() - deadline >= 0) {
                    return false;
                }
                LockSupport.parkNanos(1_000_000);
            }
        }
        return true;
    }

    /** Once every slot is free and the session is gone: the reply buffers go. */
    void released() {
        for (int i = 0; i < replies.length; i++) {
            if (replies[i] != 0) {
                OffHeap.free(replies[i]);
                replies[i] = 0;
            }
        }
    }
}
