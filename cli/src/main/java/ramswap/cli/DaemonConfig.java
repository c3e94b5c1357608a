package ramswap.cli;

import java.nio.file.Path;
import ramswap.cluster.ClusterSettings;
import ramswap.cluster.NodeRole;
import ramswap.store.BlockCodec;
import ramswap.store.BlockTable;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.LocalPool;

/**
 * Everything a daemon needs, resolved and checked once before anything starts.
 *
 * @param poolCapacityBytes the most the pool can ever map: the swap size plus one slab per size class
 *                          of slack, enough even if every page were stored raw
 * @param poolOvercommit    a pool limit below the capacity is allowed: the operator counts on
 *                          compression, and accepts that a full pool makes the kernel retry swap
 *                          writes without end (processes stall) until the limit is raised
 * @param lendBytes         memory this node lends to others (--lend); 0 makes it a lite member
 * @param swap              false for --no-swap: the file system and its control files, no swap area
 * @param targets           --target: the remote_target_nodenum list set at start ("2,1"), or null
 * @param swapOn            false for the tests' --no-swapon: a swap file of the given size that no swap
 *                          area uses, so that a test can drive it directly on a machine whose one
 *                          swapping workload uses another node's swap
 * @param client            the node joins as a Hazelcast client (it only borrows, from the members of
 *                          --join); false: an embedded member (it lends, is alone, or --member)
 * @param metrics           where the daemon publishes its metrics (--metrics-dir, --metrics-port, --metrics-jmx)
 */
