package ramswap.store;

import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.Agent;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

/**
 * Off-heap memory for compressed blocks: size classes of {@value #CLASS_STEP} bytes, each served
 * from slabs of {@value #SLAB_BYTES} bytes mapped with mmap, so that an empty slab really goes
 * back to the kernel (malloc would keep it). A slab's free slots form a list threaded through the
 * free slots themselves, and all slab metadata lives in arrays sized once, so neither an allocation
 * nor a free allocates on the Java heap.
 *
 * <p>With a reserve, the thread that serves a write never maps memory itself: it takes slabs from
 * the reserve, and a background agent ({@link #grower()}, run by the daemon's agent runner) maps
 * and touches new ones to refill it. Mapping can enter the kernel's reclaim, and reclaim can write swap to this very store: a
 * serving thread that waited there would wait on itself (seen: a daemon sharing a memory cgroup
 * with its workload hung in try_charge_memcg -> swap_writeout). When the reserve is empty the
 * write is refused and counted; the grower catches up as reclaim frees memory.
 *
 * <p>A handle is {@code slabId << 16 | slot}. Lock order: a size class's lock, then
 * {@code slabLock}; callers hold no block lock while they allocate or free.
 */
public final class LocalPool implements AutoCloseable {

    public static final int SLAB_BYTES = 256 * 1024;
    public static final int CLASS_STEP = 32;
    public static final int CLASSES = BlockCodec.BLOCK_SIZE / CLASS_STEP;
    private static final int SLOT_BITS = 16;
    private static final int NONE = -1;
    /** Empty slabs a class keeps for itself before giving them back, so that a class at a slab edge does not map and unmap in turn. */
    private static final int EMPTY_SLABS_KEPT = 1;

    /** {@link #allocate} refused: the pool is at its limit. */
    public static final long REFUSED_LIMIT = -1;
    /** {@link #allocate} refused: the reserve is empty while the grower refills it (memory short). */
    public static final long REFUSED_RESERVE_EMPTY = -2;

    private final Posix posix;
    private final int maxSlabs;
    private volatile long limitBytes;

    // per slab, indexed by slab id
    private final long[] slabAddress;
    private final int[] slabClass;
    private final int[] slabUsed;
    private final int[] slabFreeHead;
    private final int[] slabBump;
    private final int[] slabNext;
    private final int[] slabPrev;

    // per class, indexed by class
    private final Object[] classLocks;
    private final int[] partialHead;
    private final int[] emptySlabs;

    // slab ids and mapped spare slabs, under slabLock
    private final Object slabLock = new Object();
    private final int[] freeIds;
    private int freeIdCount;
    private final int[] spares;
    private int spareCount;
    private final int spareTarget;
    private int slabsMapped;
    private final ReserveGrower grower = new ReserveGrower();
    private volatile boolean closed;

    /**
     * @param capacityBytes the most this pool can ever map
     * @param limitBytes    the current limit (at most the capacity), changeable with {@link #setLimitBytes}
     * @param reserveBytes  slabs mapped and touched now and kept mapped while unused, so that writes
     *                      under memory pressure find memory ready
     */
    public LocalPool(Posix posix, long capacityBytes, long limitBytes, long reserveBytes) {
        if (capacityBytes < SLAB_BYTES) {
            throw new IllegalArgumentException("pool capacity must be at least " + SLAB_BYTES + " bytes, got " + capacityBytes);
        }
        long slabs = (capacityBytes + SLAB_BYTES - 1) / SLAB_BYTES;
        if (slabs > Integer.MAX_VALUE) { // slab ids are ints, and handles keep 47 bits of them and the slot
            throw new IllegalArgumentException("pool capacity too large: " + capacityBytes);
        }
        if (slabs > (1L << (47 - SLOT_BITS))) {
            throw new IllegalArgumentException("pool capacity too large: " + capacityBytes);
        }
        this.posix = posix;
        this.maxSlabs = (int) slabs;
        this.slabAddress = new long[maxSlabs];
        this.slabClass = new int[maxSlabs];
        this.slabUsed = new int[maxSlabs];
        this.slabFreeHead = new int[maxSlabs];
        this.slabBump = new int[maxSlabs];
        this.slabNext = new int[maxSlabs];
        this.slabPrev = new int[maxSlabs];
        this.classLocks = new Object[CLASSES];
        this.partialHead = new int[CLASSES];
        this.emptySlabs = new int[CLASSES];
        for (int c = 0; c < CLASSES; c++) {
            classLocks[c] = new Object();
            partialHead[c] = NONE;
        }
        this.freeIds = new int[maxSlabs];
        for (int i = 0; i < maxSlabs; i++) {
            freeIds[i] = maxSlabs - 1 - i;
        }
        this.freeIdCount = maxSlabs;
        this.spares = new int[maxSlabs];
        setLimitBytes(limitBytes);
        this.spareTarget = (int) Math.min(maxSlabs, (Math.max(0, reserveBytes) + SLAB_BYTES - 1) / SLAB_BYTES);
        synchronized (slabLock) {
            while (spareCount < spareTarget) {
                int id = mapSlab(Posix.MAP_POPULATE);
                if (id == NONE) {
                    throw new IllegalStateException("cannot map the pool's reserve of " + reserveBytes + " bytes");
                }
                spares[spareCount++] = id;
            }
        }
    }

