package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.RemoteTier.Batch;
import ramswap.store.RemoteTier.Sent;

/**
 * A node that only borrows, connected as a Hazelcast client to real lending members in this JVM
 * (127.0.0.1, ports from a free range): its tier places and reads as a lite member's does, and its
 * lease keeps its pages on the lenders.
 */
class ClusterClientIT {

    static final int BASE_PORT = FreePorts.base();
    static final Duration CONNECT = Duration.ofSeconds(30);
    static final long TIMEOUT_MS = 5000;
    static final long MIB = 1 << 20;

    /** One client node: its tier over a client of the members started so far. */
    static final class ClientNode {
        final ClusterClient client;
        final Knobs knobs = new Knobs();
        final Counters counters = new Counters();
        final CallTier tier;

        ClientNode(TestCluster cluster, int nodeNumber, String targets) throws ClusterException {
            client = cluster.own(ClusterClient.connect(cluster.settings(nodeNumber, true), CONNECT));
            assertEquals(null, knobs.set(Knob.REMOTE_TARGET_NODENUM, targets));
            tier = cluster.own(CallTier.start(client, knobs, counters, 1, Duration.ofSeconds(10)));
        }

        Sent send(Batch b) throws Exception {
            return tier.send(b).get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
        }

        int[] fetch(Batch b, long[] handles) {
            int[] lengths = new int[b.count];
            tier.fetch(b.count, b.blocks, b.generations, handles, TestPages.pages(b.count), lengths, TIMEOUT_MS);
            return lengths;
        }
    }

    @Test
    void shouldSendTwoCopiesAndReadEveryPageThroughTheSecondAfterALenderCrashes() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT)) {
            Lending a = Lending.start(cluster, 1, 64 * MIB);
            Lending b = Lending.start(cluster, 2, 64 * MIB);
            Lending c = Lending.start(cluster, 3, 64 * MIB);
            TestCluster.await("three members", () -> a.member().memberCount() == 3);
            ClientNode borrower = new ClientNode(cluster, 0, "1,2,3");
            assertTrue(borrower.client.client());
            com.hazelcast.cluster.Address own =
                    b.member().hazelcast().getCluster().getLocalMember().getAddress();
            assertEquals(
                    own.getHost() + ":" + own.getPort(),
                    b.member().memberAddresses().get(0),
                    "a member lists itself first");
            assertEquals(3, b.member().memberAddresses().size());
            assertEquals(3, borrower.client.memberAddresses().size(), "a client lists the members it knows");
            TestCluster.await("the client's tier can send", borrower.tier::canSend);

            Batch batch = TestPages.batch(64, 31);
            Sent sent = borrower.send(batch);
            for (long h : sent.handles) {
                assertEquals(2, borrower.tier.copies(h), "handle " + h);
                assertFalse(borrower.tier.needsReplacing(h));
            }
            assertEquals(64, a.store().pages(), "first copies on the first target");
            assertEquals(64, b.store().pages(), "second copies on the next");
            assertEquals(0, c.store().pages());
            int[] lengths = borrower.fetch(batch, sent.handles);
            for (int k = 0; k < 64; k++) {
                assertEquals(batch.lengths[k], lengths[k], "page " + k);
            }

            long secondBefore =
                    borrower.counters.get(Counter.REMOTE_READS_SECOND_COPY); // late binding may have used a few
            a.lender().close();
            a.member().hazelcast().getLifecycleService().terminate(); // a crash: its copies are gone
            TestCluster.await(
                    "the client saw the crash",
                    () -> borrower.client.memberAddresses().size() == 2);
            TestCluster.await(
                    "every page known to have lost a copy",
                    () -> Arrays.stream(sent.handles).allMatch(borrower.tier::needsReplacing));
            lengths = borrower.fetch(batch, sent.handles);
            for (int k = 0; k < 64; k++) {
                assertEquals(batch.lengths[k], lengths[k], "page " + k + " after the crash");
                assertFalse(borrower.tier.lost(sent.handles[k]), "its second copy is there");
            }
            assertEquals(
                    64,
                    borrower.counters.get(Counter.REMOTE_READS_SECOND_COPY) - secondBefore,
                    "every page read from its second copy");
        }
    }

    @Test
    void shouldKeepThePagesOfAClientWithALiveLeaseAndFreeThemOnceItLapsedForTheGrace() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT)) {
            Lending lender = Lending.start(cluster, 1, 16 * MIB);
            ClientNode borrower = new ClientNode(cluster, 0, "1");
            NodeLease lease = new NodeLease(borrower.client);
            lease.doWork();
            TestCluster.await("the client's tier can send", borrower.tier::canSend);
            borrower.send(TestPages.batch(20, 32));
            assertEquals(null, lender.knobs().set(Knob.ORPHAN_GRACE_SECONDS, "1"));
            assertEquals(
                    List.of(0, 1),
                    List.copyOf(NodeDirectory.present(lender.member().hazelcast())));
            assertEquals(20, lender.lender().heldOfPresentNodes(), "its pages are handed over when the lender leaves");

            assertEquals(0, lender.lender().sweepOrphans());
            lender.clock().step(Duration.ofMillis(1100)); // past the grace of 1 s
            assertEquals(0, lender.lender().sweepOrphans(), "a node with a live lease is present");
            assertEquals(20, lender.store().pages());

            lease.onClose(); // a daemon that stops releases its lease
            assertEquals(0, lender.lender().heldOfPresentNodes());
            assertEquals(0, lender.lender().sweepOrphans(), "freed within the grace");
            lender.clock().step(Duration.ofMillis(1100));
            assertEquals(20, lender.lender().sweepOrphans());
            assertEquals(0, lender.store().pages());
        }
    }

    @Test
    void shouldRefuseANodeNumberAClientHolds() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT)) {
            Lending lender = Lending.start(cluster, 1, 16 * MIB);
            List<String> join = cluster.settings(5, true).members();
            // another machine's address: in one JVM, a lease of this process at this address is its own earlier life
            cluster.own(ClusterClient.connect(
                    new ClusterSettings(cluster.name(), 5, "127.0.0.2", BASE_PORT, join, true), CONNECT));

            ClusterException member = assertThrows(ClusterException.class, () -> cluster.start(5));
            assertTrue(
                    member.getMessage().contains("node number 5 is already used by a client node at 127.0.0.2"),
                    member.getMessage());
            TestCluster.await("the refused member gone", () -> lender.member().memberCount() == 1);
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