public record DaemonConfig(
        Path mount,
        long sizeBytes,
        int loops,
        int priority,
        long poolLimitBytes,
        long poolCapacityBytes,
        long poolReserveBytes,
        boolean poolOvercommit,
        boolean protections,
        ClusterSettings cluster,
        Path log,
        long lendBytes,
        boolean swap,
        String targets,
        boolean swapOn,
        boolean client,
        MetricsSettings metrics) {

    public static final long MIN_SIZE = 1L << 20;
    /** The ports from --port on that a member may listen on: Hazelcast's port count, with auto-increment. */
    static final int HAZELCAST_PORTS = new com.hazelcast.config.NetworkConfig().getPortCount();

    public static final long POOL_SLACK = (long) LocalPool.CLASSES * LocalPool.SLAB_BYTES;

    public DaemonConfig {
        if (sizeBytes < MIN_SIZE || sizeBytes % BlockCodec.BLOCK_SIZE != 0) {
            throw new IllegalArgumentException(
                    "--size must be a multiple of 4 KiB and at least 1 MiB, got " + sizeBytes + " bytes");
        }
        if (sizeBytes / BlockCodec.BLOCK_SIZE > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("--size is too large: at most 8 TiB");
        }
        if (metrics == null) {
            metrics = MetricsSettings.NONE;
        }
        if (cluster != null
                && metrics.port() != null
                && metrics.port() >= cluster.port()
                && metrics.port() < cluster.port() + HAZELCAST_PORTS) {
            throw new IllegalArgumentException(
                    "--metrics-port " + metrics.port() + " is among the cluster's ports (--port "
                            + cluster.port() + " and the " + (HAZELCAST_PORTS - 1)
                            + " after it, which a member may take and a join probes): give a port outside them");
        }
        if (loops < 1 || loops > 16) {
            throw new IllegalArgumentException("--loops must be between 1 and 16, got " + loops);
        }
        if (sizeBytes / loops < MIN_SIZE) {
            throw new IllegalArgumentException(
                    "--size must give each of the " + loops + " loop devices at least 1 MiB");
        }
        if (priority < -1 || priority > 32767) {
            throw new IllegalArgumentException(
                    "--priority must be between -1 and 32767 (swapon's range), got " + priority);
        }
        if (poolReserveBytes < 0 || poolReserveBytes > poolLimitBytes) {
            throw new IllegalArgumentException("--pool-reserve must be between 0 and the pool limit ("
                    + Sizes.human(poolLimitBytes) + "), got " + Sizes.human(poolReserveBytes));
        }
        if (poolLimitBytes < LocalPool.SLAB_BYTES || poolLimitBytes > poolCapacityBytes) {
            throw new IllegalArgumentException("--pool-max must be between " + Sizes.human(LocalPool.SLAB_BYTES)
                    + " and " + Sizes.human(poolCapacityBytes) + " (swap size plus slack), got "
                    + Sizes.human(poolLimitBytes));
        }
        NodeRole role = new NodeRole(lendBytes, swap); // refuses a negative lend, and --no-swap without --lend
        if (cluster != null && cluster.liteMember() != role.liteMember()) {
            throw new IllegalArgumentException("the cluster settings' lite member (" + cluster.liteMember()
                    + ") and --lend " + lendBytes + " disagree");
        }
        if (client && lendBytes > 0) {
            throw new IllegalArgumentException(
                    "a node that lends (--lend " + lendBytes + ") holds pages: it joins as a member, not a client");
        }
        if (targets != null) {
            targets = targets.strip();
            String refusal = new Knobs().set(Knob.REMOTE_TARGET_NODENUM, targets);
            if (refusal != null) {
                throw new IllegalArgumentException("--target " + refusal);
            }
            if (!swap) {
                throw new IllegalArgumentException("--target with --no-swap: a node without swap has no pages to send");
            }
            if (cluster != null
                    && java.util.Arrays.stream(targets.split(","))
                            .map(String::strip)
                            .anyMatch(t -> t.equals(Integer.toString(cluster.nodeNumber())))) {
                throw new IllegalArgumentException("--target " + targets + " names this node (" + cluster.nodeNumber()
                        + "): its pages would go nowhere; name other nodes");
            }
        }
        // the fields are not assigned yet in a compact constructor: the parameters are passed
        String full = poolLimitRefusal(poolLimitBytes, sizeBytes, poolCapacityBytes, poolOvercommit);
        if (full != null) {
            throw new IllegalArgumentException("--pool-max " + full);
        }
    }

    /**
     * Why a pool limit is refused, or null. Below the capacity, the pool can fill before the swap
     * area does; the kernel then retries the refused swap writes without end and processes stall
     * (docs/refusals.md). Only an operator who says so (--pool-overcommit) gets that.
     */
    public String poolLimitRefusal(long limitBytes) {
        return poolLimitRefusal(limitBytes, sizeBytes, poolCapacityBytes, poolOvercommit);
    }

    private static String poolLimitRefusal(
            long limitBytes, long sizeBytes, long poolCapacityBytes, boolean poolOvercommit) {
        if (poolOvercommit || limitBytes >= poolCapacityBytes) {
            return null;
        }
        return Sizes.human(limitBytes) + " is less than the " + Sizes.human(sizeBytes) + " swap area may need ("
                + Sizes.human(poolCapacityBytes)
                + " with slack, if no page compressed): once the pool is full, the kernel retries the refused swap writes without end "
                + "and processes stall. Give a smaller --size (the swap area), or add --pool-overcommit to count on compression";
    }

    public static long capacityFor(long sizeBytes) {
        return sizeBytes + POOL_SLACK;
    }

    /** Memory of the JVM beside its heap, and of the cluster member: measured about 100 MiB for a lone member, with room. */
    public static final long RUNTIME_BYTES = 160L << 20;

    /** The default pool reserve: 1/64 of the swap, between 16 and 256 MiB, never above the pool limit. */
    public static long defaultReserve(long sizeBytes, long poolLimitBytes) {
        long r = Math.max(16L << 20, Math.min(256L << 20, sizeBytes / 64));
        return Math.min(r, poolLimitBytes) / LocalPool.SLAB_BYTES * LocalPool.SLAB_BYTES;
    }

    /** What the daemon keeps locked in RAM from the start: heap, pool reserve, runtime. */
    public long lockedBytes() {
        return heapBytes() + poolReserveBytes + RUNTIME_BYTES;
    }

    /**
     * Heap the daemon needs besides its block table: the cluster member, FUSE threads, buffers.
     * A lone member holds about 12 MiB live after a full GC (docs/memory-pressure.md); the rest
     * is room for the young generation.
     */
    public static final long BASE_HEAP_BYTES = 32L << 20;

    /**
     * The daemon's fixed heap: the base plus the block table (13 bytes per 4 KiB block: entry, generation and clock mark). Never the
     * JVM's default, which grows with the machine and not with the swap.
     */
    public long heapBytes() {
        return BASE_HEAP_BYTES
                + sizeBytes / BlockCodec.BLOCK_SIZE * BlockTable.BYTES_PER_BLOCK
                + lendHeapBytes(lendBytes)
                + (borrows() ? BORROW_HEAP_BYTES : 0);
    }

    /**
     * Heap a node that sends pages needs on top: batches in flight (4 of 64 sealed pages), fetched
     * pages, and Hazelcast's invocations and serialization buffers for them.
     */
    public static final long BORROW_HEAP_BYTES = 32L << 20;

    /**
     * True for a node started with {@code --target}: it sends pages from the start, so it gets the
     * heap for it and a FUSE thread pool, so that a request waiting on the network never holds up
     * one served from local memory. A node whose target is set later through the knob sends pages
     * too, but its one FUSE thread waits for each fetch.
     */
    public boolean borrows() {
        return swap && targets != null;
    }

    /** True when the swap file becomes a swap area (loop devices and swapon). */
    public boolean swapArea() {
        return swap && swapOn;
    }

    /** The node's role in the cluster, announced to the other members. */
    public NodeRole role() {
        return new NodeRole(lendBytes, swap);
    }

    /** Heap added for a lend quota: the page calls' buffers (the pages and their index are off the heap). */
    public static long lendHeapBytes(long lendBytes) {
        return lendBytes == 0 ? 0 : LEND_CALLS_HEAP_BYTES;
    }

    /** The lender's heap for the page calls in flight: batches of sealed pages on their way in and out. */
    static final long LEND_CALLS_HEAP_BYTES = 16L << 20;

    /**
     * Why this machine cannot hold the lend quota, with the figures, or null. What the daemon
     * locks at start (heap, pool reserve, runtime) and the quota it can grow to must fit in
     * MemAvailable; a quota is memory taken from this machine for as long as the daemon runs.
     */
    public String lendRefusal(long memTotalBytes, long memAvailableBytes) {
        if (lendBytes == 0 || memAvailableBytes < 0) {
            return null;
        }
        // the quota is off the heap, locked as pages arrive: what it can grow to must fit too
        long most = lockedBytes() + lendBytes;
        if (most <= memAvailableBytes) {
            return null;
        }
        long largest = Math.max(0, memAvailableBytes - lockedBytes()) >> 20 << 20;
        return "--lend " + Sizes.human(lendBytes) + " does not fit: the daemon would lock up to "
                + Sizes.human(most) + " (the quota's pages off the heap, heap " + Sizes.human(heapBytes())
                + ", pool reserve " + Sizes.human(poolReserveBytes) + ", JVM and cluster "
                + Sizes.human(RUNTIME_BYTES) + ") but this machine has " + Sizes.human(memAvailableBytes)
                + " available of " + Sizes.human(memTotalBytes) + " in all; "
                + (largest > 0
                        ? "at most --lend " + (largest >> 20) + "M fits now"
                        : "nothing can be lent now (choose a smaller --size or --pool-reserve)");
    }
}
