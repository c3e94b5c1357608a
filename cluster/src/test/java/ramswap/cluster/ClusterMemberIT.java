package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.cluster.Member;
import com.hazelcast.map.IMap;
import com.hazelcast.map.MapInterceptor;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class ClusterMemberIT {

    @Nested
    class Joining {

        @Test
        void shouldFormClusterAloneWhenNoMemberAnswers() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(7);

                assertEquals(7, member.nodeNumber());
                assertEquals(1, member.memberCount());
                assertEquals(Set.of(7), member.nodeNumbers());
                assertFalse(member.hazelcast().getCluster().getLocalMember().isLiteMember());
            }
        }

        @Test
        void shouldFormOneClusterWhereTwoMembersSeeEachOthersNodeNumbers() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);

                TestCluster.await(
                        "both members in one cluster", () -> first.memberCount() == 2 && second.memberCount() == 2);
                assertEquals(Set.of(1, 2), first.nodeNumbers());
                assertEquals(Set.of(1, 2), second.nodeNumbers());
            }
        }

        @Test
        void shouldListenOnlyOnTheBindAddressFromTheGivenPortUp() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);

                var address = member.hazelcast().getCluster().getLocalMember().getAddress();
                assertEquals(TestCluster.LOOPBACK, address.getHost());
                assertTrue(address.getPort() >= TestCluster.BASE_PORT, "port " + address.getPort());
            }
        }

        @Test
        void shouldTakeTheNextPortWhenTwoMembersShareOneMachine() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);

                int firstPort = first.hazelcast()
                        .getCluster()
                        .getLocalMember()
                        .getAddress()
                        .getPort();
                int secondPort = second.hazelcast()
                        .getCluster()
                        .getLocalMember()
                        .getAddress()
                        .getPort();
                assertTrue(secondPort > firstPort, firstPort + " then " + secondPort);
            }
        }

        @Test
        void shouldJoinAsLiteMemberOwningNoPartitions() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember server = cluster.start(1);
                ClusterMember borrower = cluster.startLite(2);

                TestCluster.await("lite member in the cluster", () -> server.memberCount() == 2);
                Member local = borrower.hazelcast().getCluster().getLocalMember();
                assertTrue(local.isLiteMember());
                assertEquals(Set.of(1, 2), server.nodeNumbers());
                assertTrue(borrower.describe().contains("(lite)"), borrower.describe());
            }
        }

        @Test
        void shouldRefuseAddressThatIsNotOnThisMachine() {
            // 192.0.2.0/24 is reserved for documentation and never assigned to a host.
            ClusterSettings settings = new ClusterSettings(
                    "ramswap-test", 1, "192.0.2.1", TestCluster.BASE_PORT, List.of("192.0.2.1"), false);

            ClusterException e = assertThrows(ClusterException.class, () -> ClusterMember.join(settings));
            assertEquals(
                    "bind address 192.0.2.1 is not an address of this machine; give one listed by" + " \"ip -4 addr\"",
                    e.getMessage());
        }
    }

    @Nested
    class NodeNumbers {

        @Test
        void shouldRefuseDuplicateNodeNumber() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(4);
                String firstAddress = first.hazelcast()
                                .getCluster()
                                .getLocalMember()
                                .getAddress()
                                .getHost() + ":"
                        + first.hazelcast()
                                .getCluster()
                                .getLocalMember()
                                .getAddress()
                                .getPort();

                ClusterException e = assertThrows(ClusterException.class, () -> cluster.start(4));

                assertEquals(
                        "node number 4 is already used by member " + firstAddress + "; choose another with --node",
                        e.getMessage());
            }
        }

        @Test
        void shouldLeaveFirstMemberAndItsDataUntouchedWhenRefusingDuplicate() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(4);
                IMap<Long, String> blocks = first.hazelcast().getMap("test-blocks");
                for (long key = 0; key < 1000; key++) {
                    blocks.set(key, "block " + key);
                }

                assertThrows(ClusterException.class, () -> cluster.start(4));

                TestCluster.await("refused member gone", () -> first.memberCount() == 1);
                assertTrue(first.hazelcast().getLifecycleService().isRunning());
                assertEquals(Set.of(4), first.nodeNumbers());
                assertEquals(1000, blocks.size());
                assertEquals("block 999", blocks.get(999L));
            }
        }

        @Test
        void shouldAdmitNextMemberWithAnotherNumberAfterRefusal() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(4);
                assertThrows(ClusterException.class, () -> cluster.start(4));

                ClusterMember second = cluster.start(5);

                TestCluster.await("two members", () -> first.memberCount() == 2);
                assertEquals(Set.of(4, 5), second.nodeNumbers());
            }
        }

        @Test
        void shouldIgnoreMembersWithoutNodeNumber() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);

                assertEquals(Set.of(1), member.nodeNumbers());
                assertThrows(
                        UnsupportedOperationException.class,
                        () -> member.nodeNumbers().add(2));
            }
        }
    }

    /** The checks and the promotion of a starting member, while the cluster changes under them. */
    @Nested
    class Settling {

        @Test
        void shouldTryTheLeaseCheckAgainUntilItPassesAndSayWhatItWaitsFor() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                FailingLeaseReads.left.set(2);
                first.hazelcast().getMap(NodeDirectory.MAP_NAME).addInterceptor(new FailingLeaseReads());
                List<String> said = new CopyOnWriteArrayList<>();

                ClusterMember second = ClusterMember.join(cluster.settings(2, false), null, null, said::add);
                cluster.own(second);

                assertFalse(second.hazelcast().getCluster().getLocalMember().isLiteMember());
                assertEquals(0, FailingLeaseReads.left.get());
                assertEquals(1, said.size(), said.toString()); // one line per reason, not one per try
                assertTrue(
                        said.get(0)
                                .startsWith(
                                        "node 2 is waiting to become a data member while cluster \"" + cluster.name()
                                                + "\" changes (2 members, 1 data members; the leases cannot be read now); trying again"),
                        said.get(0));
            }
        }

        /** Lenders a service manager starts at boot: each lists the others, none is up yet. */
        @Test
        void shouldMakeDataMembersOfFiveStartedAtOnce() throws Exception {
            ExecutorService starters = Executors.newFixedThreadPool(5);
            try (TestCluster cluster = new TestCluster()) {
                List<String> all = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    all.add(TestCluster.LOOPBACK + ":" + (TestCluster.BASE_PORT + i));
                }
                CountDownLatch go = new CountDownLatch(1);
                List<CompletableFuture<ClusterMember>> starts = new ArrayList<>();
                for (int i = 0; i < 5; i++) {
                    ClusterSettings settings = new ClusterSettings(
                            cluster.name(), 10 + i, TestCluster.LOOPBACK, TestCluster.BASE_PORT + i, all, false);
                    starts.add(CompletableFuture.supplyAsync(
                            () -> {
                                try {
                                    go.await();
                                    return ClusterMember.join(settings);
                                } catch (ClusterException | InterruptedException e) {
                                    throw new CompletionException(e);
                                }
                            },
                            starters));
                }
                go.countDown();
                List<ClusterMember> members = new ArrayList<>();
                Throwable failed = null;
                for (CompletableFuture<ClusterMember> f : starts) {
                    try {
                        members.add(cluster.own(f.get(3, TimeUnit.MINUTES)));
                    } catch (ExecutionException e) { // the others are still closed by the cluster
                        failed = e.getCause();
                    }
                }
                assertEquals(null, failed);
                TestCluster.await("one cluster of five", () -> members.stream().allMatch(m -> m.memberCount() == 5));
                for (ClusterMember m : members) {
                    assertFalse(m.hazelcast().getCluster().getLocalMember().isLiteMember(), m.describe());
                }
            } finally {
                starters.shutdownNow();
            }
        }
    }

    /** Fails the next {@link #left} reads of a lease, as a read fails while the cluster changes. */
    static final class FailingLeaseReads implements MapInterceptor {
        private static final long serialVersionUID = 1L;
        // static: the members of this JVM each run a deserialized copy
        static final AtomicInteger left = new AtomicInteger();

        @Override
        public Object interceptGet(Object value) {
            if (left.getAndUpdate(n -> Math.max(0, n - 1)) > 0) {
                throw new IllegalStateException("the leases cannot be read now");
            }
            return null;
        }

        @Override
        public void afterGet(Object value) {}

        @Override
        public Object interceptPut(Object oldValue, Object newValue) {
            return null;
        }

        @Override
        public void afterPut(Object value) {}

        @Override
        public Object interceptRemove(Object removedValue) {
            return null;
        }

        @Override
        public void afterRemove(Object value) {}
    }

    @Nested
    class Leaving {

        @Test
        void shouldLetOtherMemberSeeClusterShrinkOnClose() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);
                TestCluster.await("two members", () -> first.memberCount() == 2);

                second.close();

                TestCluster.await("one member left", () -> first.memberCount() == 1);
                assertEquals(Set.of(1), first.nodeNumbers());
                assertFalse(second.hazelcast().getLifecycleService().isRunning());
            }
        }

        @Test
        void shouldKeepDataOfLeavingMemberOnTheOthers() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);
                TestCluster.await("two members", () -> first.memberCount() == 2);
                IMap<Long, String> blocks = second.hazelcast().getMap("test-blocks");
                for (long key = 0; key < 1000; key++) {
                    blocks.set(key, "block " + key);
                }

                second.close();

                IMap<Long, String> kept = first.hazelcast().getMap("test-blocks");
                assertEquals(1000, kept.size());
                assertEquals("block 0", kept.get(0L));
            }
        }

        @Test
        void shouldCloseIdempotently() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);

                member.close();

                assertDoesNotThrow(member::close);
                assertTrue(member.describe().endsWith(", left"), member.describe());
                IllegalStateException e = assertThrows(IllegalStateException.class, member::memberCount);
                assertEquals("the cluster member of node 1 is closed", e.getMessage());
            }
        }
    }

    @Nested
    class Describing {

        @Test
        void shouldDescribeClusterAddressNodeAndMemberCountOnOneLine() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(3);
                int port = member.hazelcast()
                        .getCluster()
                        .getLocalMember()
                        .getAddress()
                        .getPort();

                assertEquals(
                        "cluster \"" + cluster.name() + "\", member 127.0.0.1:" + port + ", node 3, 1 member",
                        member.describe());
            }
        }
    }
}
