package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import java.time.Duration;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import ramswap.store.LocalPool;
import ramswap.sys.Posix;

/** Pages stored on, read from and freed on one lender by one call each, from a member and from a client. */
class PageCallIT {

    private static final int SEALED_BLOCK = 4096 + PageSeal.OVERHEAD;

    @Test
    void shouldStoreReadAndFreeABatchWithOneCallFromAMemberOrAClient() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base());
                LentPages store = new LentPages(Posix.load(), 64L << 20, false)) {
            ClusterMember lender = cluster.start(1);
            ClusterMember sender = cluster.startLite(2);
            assertTrue(PageCall.offer(lender.hazelcast(), store));
            assertFalse(PageCall.offer(lender.hazelcast(), store), "one store per member");
            ClusterClient client =
                    cluster.own(ClusterClient.connect(cluster.settings(3, true), Duration.ofSeconds(30)));
            UUID lenderId = lender.hazelcast().getCluster().getLocalMember().getUuid();

            Random r = new Random(1);
            long[] keys = new long[64];
            byte[][] pages = new byte[64][];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = RemoteKey.of(2, 1, i);
                pages[i] = new byte[1 + r.nextInt(SEALED_BLOCK)];
                r.nextBytes(pages[i]);
            }
            PageCall.Answer stored = call(sender.hazelcast(), lenderId, PageCall.store(keys, pages));
            assertEquals(64, stored.count());
            assertEquals(64, store.pages());

            long missing = RemoteKey.of(2, 1, 999);
            long[] asked = {keys[5], missing, keys[63], keys[0]};
            for (HazelcastInstance from : new HazelcastInstance[] {sender.hazelcast(), client.hazelcast()}) {
                PageCall.Answer read = call(from, lenderId, PageCall.read(asked));
                assertFalse(read.refused());
                assertArrayEquals(pages[5], read.page(0));
                assertNull(read.page(1), "a key the lender does not hold");
                assertArrayEquals(pages[63], read.page(2));
                assertArrayEquals(pages[0], read.page(3));
            }

            long[] half = java.util.Arrays.copyOf(keys, 32);
            assertEquals(
                    32, call(client.hazelcast(), lenderId, PageCall.free(half)).count());
            assertEquals(
                    0, call(client.hazelcast(), lenderId, PageCall.free(half)).count(), "freed already");
            assertEquals(32, store.pages());
            PageCall.Answer after = call(sender.hazelcast(), lenderId, PageCall.read(keys));
            for (int i = 0; i < keys.length; i++) {
                if (i < 32) {
                    assertNull(after.page(i), "page " + i + " was freed");
                } else {
                    assertArrayEquals(pages[i], after.page(i), "page " + i);
                }
            }

            UUID senderId = sender.hazelcast().getCluster().getLocalMember().getUuid();
            assertTrue(
                    call(client.hazelcast(), senderId, PageCall.read(keys)).refused(),
                    "a member that offers no store refuses");
            PageCall.withdraw(lender.hazelcast(), store);
            assertTrue(call(sender.hazelcast(), lenderId, PageCall.read(keys)).refused(), "withdrawn");
        }
    }

    @Test
    void shouldStoreUpToTheQuotaAndSayHowMany() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base());
                LentPages store = new LentPages(Posix.load(), 2 * LocalPool.SLAB_BYTES, false)) {
            ClusterMember lender = cluster.start(1);
            ClusterMember sender = cluster.startLite(2);
            PageCall.offer(lender.hazelcast(), store);
            UUID lenderId = lender.hazelcast().getCluster().getLocalMember().getUuid();
            int perSlab = LocalPool.SLAB_BYTES / LocalPool.slotBytes(LocalPool.classOf(SEALED_BLOCK + 10));
            long[] keys = new long[3 * perSlab];
            byte[][] pages = new byte[keys.length][];
            for (int i = 0; i < keys.length; i++) {
                keys[i] = RemoteKey.of(2, 1, i);
                pages[i] = new byte[SEALED_BLOCK];
                pages[i][0] = (byte) i;
            }
            PageCall.Answer stored = call(sender.hazelcast(), lenderId, PageCall.store(keys, pages));
            assertEquals(2 * perSlab, stored.count(), "two slabs' worth, in order");
            PageCall.Answer read = call(sender.hazelcast(), lenderId, PageCall.read(keys));
            for (int i = 0; i < keys.length; i++) {
                if (i < stored.count()) {
                    assertArrayEquals(pages[i], read.page(i));
                } else {
                    assertNull(read.page(i), "page " + i + " past the quota");
                }
            }
            assertEquals(perSlab, store.refusedPages(), "the pages past the quota counted refused");
            PageCall.Answer dropped = call(sender.hazelcast(), lenderId, PageCall.dropNode(2, 5));
            assertEquals(2 * perSlab, dropped.count(), "every page of node 2's earlier life");
            assertEquals(2L * perSlab, store.droppedPages(), "counted dropped, for the lender's orphan count");
            assertEquals(0, store.pages());
        }
    }

    private static PageCall.Answer call(HazelcastInstance from, UUID lender, PageCall call) throws Exception {
        Member member = from.getCluster().getMembers().stream()
                .filter(m -> m.getUuid().equals(lender))
                .findFirst()
                .orElseThrow();
        return from.getExecutorService(PageCall.EXECUTOR_NAME)
                .submitToMember(call, member)
                .get(30, TimeUnit.SECONDS);
    }
}
