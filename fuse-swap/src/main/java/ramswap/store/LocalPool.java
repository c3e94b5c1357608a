package ramswap.store;

import java.util.concurrent.locks.LockSupport;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;
import ramswap.sys.OffHeap;
import ramswap.sys.Posix;

/**
 * Off-heap memory for compressed blocks: size classes of {@value #CLASS_STEP} bytes, each served
 * from slabs of {@value #SLAB_BYTES} bytes, so that an empty slab really goes back to the kernel
 * (malloc would keep it). A slab's free slots form a list threaded through the free slots
 * themselves, and all slab metadata lives in arrays sized once, so neither an allocation nor a
 * free allocates on the Java heap.
 *
 * <p>The pool's whole capacity is one address range, mapped once at start and never changed:
 * slab {@code i} lives at {@code base + i * SLAB_BYTES}. A slab is backed by touching its pages
 * and given back with {@code madvise(MADV_DONTNEED)}; the range itself is never mapped, unmapped or
 * split while the daemon serves. With the daemon's memory locked, the range is locked as it is
 * touched ({@code VM_LOCKONFAULT}), not populated whole at the mapping.
 *
 * <p>With a reserve, the thread that serves requests makes no memory call at all: it takes backed
 * slabs from the reserve, and a background agent ({@link #grower()}, run by the daemon's agent
 * runner) backs new ones and gives back those the serving thread emptied. Any of those calls can
 * enter the kernel's reclaim, and reclaim can write swap to this very store; the serving thread,
 * were it there, or waiting for the process's {@code mmap_lock} behind a thread that is, would wait
 * on itself (seen: the old grower's {@code mmap(MAP_POPULATE)} held that lock in reclaim while the
 * serving thread's {@code munmap} waited for it). The grower touches a new slab from native code,
 * a page fault that takes only the range's own lock, never the process's {@code mmap_lock}. When
 * the reserve is empty a write is refused and counted; the grower catches up as reclaim frees
 * memory. Without a reserve (tests, {@code --no-protections}) the calling thread does it all.
 *
 * <p>A handle is {@code slabId << 16 | slot}. Lock order: a size class's lock, then
 * {@code slabLock}; callers hold no block lock while they allocate or free.
 */
public final class LocalPool implements AutoCloseable {

    public static final int SLAB_BYTES = 256 * 1024;
    public static final int CLASS_STEP = 32;
    /**
     * The longest slot: a block, and room for what a lender keeps with another node's page (its
     * seal and its key); a node's own blocks are at most {@link BlockCodec#BLOCK_SIZE}.
     */
    public static final int MAX_LENGTH = BlockCodec.BLOCK_SIZE + 2 * CLASS_STEP;

    public static final int CLASSES = MAX_LENGTH / CLASS_STEP;
    private static final int SLOT_BITS = 16;
    private static final int NONE = -1;
    /** Empty slabs a class keeps for itself before giving them back, so that a class at a slab edge does not back and release in turn. */
    private static final int EMPTY_SLABS_KEPT = 1;
    /** How often the grower gives back the kept empty slabs of classes that went quiet meanwhile. */
    static final long IDLE_CLASS_NS = 5_000_000_000L;

    /** {@link #allocate} refused: the pool is at its limit. */
    public static final long REFUSED_LIMIT = -1;
    /** {@link #allocate} refused: the reserve is empty while the grower refills it (memory short). */
    public static final long REFUSED_RESERVE_EMPTY = -2;

    private final Posix posix;
    /** The grower's time: its waits for room, and when it last looked. */
    private final NanoClock clock;

    private final int maxSlabs;
    private final long base;
    private volatile long limitBytes;

    // per slab, indexed by slab id
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
    /** Allocations and frees of each class, ever (wrapping); under the class's lock. */
    private final int[] classOps;
    /** {@link #classOps} at the last {@link #giveBackIdleEmpties}; under the class's lock. */
    private final int[] classOpsSeen;

    // slab ids by state, under slabLock: unbacked (free ids), backed and unused (spares), emptied and
    // waiting for the grower to give them back (releases); slabsBacked counts all but the free ids
    private final Object slabLock = new Object();
    private final int[] freeIds;
    private int freeIdCount;
    private final int[] spares;
    private int spareCount;
    private final int[] releases;
    private int releaseCount;
    private final int spareTarget;
    /**
     * The last spares, held back from the serving path unless the grower has looked for memory
     * within the last moment, that is, runs and is not stuck (0 without a margin probe): see
     * {@link ReserveGrower}.
     */
    private final int heldBack;

