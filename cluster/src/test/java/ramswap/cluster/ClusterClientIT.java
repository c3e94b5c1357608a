package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import ramswap.cluster.HazelcastRemoteTierIT.Node;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.RemoteTier.Batch;
import ramswap.store.RemoteTier.Sent;

/**
 * A node that only borrows, connected as a Hazelcast client to real lending members in this JVM
 * (127.0.0.1, ports from a free range): its tier places, reads and repairs as a lite member's does, and
 * its lease keeps its pages on the lenders.
 */
class ClusterClientIT {

    static final int BASE_PORT = FreePorts.base();
    static final Duration CONNECT = Duration.ofSeconds(30);

    /** One client node: its tier over a client of the members started so far. */
    static final class ClientNode {
        final ClusterClient client;
        final Knobs knobs = new Knobs();
        final Counters counters = new Counters();
        final HazelcastRemoteTier tier;

        ClientNode(TestCluster cluster, int nodeNumber, String targets) throws ClusterException {
            client = cluster.own(ClusterClient.connect(cluster.settings(nodeNumber, true), CONNECT));
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, targets));
            tier = cluster.own(HazelcastRemoteTier.start(client, knobs, counters, 1, Duration.ofSeconds(10)));
        }

        Sent send(Batch b) throws Exception {
            return tier.send(b).get(HazelcastRemoteTierIT.TIMEOUT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
        }

        int[] fetch(Batch b, long[] handles) {
            int[] lengths = new int[b.count];
            tier.fetch(
                    b.count,
                    b.blocks,
                    b.generations,
                    handles,
                    HazelcastRemoteTierIT.pages(b.count),
                    lengths,
                    HazelcastRemoteTierIT.TIMEOUT_MS);
            return lengths;
        }
    }

    @Test
    void shouldSendTwoCopiesAndReadEveryPageThroughTheSecondAfterALenderCrashes() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT)) {
            Node a = HazelcastRemoteTierIT.lender(cluster, 1, 64 * HazelcastRemoteTierIT.MIB);
            Node b = HazelcastRemoteTierIT.lender(cluster, 2, 64 * HazelcastRemoteTierIT.MIB);
            HazelcastRemoteTierIT.lender(cluster, 3, 64 * HazelcastRemoteTierIT.MIB);
            HazelcastRemoteTierIT.awaitMembers(cluster, a, 3);
            ClientNode borrower = new ClientNode(cluster, 0, "1,2,3");
            assertTrue(borrower.client.client());
            com.hazelcast.cluster.Address own =
                    b.member.hazelcast().getCluster().getLocalMember().getAddress();
            assertEquals(
                    own.getHost() + ":" + own.getPort(),
                    b.member.memberAddresses().get(0),
                    "a member lists itself first");
            assertEquals(3, b.member.memberAddresses().size());
            assertEquals(3, borrower.client.memberAddresses().size(), "a client lists the members it knows");
            TestCluster.await("the client's tier can send", borrower.tier::canSend);
            TestCluster.await("the partitions settled, as a member tells the client", borrower.tier::placementSettled);

            Batch batch = HazelcastRemoteTierIT.batch(64, 31);
            Sent sent = borrower.send(batch);
            UUID crashed = a.member.hazelcast().getCluster().getLocalMember().getUuid();
            KeyPlacer placer = new KeyPlacer(a.member.hazelcast().getPartitionService(), 0, 1);
            for (long h : sent.handles) {
                assertTrue(KeyPlacer.twoCopies(h), "handle " + h + " has one copy");
                UUID first = a.member
                        .hazelcast()
                        .getPartitionService()
                        .getPartition(placer.firstKey(h))
                        .getOwner()
                        .getUuid();
                UUID second = a.member
                        .hazelcast()
                        .getPartitionService()
                        .getPartition(placer.secondKey(h))
                        .getOwner()
                        .getUuid();
                assertEquals(crashed, first, "first copies on the first target");
                assertFalse(first.equals(second), "both copies on one member");
                assertFalse(borrower.tier.needsReplacing(h));
            }
            assertEquals(128, HazelcastRemoteTierIT.blocks(a).size());
            int[] lengths = borrower.fetch(batch, sent.handles);
            for (int k = 0; k < 64; k++) {
                assertEquals(batch.lengths[k], lengths[k], "page " + k);
            }

            long secondBefore =
                    borrower.counters.get(Counter.REMOTE_READS_SECOND_COPY); // late binding may have used a few
            a.lender.close();
            a.member.hazelcast().getLifecycleService().terminate(); // a crash: its partitions are lost
            TestCluster.await(
                    "the client saw the crash",
                    () -> borrower.client.memberAddresses().size() == 2);
            TestCluster.await("the lost partitions seen", () -> {
                borrower.tier.placementEpoch();
                return borrower.counters.get(Counter.REMOTE_PARTITIONS_LOST) > 0;
            });
            lengths = borrower.fetch(batch, sent.handles);
            int want = 0;
            for (int k = 0; k < 64; k++) {
                assertEquals(batch.lengths[k], lengths[k], "page " + k + " after the crash");
                want += borrower.tier.needsReplacing(sent.handles[k]) ? 1 : 0;
            }
            assertEquals(64, want, "every page lost a copy");
            assertEquals(
                    64,
                    borrower.counters.get(Counter.REMOTE_READS_SECOND_COPY) - secondBefore,
                    "every page read from its second copy");
            TestCluster.await("the partitions settled again", borrower.tier::placementSettled);
        }
    }

    @Test
    void shouldKeepThePagesOfAClientWithALiveLeaseAndFreeThemOnceItLapsedForTheGrace() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT)) {
            Node lender = HazelcastRemoteTierIT.lender(cluster, 1, 16 * HazelcastRemoteTierIT.MIB);
            ClientNode borrower = new ClientNode(cluster, 0, "1");
            NodeLease lease = new NodeLease(borrower.client);
            lease.doWork();
            TestCluster.await("the client's tier can send", borrower.tier::canSend);
            borrower.send(HazelcastRemoteTierIT.batch(20, 32));
            assertEquals(null, lender.knobs.set(Knob.ORPHAN_GRACE_SECONDS, "1"));
            assertEquals(List.of(0, 1), List.copyOf(NodeDirectory.present(lender.member.hazelcast())));
            assertEquals(20, lender.lender.heldOfPresentNodes(), "its pages are handed over when the lender leaves");

            assertEquals(0, lender.lender.sweepOrphans());
            lender.clock.step(Duration.ofMillis(1100)); // past the grace of 1 s
            assertEquals(0, lender.lender.sweepOrphans(), "a node with a live lease is present");
            assertEquals(20, HazelcastRemoteTierIT.blocks(lender).size());

            lease.onClose(); // a daemon that stops releases its lease
            assertEquals(0, lender.lender.heldOfPresentNodes());
            assertEquals(0, lender.lender.sweepOrphans(), "freed within the grace");
            lender.clock.step(Duration.ofMillis(1100));
            assertEquals(20, lender.lender.sweepOrphans());
            assertEquals(0, HazelcastRemoteTierIT.blocks(lender).size());
        }
    }

    @Test
    void shouldRefuseANodeNumberAClientHolds() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT)) {
            Node lender = HazelcastRemoteTierIT.lender(cluster, 1, 16 * HazelcastRemoteTierIT.MIB);
            List<String> join = cluster.settings(5, true).members();
            // another machine's address: in one JVM, a lease of this process at this address is its own earlier life
            cluster.own(ClusterClient.connect(
                    new ClusterSettings(cluster.name(), 5, "127.0.0.2", BASE_PORT, join, true), CONNECT));

            ClusterException member = assertThrows(ClusterException.class, () -> cluster.start(5));
            assertTrue(
                    member.getMessage().contains("node number 5 is already used by a client node at 127.0.0.2"),
                    member.getMessage());
            TestCluster.await("the refused member gone", () -> lender.member.memberCount() == 1);
            ClusterSettings elsewhere = new ClusterSettings(cluster.name(), 5, "127.0.0.3", BASE_PORT, join, true);
            ClusterException client =
                    assertThrows(ClusterException.class, () -> ClusterClient.connect(elsewhere, CONNECT));
            assertTrue(client.getMessage().contains("already used by a client node"), client.getMessage());
            ClusterException ofAMember = assertThrows(
                    ClusterException.class, () -> ClusterClient.connect(cluster.settings(1, true), CONNECT));
            assertTrue(ofAMember.getMessage().contains("already used by member"), ofAMember.getMessage());
        }
    }

    @Test
    void shouldSayWhenNoMemberAnswers() {
        ClusterSettings nobody = new ClusterSettings(
                "ramswap-test-" + UUID.randomUUID().toString().substring(0, 8),
                0,
                "127.0.0.1",
                BASE_PORT,
                List.of("127.0.0.1:" + (BASE_PORT + 90)),
                true);
        ClusterException e =
                assertThrows(ClusterException.class, () -> ClusterClient.connect(nobody, Duration.ofSeconds(3)));
        assertTrue(e.getMessage().contains("no member of cluster"), e.getMessage());
    }
}
