package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.partition.Partition;
import com.hazelcast.partition.PartitionService;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fresh keys for this node's pages, each in a partition that a chosen member owns now. Hazelcast
 * has no "put this on that member"; a key whose partition that member owns is the way, without a
 * custom partitioning strategy that clients would have to share. Ownership is a hint: it moves
 * when members join or leave, and whoever keeps the key must check where it went.
 *
 * <p>A sequence number that lands in another member's partition is skipped, never reused: with
 * k data members a key takes about k tries.
 */
public final class KeyPlacer {

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

    /** A fresh key whose partition {@code member} owns now, or -1 when none was found (it owns no partition). */
    public long nextKeyOwnedBy(UUID member) {
        for (int i = 0; i < maxTries; i++) {
            long key = RemoteKey.of(node, incarnation, sequence.getAndIncrement());
            Partition p = partitions.getPartition(key);
            Member owner = p.getOwner();
            if (owner != null && owner.getUuid().equals(member)) {
                return key;
            }
        }
        return -1;
    }

    /** The member that owns {@code key}'s partition now; null while nobody does (a migration). */
    public Member ownerOf(long key) {
        return partitions.getPartition(key).getOwner();
    }

    /** Sequence numbers used so far (for tests and figures). */
    public long used() {
        return sequence.get();
    }
}
