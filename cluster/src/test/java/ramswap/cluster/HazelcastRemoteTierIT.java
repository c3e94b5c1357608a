package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.agrona.concurrent.Agent;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.RemoteTier;
import ramswap.store.RemoteTier.Batch;
import ramswap.store.RemoteTier.Sent;

/**
 * The remote tier against real members in this JVM: a lite sender (node 0) and lending data
 * members. Ports from a free range ({@link FreePorts}).
 */
class HazelcastRemoteTierIT {

    static final int BASE_PORT = FreePorts.base();
    static final int PAGE = 4096;
    static final long MIB = 1 << 20;
    static final long TIMEOUT_MS = 5000;

    /** One node's daemon-side objects: member, knobs, counters, and its tier or lender. */
    static final class Node {
        final ClusterMember member;
        final Knobs knobs = new Knobs();
        final Counters counters = new Counters();
        /** The time of its tier's windows and its lender's grace: a test steps over them. */
        final SteppedClock clock = new SteppedClock();

        HazelcastRemoteTier tier;
        Lender lender;

        Node(ClusterMember member) {
            this.member = member;
        }

        long count(Counter c) {
            return counters.get(c);
        }
    }

    static Node sender(TestCluster cluster, int nodeNumber, long incarnation, String targets, boolean lite)
            throws ClusterException {
        Node n = new Node(lite ? cluster.startLite(nodeNumber) : cluster.start(nodeNumber));
        assertEquals(null, n.knobs.set(Knob.REMOTE_TARGET_NODENUM, targets));
        n.tier = cluster.own(
                HazelcastRemoteTier.start(n.member, n.knobs, n.counters, incarnation, Duration.ofSeconds(10), n.clock));
        return n;
    }

    static Node lender(TestCluster cluster, int nodeNumber, long quotaBytes) throws ClusterException {
        Node n = new Node(cluster.start(nodeNumber));
        n.lender = cluster.own(new Lender(n.member, quotaBytes, n.knobs, n.counters, n.clock));
        return n;
    }

    static void awaitMembers(TestCluster cluster, Node any, int count) {
        TestCluster.await(
                count + " members, partitions settled",
                () -> any.member.memberCount() == count
                        && any.member.hazelcast().getPartitionService().isClusterSafe());
    }

    static IMap<Long, byte[]> blocks(Node n) {
        return n.member.hazelcast().getMap(HazelcastRemoteTier.MAP_NAME);
    }

    /** {@code count} pages of random length and content, blocks 100.., generations 7... */
    static Batch batch(int count, long seed) {
        Random random = new Random(seed);
        Batch b = new Batch(count, PAGE);
        for (int k = 0; k < count; k++) {
            b.blocks[k] = 100 + k;
            b.generations[k] = 7 + k;
            b.lengths[k] = 1 + random.nextInt(PAGE);
            random.nextBytes(b.pages[k]);
        }
        b.count = count;
        return b;
    }

    static Sent send(Node n, Batch b) throws Exception {
        return n.tier.send(b).get(TIMEOUT_MS, TimeUnit.MILLISECONDS);
    }

    /** Fetches every page of {@code b} under {@code handles}; returns the lengths (or codes). */
    static int[] fetch(Node n, Batch b, long[] handles, byte[][] into) {
        int[] lengths = new int[b.count];
        n.tier.fetch(b.count, b.blocks, b.generations, handles, into, lengths, TIMEOUT_MS);
        return lengths;
    }

    static byte[][] pages(int count) {
        return new byte[count][PAGE];
    }

    static void flushOnce(Node n) {
        try {
            n.tier.agents().get(0).doWork();
        } catch (Exception e) {
            throw new AssertionError(e);
        }
    }

    static void flushAll(Node n, Node holder) {
        Agent flusher = n.tier.agents().get(0);
        TestCluster.await("the flusher to empty the map", () -> {
            try {
                flusher.doWork();
            } catch (Exception e) {
                throw new AssertionError(e);
            }
            // and every delete answered, so that its count is in (the map empties before the answers arrive)
            return blocks(holder).isEmpty() && ((HazelcastRemoteTier.Flusher) flusher).inFlight() == 0;
        });
    }

    static void assertAll(long expected, long[] handles) {
        for (long h : handles) {
            assertEquals(expected, h, Arrays.toString(handles));
        }
    }

    @Nested
    class RoundTrip {

        @Test
        void shouldFetchBackTheBytesSentAndCountNothingAsLost() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node lender = lender(cluster, 1, 16 * MIB);
                Node sender = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, sender, 2);
                assertTrue(sender.tier.canSend());