    /** The agent that keeps the reserve full; the owner runs it (or not: then an empty reserve stays empty). */
    public Agent grower() {
        return grower;
    }

    /** Maps and touches slabs outside every lock, then hands them over. */
    private final class ReserveGrower implements Agent {
        private volatile Thread thread;

        @Override
        public void onStart() {
            thread = Thread.currentThread();
        }

        @Override
        public int doWork() {
            if (!wanted()) {
                return 0;
            }
            // populated inside the system call, which may wait in reclaim: this thread serves nobody, and
            // a thread in native code does not hold up the JVM's safepoints (touching the pages from
            // Java would: a GC would then wait for it, and the serving thread for the GC)
            long addr = posix.mmap(null, SLAB_BYTES, Posix.PROT_READ | Posix.PROT_WRITE,
                    Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | Posix.MAP_POPULATE, -1, 0);
            if (addr == Posix.MAP_FAILED || addr == 0) {
                return 0;
            }
            synchronized (slabLock) {
                // the limit may have been lowered, or the pool closed, while this thread mapped
                if (!wanted()) {
                    posix.munmap(addr, SLAB_BYTES);
                    return 0;
                }
                int id = freeIds[--freeIdCount];
                slabAddress[id] = addr;
                slabClass[id] = NONE;
                slabsMapped++;
                spares[spareCount++] = id;
            }
            return 1;
        }

        private boolean wanted() {
            synchronized (slabLock) {
                return !closed && spareCount < spareTarget && (long) (slabsMapped + 1) * SLAB_BYTES <= limitBytes && freeIdCount > 0;
            }
        }

        void wake() {
            Thread t = thread;
            if (t != null) {
                LockSupport.unpark(t);
            }
        }

        @Override
        public String roleName() {
            return "ramswap-pool-grower";
        }
    }

    // ---------------------------------------------------------------- size classes

    /** The class that holds {@code length} bytes (1..4096). */
    public static int classOf(int length) {
        if (length < 1 || length > BlockCodec.BLOCK_SIZE) {
            throw new IllegalArgumentException("length out of range: " + length);
        }
        return (length - 1) / CLASS_STEP;
    }

    public static int slotBytes(int sizeClass) {
        return (sizeClass + 1) * CLASS_STEP;
    }

    private static int slotsPerSlab(int sizeClass) {
        return SLAB_BYTES / slotBytes(sizeClass);
    }

    // ---------------------------------------------------------------- allocation

    /** A handle for {@code length} bytes, or {@link #REFUSED_LIMIT} or {@link #REFUSED_RESERVE_EMPTY}. */
    public long allocate(int length) {
        int c = classOf(length);
        synchronized (classLocks[c]) {
            int slab = partialHead[c];
            if (slab == NONE) {
                long refusal = takeSlab(c);
                if (refusal < 0) {
                    return refusal;
                }
                slab = (int) refusal;
            }
            int slot = slabFreeHead[slab];
            if (slot != NONE) {
                slabFreeHead[slab] = OffHeap.getInt(slotAddress(slab, c, slot));
            } else {
                slot = slabBump[slab]++;
            }
            if (slabUsed[slab]++ == 0) {
                emptySlabs[c]--;
            }
            if (slabUsed[slab] == slotsPerSlab(c)) {
                unlinkPartial(c, slab);
            }
            return ((long) slab << SLOT_BITS) | slot;
        }
    }

