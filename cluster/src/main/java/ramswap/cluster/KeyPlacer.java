package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.partition.Partition;
import com.hazelcast.partition.PartitionService;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fresh handles for this node's pages, whose keys sit in partitions that chosen members own now.
 * Hazelcast has no "put this on that member"; a key whose partition that member owns is the way,
 * without a custom partitioning strategy that clients would have to share. Ownership is a hint:
 * it moves when members join or leave, and whoever keeps the key must check where it went.
 *
 * <p>A handle is a sequence number below {@link RemoteKey#COPY_BIT}: its first copy's key has that
 * sequence, its second copy's key the same with the copy bit set. A handle with two copies
 * carries the copy bit itself ({@link #TWO_COPIES}). A sequence whose keys land elsewhere is
 * skipped, never reused: with k data members a one-copy handle takes about k tries, a two-copy
 * one about k^2 / (targets - 1).
 */
public final class KeyPlacer {

    /** The bit of a handle that says its page has a second copy. */
    public static final long TWO_COPIES = RemoteKey.COPY_BIT;

    private final PartitionService partitions;
    private final int node;
    private final long incarnation;
    private final AtomicLong sequence = new AtomicLong();
    private final int maxTries;

    public KeyPlacer(PartitionService partitions, int node, long incarnation) {
        this.partitions = partitions;
        this.node = node;
        this.incarnation = incarnation;
        // enough to find any owner of at least one partition with near certainty
        this.maxTries = 64 * partitions.getPartitions().size();
    }

    /** A fresh one-copy handle whose key's partition {@code member} owns now, or -1 when none was found. */
    public long nextHandleOwnedBy(UUID member) {
        for (int i = 0; i < maxTries; i++) {
            long seq = nextSequence();
            if (owns(member, firstKey(seq))) {
                return seq;
            }
        }
        return -1;
    }

    /**
     * A fresh two-copy handle whose first key's partition {@code first} owns now and whose second
     * key's partition one of {@code seconds} owns, or -1 when none was found.
     */
    public long nextPair(UUID first, Set<UUID> seconds) {
        for (int i = 0; i < maxTries; i++) {
            long seq = nextSequence();
            if (!owns(first, firstKey(seq))) {
                continue;
            }
            Member second = ownerOf(secondKey(seq));
            if (second != null && seconds.contains(second.getUuid())) {
                return seq | TWO_COPIES;
            }
        }
        return -1;
    }

    /** The key of a handle's first copy. */
    public long firstKey(long handle) {
        return RemoteKey.of(node, incarnation, handle & ~TWO_COPIES);
    }

    /** The key of a handle's second copy (meaningful only for a two-copy handle). */
    public long secondKey(long handle) {
        return RemoteKey.of(node, incarnation, handle | TWO_COPIES);
    }

    public static boolean twoCopies(long handle) {
        return (handle & TWO_COPIES) != 0;
    }

    /** The member that owns {@code key}'s partition now; null while nobody does (a migration). */
    public Member ownerOf(long key) {
        return partitions.getPartition(key).getOwner();
    }

    /** The partition of {@code key}. */
    public int partitionOf(long key) {
        return partitions.getPartition(key).getPartitionId();
    }

    /** Sequence numbers used so far: every handle made until now is below it (its copy bit aside). */
    public long used() {
        return sequence.get();
    }

    private long nextSequence() {
        long seq = sequence.getAndIncrement();
        if (seq >= TWO_COPIES) {
            throw new IllegalStateException(
                    "node " + node + " used up its 2^39 remote keys in this incarnation: restart the daemon");
        }
        return seq;
    }

    private boolean owns(UUID member, long key) {
        Partition p = partitions.getPartition(key);
        Member owner = p.getOwner();
        return owner != null && owner.getUuid().equals(member);
    }
}