                Batch b = batch(32, 1);
                Sent sent = send(sender, b);
                UUID lenderUuid =
                        lender.member.hazelcast().getCluster().getLocalMember().getUuid();
                for (long h : sent.handles) {
                    assertTrue(h >= 0 && h <= RemoteKey.MAX_SEQUENCE, "handle " + h);
                    assertEquals(
                            lenderUuid,
                            lender.member
                                    .hazelcast()
                                    .getPartitionService()
                                    .getPartition(RemoteKey.of(0, 1, h))
                                    .getOwner()
                                    .getUuid());
                    assertFalse(sender.tier.needsReplacing(h));
                }
                byte[][] got = pages(32);
                int[] lengths = fetch(sender, b, sent.handles, got);
                for (int k = 0; k < 32; k++) {
                    assertEquals(b.lengths[k], lengths[k], "page " + k);
                    assertArrayEquals(Arrays.copyOf(b.pages[k], b.lengths[k]), Arrays.copyOf(got[k], lengths[k]));
                }
                assertEquals(32, blocks(lender).size());
                lender.lender.refresh();
                assertEquals(32, lender.count(Counter.FOREIGN_PERS_PAGES));
                assertEquals(32, lender.count(Counter.FOREIGN_PERS_PAGES_MAX));
                assertTrue(lender.count(Counter.FOREIGN_PERS_BYTES) > 32 * PageSeal.OVERHEAD);
                assertEquals(16 * MIB, lender.count(Counter.LEND_QUOTA_BYTES));
                assertEquals(0, sender.count(Counter.PERS_PAGES_REMOTE_FAILED));
                assertEquals(0, sender.count(Counter.PERS_PAGES_LOCAL_NO_TARGET));
            }
        }

        @Test
        void shouldAnswerUnauthenticForAlteredPagesAndForAnotherBlockOrGeneration() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node lender = lender(cluster, 1, 16 * MIB);
                Node sender = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, sender, 2);
                Batch b = batch(3, 2);
                Sent sent = send(sender, b);

                long key = RemoteKey.of(0, 1, sent.handles[0]);
                byte[] sealed = blocks(lender).get(key);
                sealed[PageSeal.NONCE_BYTES + 1] ^= 1;
                blocks(lender).set(key, sealed);
                b.blocks[1]++; // page 1 asked for under another block
                b.generations[2]++; // page 2 under another generation
                byte[][] got = pages(3);
                int[] lengths = fetch(sender, b, sent.handles, got);

                assertArrayEquals(
                        new int[] {RemoteTier.UNAUTHENTIC, RemoteTier.UNAUTHENTIC, RemoteTier.UNAUTHENTIC}, lengths);
                for (byte[] page : got) {
                    assertTrue(Arrays.equals(new byte[PAGE], page), "bytes that failed authentication were handed out");
                }
            }
        }

        @Test
        void shouldDeleteEveryForgottenPageInBatchesAndThenAnswerMissing() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node lender = lender(cluster, 1, 64 * MIB);
                Node sender = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, sender, 2);
                int count = 2 * HazelcastRemoteTier.FLUSH_BATCH + 88; // three batches
                Batch b = batch(count, 3);
                Sent sent = send(sender, b);
                assertEquals(count, blocks(lender).size());

                for (long h : sent.handles) {
                    sender.tier.forget(h);
                }
                flushAll(sender, lender);

                assertEquals(count, sender.count(Counter.REMOTE_PAGES_FLUSHED));
                assertEquals(0, sender.count(Counter.REMOTE_FLUSH_FAILED));
                int[] lengths = fetch(sender, b, sent.handles, pages(count));
                for (int length : lengths) {
                    assertEquals(RemoteTier.MISSING, length);
                }
            }
        }
    }

    @Nested
    class Copies {

        /**
         * Two copies on two different lenders, never on the sender's own member (a data member
         * here); the lender that holds every first copy crashes: every page is read from its
         * second copy, and wants new copies.
         */
        @Test
        void shouldKeepTwoCopiesOffThisNodeAndReadEveryPageAfterALenderCrashes() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node a = lender(cluster, 1, 64 * MIB);
                lender(cluster, 2, 64 * MIB);
                lender(cluster, 3, 64 * MIB);
                Node sender = sender(cluster, 0, 1, "1,2,3", false);
                awaitMembers(cluster, sender, 4);
                Batch batch = batch(64, 11);
                Sent sent = send(sender, batch);
                UUID self =
                        sender.member.hazelcast().getCluster().getLocalMember().getUuid();
                UUID crashed =
                        a.member.hazelcast().getCluster().getLocalMember().getUuid(); // it holds every first copy
                com.hazelcast.partition.PartitionService ps =
                        sender.member.hazelcast().getPartitionService();
                KeyPlacer placer = new KeyPlacer(ps, 0, 1);
                int onCrashed = 0;
                for (long h : sent.handles) {
                    assertTrue(KeyPlacer.twoCopies(h), "handle " + h + " has one copy");
                    UUID first = ps.getPartition(placer.firstKey(h)).getOwner().getUuid();
                    UUID second =
                            ps.getPartition(placer.secondKey(h)).getOwner().getUuid();
                    assertEquals(
                            a.member.hazelcast().getCluster().getLocalMember().getUuid(),
                            first,
                            "first copies on the first target");
                    assertFalse(first.equals(second), "both copies on one member");
                    assertFalse(self.equals(second), "a copy on the sender's own member");
                    assertFalse(sender.tier.needsReplacing(h));
                    onCrashed += crashed.equals(first) || crashed.equals(second) ? 1 : 0;
                }
                assertEquals(128, blocks(sender).size());
                assertEquals(2, sender.tier.copies(sent.handles[0]));

                long epoch = sender.tier.placementEpoch();
                a.lender.close();
                a.member.hazelcast().getLifecycleService().terminate(); // a crash: its partitions are lost
                TestCluster.await("the crash noticed", () -> sender.member.memberCount() == 3);
                TestCluster.await("the lost partitions seen", () -> sender.count(Counter.REMOTE_PARTITIONS_LOST) > 0);

                int[] lengths = fetch(sender, batch, sent.handles, pages(64));
                int want = 0;
                for (int k = 0; k < 64; k++) {
                    assertEquals(batch.lengths[k], lengths[k], "page " + k);
                    want += sender.tier.needsReplacing(sent.handles[k]) ? 1 : 0;
                }
                System.out.printf(
                        "two copies over 3 lenders: %d of 64 pages with a copy on the crashed lender, %d pages want new copies,"
                                + " %d partitions lost, %d reads from a second copy%n",
                        onCrashed,
                        want,
                        sender.count(Counter.REMOTE_PARTITIONS_LOST),
                        sender.count(Counter.REMOTE_READS_SECOND_COPY));
                assertEquals(64, onCrashed);
                assertEquals(64, want, "every page lost a copy");
                assertEquals(
                        64, sender.count(Counter.REMOTE_READS_SECOND_COPY), "every page was read from its second copy");
                assertTrue(sender.tier.placementEpoch() != epoch);
            }
        }

        /** Copies no handle names (a send given up, a delete that failed) are freed by the second sweep that finds them. */
        @Test
        void shouldFreeCopiesNoBlockUsesOnceFoundTwice() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                lender(cluster, 1, 64 * MIB);
                lender(cluster, 2, 64 * MIB);
                Node sender = sender(cluster, 0, 1, "1,2", true);
                awaitMembers(cluster, sender, 3);
                Sent kept = send(sender, batch(16, 13));
                Sent leaked = send(sender, batch(8, 14));
                java.util.Set<Long> live = new java.util.HashSet<>();
                for (long h : kept.handles) {
                    live.add(h);
                }
                assertEquals(0, sender.tier.sweepLeaks(live::contains), "the first sweep only notes them");
                assertEquals(0, sender.tier.sweepLeaks(live::contains), "nor the next within the confirmation");
                sender.clock.step(HazelcastRemoteTier.LEAK_CONFIRM);
                assertEquals(16, sender.tier.sweepLeaks(live::contains), "8 pages, two copies each");
                TestCluster.await("the leaked copies deleted", () -> {
                    flushOnce(sender);
                    return blocks(sender).size() == 32;
                });
                int[] lengths = fetch(sender, batch(16, 13), kept.handles, pages(16));
                for (int length : lengths) {
                    assertTrue(length > 0, "a live page was deleted");
                }
                assertEquals(RemoteTier.MISSING, fetch(sender, batch(8, 14), leaked.handles, pages(8))[0]);
            }
        }

        /** With one other lender, pages get the one copy they can; with remote_copies 1, one copy each. */
        @Test
        void shouldKeepTheCopiesItCanGetWithOneLender() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node a = lender(cluster, 1, 64 * MIB);
                Node sender = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, sender, 2);
                Batch batch = batch(8, 12);
                Sent sent = send(sender, batch);
                for (long h : sent.handles) {
                    assertFalse(KeyPlacer.twoCopies(h));
                    assertFalse(sender.tier.needsReplacing(h), "no second lender to copy to");
                }
                assertEquals(8, blocks(a).size());
                int[] lengths = fetch(sender, batch, sent.handles, pages(8));
                assertEquals(batch.lengths[7], lengths[7]);
            }
        }
    }

    @Nested
    class Targets {

        @Test
        void shouldGoToTheNextTargetWhenTheFirstIsFullAndLoseNothing() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node second = lender(cluster, 1, 16 * MIB);
                Node full = lender(cluster, 2, 0);
                Node sender = sender(cluster, 0, 1, "2,1", true);
                awaitMembers(cluster, sender, 3);

                Batch b = batch(16, 4);
                Sent sent = send(sender, b);
                long refusedFirst = full.count(Counter.LEND_REFUSED_PAGES);
                Sent again = send(sender, batch(16, 5));

                UUID secondUuid =
                        second.member.hazelcast().getCluster().getLocalMember().getUuid();
                for (long[] handles : new long[][] {sent.handles, again.handles}) {
                    for (long h : handles) {
                        assertTrue(h >= 0, Arrays.toString(handles));
                        assertEquals(
                                secondUuid,
                                second.member
                                        .hazelcast()
                                        .getPartitionService()
                                        .getPartition(RemoteKey.of(0, 1, h))
                                        .getOwner()
                                        .getUuid());
                    }
                }
                assertTrue(refusedFirst >= 1);
                assertEquals(
                        refusedFirst,
                        full.count(Counter.LEND_REFUSED_PAGES),
                        "the second batch did not skip the full target");
                int[] lengths = fetch(sender, b, sent.handles, pages(16));
                for (int k = 0; k < 16; k++) {
                    assertEquals(b.lengths[k], lengths[k]);
                }
                // the refused attempt's second copies, stored on node 1, are deleted too
                TestCluster.await("the full target to hold nothing, the other only the pages", () -> {
                    flushOnce(sender);
                    return blocks(full).localKeySet().isEmpty()
                            && blocks(second).size() == 32;
                });
                assertEquals(0, sender.count(Counter.PERS_PAGES_LOCAL_TARGETS_FULL));
            }
        }

        @Test
        void shouldRefuseWhenEveryTargetIsFull() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node full = lender(cluster, 1, 4096);
                Node sender = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, sender, 2);

                assertAll(RemoteTier.REFUSED, send(sender, batch(8, 6)).handles);
                assertAll(RemoteTier.REFUSED, send(sender, batch(8, 7)).handles); // skipped: refused within the second

                assertEquals(16, sender.count(Counter.PERS_PAGES_LOCAL_TARGETS_FULL));
                assertEquals(0, sender.count(Counter.PERS_PAGES_REMOTE_FAILED));
                TestCluster.await("the partly stored batch deleted", () -> {
                    flushOnce(sender);
                    return blocks(full).isEmpty();
                });
            }
        }

        /** The single-node start: a lite member alone, no data member anywhere. */
        @Test
        void shouldStartAloneAsALiteMemberAndSendNothing() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node sender = sender(cluster, 0, 1, "1", true);
                assertFalse(sender.tier.canSend());
                assertAll(RemoteTier.NO_TARGET, send(sender, batch(4, 15)).handles);
                assertEquals(0, sender.tier.sweepLeaks(h -> true));
                assertFalse(sender.tier.needsReplacing(1));
                sender.tier.placementEpoch();
            }
        }

        /** Hazelcast logs, once per partition, every try to assign partitions that nobody can own. */
        @Test
        void shouldAskForNoPartitionOwnerAloneAsALiteMember() throws Exception {
            List<String> warnings = new CopyOnWriteArrayList<>();
            Handler handler = new Handler() {
                @Override
                public void publish(LogRecord r) {
                    if (r.getLevel().intValue() >= Level.WARNING.intValue()
                            && r.getLoggerName().startsWith("com.hazelcast.internal.partition")) {
                        warnings.add(r.getMessage());
                    }
                }

                @Override
                public void flush() {}

                @Override
                public void close() {}
            };
            Logger hazelcastLog = Logger.getLogger("com.hazelcast");
            hazelcastLog.addHandler(handler);
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node sender = sender(cluster, 0, 1, "1", true);
                for (int tick = 0; tick < 20; tick++) { // the repairer's questions at its ticks
                    sender.tier.placementEpoch();
                    sender.tier.placementSettled();
                    sender.tier.needsReplacing(tick);
                    sender.tier.leaving(tick);
                    sender.tier.lost(tick);
                }
                assertEquals(
                        0,
                        warnings.size(),
                        () -> warnings.size() + " warnings about partitions, the first: " + warnings.get(0));
            } finally {
                hazelcastLog.removeHandler(handler);
            }
        }

        @Test
        void shouldAnswerNoTargetWhenTheTargetIsAbsentLiteOrThisNode() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node lite = new Node(cluster.startLite(3));
                Node sender = sender(cluster, 0, 1, "5", false);
                awaitMembers(cluster, sender, 2);

                for (String targets : new String[] {"5", "3", "0", "-1", "5,3,0"}) {
                    assertEquals(null, sender.knobs.set(Knob.REMOTE_TARGET_NODENUM, targets));
                    assertFalse(sender.tier.canSend(), targets);
                    assertAll(RemoteTier.NO_TARGET, send(sender, batch(4, 8)).handles);
                }
                assertEquals(20, sender.count(Counter.PERS_PAGES_LOCAL_NO_TARGET));
                assertTrue(blocks(lite).isEmpty());
            }
        }

        @Test
        void shouldWantNewCopiesOncePagesPartitionsMoveToThisNode() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node leaving = lender(cluster, 1, 16 * MIB);
                Node sender = sender(cluster, 0, 1, "1", false);
                awaitMembers(cluster, sender, 2);
                Batch b = batch(16, 9);
                Sent sent = send(sender, b);
                for (long h : sent.handles) {
                    assertFalse(sender.tier.needsReplacing(h));
                }

                leaving.lender.close();
                leaving.member.close(); // graceful: its partitions, pages included, move to node 0
                TestCluster.await(
                        "node 0 alone and safe",
                        () -> sender.member.memberCount() == 1
                                && sender.member
                                        .hazelcast()
                                        .getPartitionService()
                                        .isClusterSafe());

                for (long h : sent.handles) {
                    assertTrue(sender.tier.needsReplacing(h));
                }
                int[] lengths = fetch(sender, b, sent.handles, pages(16));
                assertEquals(b.lengths[0], lengths[0]);
                assertFalse(sender.tier.canSend());
            }
        }
    }

    @Nested
    class Orphans {

        @Test
        void shouldDeleteThePagesOfThisNodesEarlierLifeAtStart() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node lender = lender(cluster, 1, 16 * MIB);
                Node other = sender(cluster, 2, 1, "1", true);
                Node sender = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, sender, 3);
                send(sender, batch(20, 10));
                send(other, batch(5, 11));

                cluster.own(HazelcastRemoteTier.start(
                        sender.member, sender.knobs, sender.counters, 2, Duration.ofSeconds(10)));

                assertEquals(5, blocks(lender).size(), "only node 2's pages are left");
                for (Long key : blocks(lender).keySet()) {
                    assertEquals(2, RemoteKey.node(key));
                }
                assertEquals(20, lender.count(Counter.ORPHAN_PAGES_FREED));
            }
        }

        @Test
        void shouldFreeThePagesOfANodeGoneLongerThanTheGrace() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node lender = lender(cluster, 1, 16 * MIB);
                Node staying = sender(cluster, 2, 1, "1", true);
                Node gone = sender(cluster, 0, 1, "1", true);
                awaitMembers(cluster, lender, 3);
                send(gone, batch(20, 12));
                send(staying, batch(5, 13));
                assertEquals(null, lender.knobs.set(Knob.ORPHAN_GRACE_SECONDS, "1"));

                gone.member.close();
                TestCluster.await("node 0 gone", () -> lender.member.memberCount() == 2);
                assertEquals(0, lender.lender.sweepOrphans(), "freed within the grace");
                assertEquals(25, blocks(lender).size());
                lender.clock.step(Duration.ofMillis(1100)); // past the grace of 1 s
                assertEquals(20, lender.lender.sweepOrphans());

                assertEquals(5, blocks(lender).size());
                assertEquals(20, lender.count(Counter.ORPHAN_PAGES_FREED));
                assertEquals(0, lender.lender.sweepOrphans());
            }
        }
    }

    @Nested
    class Settling {

        static void crash(Node n) {
            n.lender.close();
            n.member.hazelcast().getLifecycleService().terminate();
        }

        /**
         * A page is lost only once every copy went with a lender that crashed: after the first crash
         * each page has a copy left and wants a new one, after the second none has. Each crash tells
         * the repairer that redundancy is unknown until the partitions settle again, and they do.
         */
        @Test
        void shouldCallAPageLostOnlyOnceEveryCopyWentWithItsLender() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node a = lender(cluster, 1, 64 * MIB);
                Node b = lender(cluster, 2, 64 * MIB);
                lender(cluster, 3, 64 * MIB);
                Node sender = sender(cluster, 0, 1, "1,2", true);
                awaitMembers(cluster, sender, 4);
                TestCluster.await("the partitions settled, as the sender sees them", sender.tier::placementSettled);
                Batch batch = batch(16, 21);
                Sent sent = send(sender, batch); // first copies on node 1, second copies on node 2
                for (long h : sent.handles) {
                    assertTrue(KeyPlacer.twoCopies(h));
                    assertFalse(sender.tier.lost(h));
                }
                sender.counters.set(
                        Counter.REMOTE_PARTITIONS_SETTLED, 1); // as the repairer sets it after a settled sweep

                crash(a);
                TestCluster.await(
                        "the first crash's lost partitions seen",
                        () -> sender.count(Counter.REMOTE_PARTITIONS_LOST) > 0);
                assertEquals(
                        0,
                        sender.count(Counter.REMOTE_PARTITIONS_SETTLED),
                        "redundancy unknown once a loss is counted");
                for (long h : sent.handles) {
                    assertTrue(sender.tier.needsReplacing(h));
                    assertFalse(sender.tier.lost(h), "its second copy is on node 2");
                }
                int[] lengths = fetch(sender, batch, sent.handles, pages(16));
                assertEquals(batch.lengths[3], lengths[3]);

                long lostBefore = sender.count(Counter.REMOTE_PARTITIONS_LOST);
                crash(b);
                TestCluster.await("every page seen lost", () -> {
                    sender.tier
                            .placementEpoch(); // what the repairer calls: it notes owners that changed without an event
                    for (long h : sent.handles) {
                        if (!sender.tier.lost(h)) {
                            return false;
                        }
                    }
                    return true;
                });
                assertTrue(sender.count(Counter.REMOTE_PARTITIONS_LOST) > lostBefore);
                assertEquals(RemoteTier.MISSING, fetch(sender, batch, sent.handles, pages(16))[0]);
                TestCluster.await("the partitions settled on node 3", sender.tier::placementSettled);
            }
        }

        /**
         * A borrower that lends (a data member) and is left without any other data member owns every
         * partition, empty after a crash: its reads wait for a holder, within their timeout, instead
         * of answering "missing" for pages the other side of a split may still hold. Once no holder
         * came back within the rejoin window, they are missing, answered at once.
         */
        @Test
        void shouldWaitForAHolderInsteadOfReadingMissingFromItsOwnEmptyPartitions() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node a = lender(cluster, 1, 64 * MIB);
                Node sender = sender(cluster, 0, 1, "1", false); // a data member: it lends too
                awaitMembers(cluster, sender, 2);
                TestCluster.await("the partitions settled, as the sender sees them", sender.tier::placementSettled);
                Batch batch = batch(4, 31);
                Sent sent = send(sender, batch);
                assertTrue(sender.tier.holdersPresent());

                crash(a);
                TestCluster.await("the lender gone", () -> sender.member.memberCount() == 1);
                assertFalse(sender.tier.holdersPresent(), "alone: nobody holds its pages");
                int[] lengths = new int[4];
                sender.tier.fetch(4, batch.blocks, batch.generations, sent.handles, pages(4), lengths, 300);
                for (int length : lengths) {
                    assertEquals(RemoteTier.TIMEOUT, length, "a read waits for a holder, never answers missing");
                }

                sender.clock.step(HazelcastRemoteTier.REJOIN_WINDOW); // no holder came back: gone for good
                sender.tier.fetch(4, batch.blocks, batch.generations, sent.handles, pages(4), lengths, 60_000);
                for (int length : lengths) {
                    assertEquals(RemoteTier.MISSING, length, "missing for good, answered at once");
                }
            }
        }

        @Test
        void shouldNotCallThePartitionsSettledWithoutADataMember() throws Exception {
            try (TestCluster cluster = new TestCluster(BASE_PORT)) {
                Node sender = sender(cluster, 0, 1, "1", true);
                assertFalse(sender.tier.placementSettled());
            }
        }
    }
}