    /** Frees what {@link #allocate} gave for the same {@code length}. */
    public void free(long handle, int length) {
        int c = classOf(length);
        int slab = (int) (handle >>> SLOT_BITS);
        int slot = (int) (handle & ((1 << SLOT_BITS) - 1));
        int released = NONE;
        synchronized (classLocks[c]) {
            if (slabClass[slab] != c || slabUsed[slab] == 0) {
                throw new IllegalStateException("free of handle " + handle + " with length " + length + " that this pool did not give");
            }
            boolean wasFull = slabUsed[slab] == slotsPerSlab(c);
            OffHeap.putInt(slotAddress(slab, c, slot), slabFreeHead[slab]);
            slabFreeHead[slab] = slot;
            if (wasFull) {
                linkPartial(c, slab);
            }
            if (--slabUsed[slab] == 0) {
                if (emptySlabs[c] >= EMPTY_SLABS_KEPT) {
                    unlinkPartial(c, slab);
                    released = slab;
                } else {
                    emptySlabs[c]++;
                }
            }
        }
        if (released != NONE) {
            giveBack(released);
        }
    }

    // ---------------------------------------------------------------- compaction

    /** Partial slabs looked at for a denser home, so that a long partial list does not hold a class lock long. */
    private static final int DENSER_LOOKS = 8;

    /**
     * True when the slot under {@code handle} sits in a sparse slab (at most a quarter used) that
     * its data could leave for a denser partial slab of its class: moving it helps that slab empty
     * and go back to the kernel. A hint, read without the class lock.
     */
    public boolean sparse(long handle, int length) {
        int c = classOf(length);
        int slab = (int) (handle >>> SLOT_BITS);
        int used = slabUsed[slab];
        return used > 0 && used * 4 <= slotsPerSlab(c) && partialHead[c] != NONE && (partialHead[c] != slab || slabNext[slab] != NONE);
    }

    /**
     * A slot for {@code length} bytes in a partial slab of its class at least as full as the one
     * under {@code handle}, never in a new slab: the compactor's allocation. -1 when no such slab
     * has room.
     */
    public long allocateDenser(long handle, int length) {
        int c = classOf(length);
        int from = (int) (handle >>> SLOT_BITS);
        synchronized (classLocks[c]) {
            int slab = partialHead[c];
            for (int looks = 0; slab != NONE && looks < DENSER_LOOKS; looks++, slab = slabNext[slab]) {
                if (slab != from && slabUsed[slab] > 0 && slabUsed[slab] >= slabUsed[from]) { // at least as full: each move strictly concentrates the class
                    int slot = slabFreeHead[slab];
                    if (slot != NONE) {
                        slabFreeHead[slab] = OffHeap.getInt(slotAddress(slab, c, slot));
                    } else {
                        slot = slabBump[slab]++;
                    }
                    slabUsed[slab]++; // > 0 already: not an empty slab
                    if (slabUsed[slab] == slotsPerSlab(c)) {
                        unlinkPartial(c, slab);
                    }
                    return ((long) slab << SLOT_BITS) | slot;
                }
            }
            return -1;
        }
    }

    /** Native address of a handle's bytes; valid until the handle is freed. */
    public long address(long handle) {
        int slab = (int) (handle >>> SLOT_BITS);
        int slot = (int) (handle & ((1 << SLOT_BITS) - 1));
        return slotAddress(slab, slabClass[slab], slot);
    }

    private long slotAddress(int slab, int sizeClass, int slot) {
        return slabAddress[slab] + (long) slot * slotBytes(sizeClass);
    }

    // ---------------------------------------------------------------- slabs