    private final MarginProbe margin;
    private int slabsBacked;
    private final ReserveGrower grower = new ReserveGrower();
    private volatile boolean closed;

    /**
     * @param capacityBytes the most this pool can ever hold
     * @param limitBytes    the current limit (at most the capacity), changeable with {@link #setLimitBytes}
     * @param reserveBytes  slabs backed now and kept backed while unused, so that writes under
     *                      memory pressure find memory ready; more than 0 keeps every memory call
     *                      off the threads that allocate and free
     */
    public LocalPool(Posix posix, long capacityBytes, long limitBytes, long reserveBytes) {
        this(posix, capacityBytes, limitBytes, reserveBytes, false);
    }

    /**
     * @param lockOnFault the process locks its memory ({@code mlockall(MCL_CURRENT | MCL_FUTURE)}):
     *                    the range is mapped locked on fault, so that only touched slabs are resident
     */
    public LocalPool(Posix posix, long capacityBytes, long limitBytes, long reserveBytes, boolean lockOnFault) {
        this(posix, capacityBytes, limitBytes, reserveBytes, lockOnFault, MarginProbe.NONE);
    }

    /**
     * How much memory the daemon's memory cgroup (and its limited ancestors) can still charge
     * before a limit sends a charge into reclaim; {@link #UNKNOWN} when there is no such limit (or
     * it cannot be read).
     */
    @FunctionalInterface
    public interface MarginProbe {
        long UNKNOWN = Long.MAX_VALUE;
        MarginProbe NONE = () -> UNKNOWN;

        long marginBytes();
    }

    /**
     * @param margin the daemon's cgroup's room before reclaim: with one, the grower backs slabs only
     *               from memory the cgroup has free, and holds the last spares back from a grower
     *               that is stuck
     */
    public LocalPool(
            Posix posix,
            long capacityBytes,
            long limitBytes,
            long reserveBytes,
            boolean lockOnFault,
            MarginProbe margin) {
        this(posix, capacityBytes, limitBytes, reserveBytes, lockOnFault, margin, SystemNanoClock.INSTANCE);
    }

