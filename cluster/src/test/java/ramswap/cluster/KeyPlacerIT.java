package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class KeyPlacerIT {

    @Test
    void shouldPackNodeIncarnationAndSequence() {
        long key = RemoteKey.of(1000, 0x1234, RemoteKey.MAX_SEQUENCE);
        assertEquals(1000, RemoteKey.node(key));
        assertEquals(0x34, RemoteKey.incarnation(key));
        assertEquals(RemoteKey.MAX_SEQUENCE, RemoteKey.sequence(key));
        assertEquals(RemoteKey.MAX_NODE, RemoteKey.node(RemoteKey.of(RemoteKey.MAX_NODE, 1, 0)));
    }

    @Test
    void shouldGiveFreshKeysInPartitionsTheChosenMemberOwns() throws ClusterException {
        try (TestCluster cluster = new TestCluster()) {
            ClusterMember borrower = cluster.startLite(0);
            ClusterMember a = cluster.start(1);
            ClusterMember b = cluster.start(2);
            TestCluster.await("three members", () -> borrower.memberCount() == 3);
            TestCluster.await(
                    "partitions owned by both data members",
                    () -> borrower.hazelcast().getPartitionService().isClusterSafe());
            KeyPlacer placer = new KeyPlacer(borrower.hazelcast().getPartitionService(), 0, 7);
            Set<Long> keys = new HashSet<>();
            for (ClusterMember target : new ClusterMember[] {a, b}) {
                UUID uuid = target.hazelcast().getCluster().getLocalMember().getUuid();
                for (int i = 0; i < 200; i++) {
                    long key = placer.firstKey(placer.nextHandleOwnedBy(uuid));
                    assertTrue(key >= 0, "no key for node " + target.nodeNumber());
                    assertEquals(uuid, placer.ownerOf(key).getUuid());
                    assertEquals(0, RemoteKey.node(key));
                    assertTrue(keys.add(key), "a key given twice");
                }
            }
            UUID lite = borrower.hazelcast().getCluster().getLocalMember().getUuid();
            assertEquals(-1, placer.nextHandleOwnedBy(lite), "a lite member owns no partition");
            System.out.printf(
                    "KeyPlacer: %d sequence numbers for %d keys over 2 data members%n", placer.used(), keys.size());
        }
    }
}