    /** A slab for the class, linked as partial: its id, or a refusal (negative). */
    private long takeSlab(int sizeClass) {
        int id;
        synchronized (slabLock) {
            if (spareCount > 0) {
                id = spares[--spareCount];
                if (spareCount < spareTarget / 2) {
                    grower.wake();
                }
            } else if ((long) (slabsMapped + 1) * SLAB_BYTES > limitBytes) {
                return REFUSED_LIMIT;
            } else if (spareTarget > 0) {
                // never map on the serving path: refuse now, the grower refills
                grower.wake();
                return REFUSED_RESERVE_EMPTY;
            } else {
                id = mapSlab(0);
                if (id == NONE) {
                    return REFUSED_LIMIT; // the kernel refused the memory: as good as a limit
                }
            }
        }
        slabClass[id] = sizeClass;
        slabUsed[id] = 0;
        slabFreeHead[id] = NONE;
        slabBump[id] = 0;
        emptySlabs[sizeClass]++;
        linkPartial(sizeClass, id);
        return id;
    }

    private void giveBack(int id) {
        synchronized (slabLock) {
            slabClass[id] = NONE;
            if (spareCount < spareTarget) {
                spares[spareCount++] = id;
                return;
            }
            if (posix.munmap(slabAddress[id], SLAB_BYTES) != 0) {
                throw new IllegalStateException("munmap failed: " + Posix.describe(Posix.lastErrno()));
            }
            slabAddress[id] = 0;
            slabsMapped--;
            freeIds[freeIdCount++] = id;
        }
    }

    /** Maps a new slab under slabLock; NONE if ids or memory ran out. */
    private int mapSlab(int extraFlags) {
        if (freeIdCount == 0) {
            return NONE;
        }
        long addr = posix.mmap(null, SLAB_BYTES, Posix.PROT_READ | Posix.PROT_WRITE, Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | extraFlags, -1, 0);
        if (addr == Posix.MAP_FAILED || addr == 0) {
            return NONE;
        }
        int id = freeIds[--freeIdCount];
        slabAddress[id] = addr;
        slabClass[id] = NONE;
        slabsMapped++;
        return id;
    }

    private void linkPartial(int c, int slab) {
        slabPrev[slab] = NONE;
        slabNext[slab] = partialHead[c];
        if (partialHead[c] != NONE) {
            slabPrev[partialHead[c]] = slab;
        }
        partialHead[c] = slab;
    }

    private void unlinkPartial(int c, int slab) {
        if (slabPrev[slab] != NONE) {
            slabNext[slabPrev[slab]] = slabNext[slab];
        } else {
            partialHead[c] = slabNext[slab];
        }
        if (slabNext[slab] != NONE) {
            slabPrev[slabNext[slab]] = slabPrev[slab];
        }
        slabNext[slab] = NONE;
        slabPrev[slab] = NONE;
    }

    // ---------------------------------------------------------------- figures and limits

    public long capacityBytes() {
        return (long) maxSlabs * SLAB_BYTES;
    }

    public long limitBytes() {
        return limitBytes;
    }

    /**
     * Changes the limit; lowering it below what is mapped stops growth, it frees nothing. Raising
     * it wakes the grower, so that a reserve emptied at the old limit refills at once.
     */
    public void setLimitBytes(long bytes) {
        if (bytes < SLAB_BYTES || bytes > capacityBytes()) {
            throw new IllegalArgumentException("pool limit must be between " + SLAB_BYTES + " and " + capacityBytes() + " bytes, got " + bytes);
        }
        this.limitBytes = bytes;
        grower.wake();
    }

    public long mappedBytes() {
        synchronized (slabLock) {
            return (long) slabsMapped * SLAB_BYTES;
        }
    }


    /**
     * Unmaps every slab. Call it only once nothing can read a handle any more: the file system
     * unmounted and the grower's runner closed (a grower that maps after this unmaps at once).
     */
    @Override
    public void close() {
        synchronized (slabLock) {
            closed = true;
            for (int id = 0; id < maxSlabs; id++) {
                if (slabAddress[id] != 0) {
                    posix.munmap(slabAddress[id], SLAB_BYTES);
                    slabAddress[id] = 0;
                }
            }
            slabsMapped = 0;
            spareCount = 0;
        }
    }
}