    /** With {@code clock} for the grower's waits and whether it is looking (tests drive it). */
    LocalPool(
            Posix posix,
            long capacityBytes,
            long limitBytes,
            long reserveBytes,
            boolean lockOnFault,
            MarginProbe margin,
            NanoClock clock) {
        this.clock = java.util.Objects.requireNonNull(clock, "clock");
        if (capacityBytes < SLAB_BYTES) {
            throw new IllegalArgumentException(
                    "pool capacity must be at least " + SLAB_BYTES + " bytes, got " + capacityBytes);
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
        this.slabClass = new int[maxSlabs];
        this.slabUsed = new int[maxSlabs];
        this.slabFreeHead = new int[maxSlabs];
        this.slabBump = new int[maxSlabs];
        this.slabNext = new int[maxSlabs];
        this.slabPrev = new int[maxSlabs];
        this.classLocks = new Object[CLASSES];
        this.partialHead = new int[CLASSES];
        this.emptySlabs = new int[CLASSES];
        this.classOps = new int[CLASSES];
        this.classOpsSeen = new int[CLASSES];
        for (int c = 0; c < CLASSES; c++) {
            classLocks[c] = new Object();
            partialHead[c] = NONE;
        }
        this.freeIds = new int[maxSlabs];
        for (int i = 0; i < maxSlabs; i++) {
            freeIds[i] = maxSlabs - 1 - i;
            slabClass[i] = NONE;
        }
        this.freeIdCount = maxSlabs;
        this.spares = new int[maxSlabs];
        this.releases = new int[maxSlabs];
        this.base = mapRange(posix, (long) maxSlabs * SLAB_BYTES, lockOnFault);
        setLimitBytes(limitBytes);
        this.spareTarget = (int) Math.min(maxSlabs, (Math.max(0, reserveBytes) + SLAB_BYTES - 1) / SLAB_BYTES);
        this.margin = margin;
        this.heldBack = margin == MarginProbe.NONE ? 0 : Math.min(HELD_BACK_SLABS, spareTarget / 4);
        synchronized (slabLock) {
            while (spareCount < spareTarget) {
                int id = freeIds[--freeIdCount];
                touch(id);
                slabsBacked++;
                spares[spareCount++] = id;
            }
        }
    }

    /**
     * One anonymous range for the whole capacity, no swap space reserved for it (it is never
     * swapped). Under {@code mlockall(MCL_FUTURE)} a new readable mapping is locked and populated
     * whole, so with {@code lockOnFault} the range is mapped without access (nothing to populate),
     * marked lock-on-fault by {@code mlock2(MLOCK_ONFAULT)}, and only then made readable and
     * writable: its pages are locked as they are touched. The process's default never changes,
     * so a mapping another thread makes meanwhile is locked and populated as any other.
     */
    private static long mapRange(Posix posix, long bytes, boolean lockOnFault) {
        int prot = lockOnFault ? Posix.PROT_NONE : Posix.PROT_READ | Posix.PROT_WRITE;
        long addr = posix.mmap(null, bytes, prot, Posix.MAP_PRIVATE | Posix.MAP_ANONYMOUS | Posix.MAP_NORESERVE, -1, 0);
        if (addr == Posix.MAP_FAILED || addr == 0) {
            throw new IllegalStateException(
                    "cannot map the pool's range of " + bytes + " bytes: " + Posix.describe(Posix.lastErrno()));
        }
        if (lockOnFault) {
            if (posix.mlock2(addr, bytes, Posix.MLOCK_ONFAULT) != 0) {
                int errno = Posix.lastErrno();
                posix.munmap(addr, bytes);
                throw new IllegalStateException(
                        "mlock2(MLOCK_ONFAULT) of the pool's range failed: " + Posix.describe(errno));
            }
            if (posix.mprotect(addr, bytes, Posix.PROT_READ | Posix.PROT_WRITE) != 0) {
                int errno = Posix.lastErrno();
                posix.munmap(addr, bytes);
                throw new IllegalStateException("mprotect of the pool's range failed: " + Posix.describe(errno));
            }
        }
        return addr;
    }

    /** The agent that keeps the reserve full and gives back emptied slabs; the owner runs it (or not: then an empty reserve stays empty). */
    public Agent grower() {
        return grower;
    }

    /** Spares held back at most (see {@link #heldBack}): 4 MiB. */
    private static final int HELD_BACK_SLABS = 16;
    /** Room the grower leaves the cgroup when it backs pages from its margin: a racing charge still finds some. */
    private static final long MARGIN_CUSHION = 128 * 1024;
    /** Pages the grower touches between two looks at the margin. */
    private static final int PAGES_PER_STEP = 16;

    private static final int PAGE = 4096;
    private static final int PAGES_PER_SLAB = SLAB_BYTES / PAGE;
    /** How recent the grower's last look at the margin must be for the held-back spares to be served. */
    static final long LOOKING_WINDOW_NS = 50_000_000L;
    /** With no write refused meanwhile, how long the grower waits for margin before it backs a slab through reclaim. */
    private static final long FORCE_AFTER_NS = 1_000_000_000L;
    /** How often the grower looks at the margin while it waits for some. */
    private static final long MARGIN_POLL_NS = 1_000_000L;

    /** Writes refused because the reserve was empty, ever; under slabLock. */
    private long reserveRefusals;

    /**
     * Backs and gives back slabs outside every lock, then hands them over.
     *
     * <p>With a margin probe (the daemon in a memory cgroup with a limit), it backs a slab a few
     * pages at a time, only from room the cgroup has free, and does not fault into the cgroup's
     * reclaim: there it would wait for a request slot of a loop device behind the very swap writes
     * the reserve it is refilling must take, and the processes of the cgroup, whose reclaim frees
     * the room it waits for, would take that room first. While it looks (backing, or waiting for
     * room), the serving path may take the last {@link #heldBack} spares: each write they take
     * frees a page of the cgroup, room the grower turns into slabs. A grower that does not look
     * (stopped, or stuck in a touch) keeps them from being spent, so that it finds them when it
     * runs again. When no room comes and no write is being refused (a cgroup full of page cache,
     * nothing swapping), it backs the slab through reclaim.
     */
    private final class ReserveGrower implements Agent {
        private volatile Thread thread;
        /** When the grower last looked at the margin, before it backed a step or waited for room. */
        private volatile long lookedAt;
        /** The slab being backed page by page, counted as backed; NONE when none. */
        private int backing = NONE;

        private int backedPages;
        /** When the grower last gave back the empty slabs of quiet classes. */
        private long idleLookAt;

        private long waitStart;
        private long refusalsAtWaitStart;

        @Override
        public void onStart() {
            thread = Thread.currentThread();
        }

        @Override
        public int doWork() {
            int work = 0;
            int id;
            long now = clock.nanoTime();
            if (idleLookAt == 0 || now - idleLookAt >= IDLE_CLASS_NS) {
                idleLookAt = now;
                work += giveBackIdleEmpties();
            }
            while ((id = nextRelease()) != NONE) {
                release(id);
                work++;
            }
            if (margin == MarginProbe.NONE) {
                if ((id = nextToBack()) != NONE) {
                    // touched inside a native call, which may wait in reclaim: this thread serves nobody,
                    // holds no mmap_lock (a fault on an existing range takes only that range's lock), and
                    // a thread in native code does not hold up the JVM's safepoints (touching the pages
                    // from Java would: a GC would then wait for it, and the serving thread for the GC)
                    touch(id);
                    keep(id);
                    work++;
                }
                return work;
            }
            return work + growWithinMargin();
        }

        /** One step of backing a slab from the cgroup's free room; 1 while there is more to do. */
        private int growWithinMargin() {
            if (backing == NONE) {
                backing = nextToBack();
                if (backing == NONE) {
                    waitStart = 0;
                    return 0;
                }
                backedPages = 0;
            }
            long room = margin.marginBytes() - MARGIN_CUSHION;
            int pages =
                    room <= 0 ? 0 : (int) Math.min(PAGES_PER_STEP, Math.min(room / PAGE, PAGES_PER_SLAB - backedPages));
            long now = clock.nanoTime();
            lookedAt = now;
            if (pages == 0) {
                long refusals;
                synchronized (slabLock) {
                    refusals = reserveRefusals;
                }
                // a refusal restarts the wait: room will come from the held-back spares
                if (waitStart == 0 || refusals != refusalsAtWaitStart) {
                    waitStart = now;
                    refusalsAtWaitStart = refusals;
                }
                if (now - waitStart < FORCE_AFTER_NS) {
                    LockSupport.parkNanos(MARGIN_POLL_NS);
                    return 1;
                }
                pages = PAGES_PER_SLAB - backedPages; // nothing frees room and nothing is refused: reclaim makes it
            }
            waitStart = 0;
            touch(backing, backedPages, pages);
            backedPages += pages;
            if (backedPages == PAGES_PER_SLAB) {
                keep(backing);
                backing = NONE;
            }
            return 1;
        }

        /** Hands a slab just backed to the reserve, or gives it back when the reserve no longer wants it. */
        private void keep(int id) {
            boolean kept;
            synchronized (slabLock) {
                // the limit may have been lowered, the reserve refilled by frees, or the pool
                // closed, while this thread touched
                kept = !closed && spareCount < spareTarget && (long) slabsBacked * SLAB_BYTES <= limitBytes;
                if (kept) {
                    spares[spareCount++] = id;
                }
            }
            if (!kept) {
                release(id);
            }
        }

        /** Whether the grower looked at the margin within the window: it runs, and is not stuck in a touch. */
        boolean looking() {
            long at = lookedAt;
            return at != 0 && clock.nanoTime() - at < LOOKING_WINDOW_NS;
        }

        /** A slab emptied on the serving path, now the grower's to give back; NONE if none. */
        private int nextRelease() {
            synchronized (slabLock) {
                return releaseCount == 0 || closed ? NONE : releases[--releaseCount];
            }
        }

        /** An unbacked slab id, counted as backed from now on, when the reserve wants one; NONE otherwise. */
        private int nextToBack() {
            synchronized (slabLock) {
                if (closed
                        || spareCount >= spareTarget
                        || (long) (slabsBacked + 1) * SLAB_BYTES > limitBytes
                        || freeIdCount == 0) {
                    return NONE;
                }
                slabsBacked++;
                return freeIds[--freeIdCount];
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

    /** The class that holds {@code length} bytes (1..{@link #MAX_LENGTH}). */
    public static int classOf(int length) {
        if (length < 1 || length > MAX_LENGTH) {
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
            classOps[c]++;
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
            classOps[c]++;
            if (slabClass[slab] != c || slabUsed[slab] == 0) {
                throw new IllegalStateException(
                        "free of handle " + handle + " with length " + length + " that this pool did not give");
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
        return used > 0
                && used * 4 <= slotsPerSlab(c)
                && partialHead[c] != NONE
                && (partialHead[c] != slab || slabNext[slab] != NONE);
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
                if (slab != from
                        && slabUsed[slab] > 0
                        && slabUsed[slab]
                                >= slabUsed[from]) { // at least as full: each move strictly concentrates the class
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
        return slabAddress(slab) + (long) slot * slotBytes(sizeClass);
    }

    // ---------------------------------------------------------------- slabs

    /** A backed slab for the class, linked as partial: its id, or a refusal (negative). */
    private long takeSlab(int sizeClass) {
        int id;
        synchronized (slabLock) {
            if (spareCount > heldBack || (spareCount > 0 && grower.looking())) {
                id = spares[--spareCount];
                if (spareCount < spareTarget / 2) {
                    grower.wake();
                }
            } else if (releaseCount > 0) {
                id = releases[--releaseCount]; // emptied, not given back yet: still backed
            } else if ((long) (slabsBacked + 1) * SLAB_BYTES > limitBytes || freeIdCount == 0) {
                return REFUSED_LIMIT;
            } else if (spareTarget > 0) {
                // never back a slab on the serving path: refuse now, the grower refills
                reserveRefusals++;
                grower.wake();
                return REFUSED_RESERVE_EMPTY;
            } else {
                id = freeIds[--freeIdCount]; // no reserve: its pages fault in as this thread writes them
                slabsBacked++;
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

    /**
     * Gives back the empty slab each class keeps, for the classes that neither allocated nor freed
     * since the last call: a class keeps one so that a class at a slab's edge does not take and give
     * back slabs in turn, but a class gone quiet keeps it for nothing (up to a slab per class, 32
     * MiB, once a pool has emptied). Called now and then by one thread that serves nobody (the
     * grower every {@link #IDLE_CLASS_NS}, a lender's agent): how many slabs it gave back.
     */
    public int giveBackIdleEmpties() {
        int given = 0;
        for (int c = 0; c < CLASSES; c++) {
            int id = NONE;
            synchronized (classLocks[c]) {
                boolean quiet = classOps[c] == classOpsSeen[c];
                classOpsSeen[c] = classOps[c];
                if (quiet && emptySlabs[c] > 0) {
                    for (int slab = partialHead[c]; slab != NONE; slab = slabNext[slab]) {
                        if (slabUsed[slab] == 0) {
                            id = slab;
                            break;
                        }
                    }
                    if (id != NONE) {
                        unlinkPartial(c, id);
                        emptySlabs[c]--;
                    }
                }
            }
            if (id != NONE) {
                giveBack(id);
                given++;
            }
        }
        return given;
    }

    /** An emptied slab: to the reserve, else to the grower to give back (or given back here, without a reserve). */
    private void giveBack(int id) {
        synchronized (slabLock) {
            slabClass[id] = NONE;
            if (closed) {
                return; // the range is gone with the pool
            }
            if (spareCount < spareTarget) {
                spares[spareCount++] = id;
                return;
            }
            if (spareTarget > 0) {
                releases[releaseCount++] = id;
                grower.wake();
                return;
            }
        }
        release(id);
    }

    /** Gives a backed, unused slab's memory back to the kernel and its id to the free ids. */
    private void release(int id) {
        long addr = slabAddress(id);
        if (posix.madvise(addr, SLAB_BYTES, Posix.MADV_DONTNEED_LOCKED) != 0
                && posix.madvise(addr, SLAB_BYTES, Posix.MADV_DONTNEED) != 0) {
            // a kernel before 5.18 refuses both on locked memory: the slab stays backed, as a spare
            synchronized (slabLock) {
                spares[spareCount++] = id;
            }
            return;
        }
        synchronized (slabLock) {
            slabsBacked--;
            freeIds[freeIdCount++] = id;
        }
    }

    /** Faults in every page of a slab (from native code: see the grower). */
    private void touch(int id) {
        touch(id, 0, PAGES_PER_SLAB);
    }

    /** Faults in {@code pages} pages of a slab from its page {@code fromPage} (from native code). */
    private void touch(int id, int fromPage, int pages) {
        posix.memset(slabAddress(id) + (long) fromPage * PAGE, 0, (long) pages * PAGE);
    }

    private long slabAddress(int id) {
        return base + (long) id * SLAB_BYTES;
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
            throw new IllegalArgumentException(
                    "pool limit must be between " + SLAB_BYTES + " and " + capacityBytes() + " bytes, got " + bytes);
        }
        this.limitBytes = bytes;
        grower.wake();
    }

    /** Bytes of slabs backed by memory: in use, in the reserve, or emptied and not yet given back. */
    public long mappedBytes() {
        synchronized (slabLock) {
            return (long) slabsBacked * SLAB_BYTES;
        }
    }

    /**
     * Unmaps the range. Call it only once nothing can read a handle any more: the file system
     * unmounted and the grower's runner closed.
     */
    @Override
    public void close() {
        synchronized (slabLock) {
            if (closed) {
                return;
            }
            closed = true;
            posix.munmap(base, (long) maxSlabs * SLAB_BYTES);
            slabsBacked = 0;
            spareCount = 0;
            releaseCount = 0;
        }
    }
}
