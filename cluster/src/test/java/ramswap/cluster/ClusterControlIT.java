package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import ramswap.agent.Agents;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;

/**
 * Steering nodes through the cluster with real members on 127.0.0.1 (ports from a free range) and a real
 * Hazelcast client, as {@code ramswap nodes}, {@code get --node} and {@code set --all} use them.
 */
class ClusterControlIT {

    private static final int BASE_PORT = FreePorts.base();
    private static final Duration TIMEOUT = Duration.ofSeconds(5);

    private final String clusterName =
            "ramswap-ctl-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<ClusterMember> members = new ArrayList<>();
    private final Map<Integer, Knobs> knobs = new LinkedHashMap<>();
    private final Map<Integer, Counters> counters = new LinkedHashMap<>();

    @AfterEach
    void leave() {
        for (int i = members.size() - 1; i >= 0; i--) {
            members.get(i).close();
        }
    }

    /** A member as a daemon starts it: its role in attributes, its knobs and counters in reach of ControlCalls. */
    private ClusterMember node(int number, NodeRole role) throws ClusterException {
        List<String> join = new ArrayList<>();
        for (ClusterMember m : members) {
            join.add(address(m));
        }
        if (join.isEmpty()) {
            join.add("127.0.0.1");
        }
        Knobs k = new Knobs();
        Counters c = new Counters();
        knobs.put(number, k);
        counters.put(number, c);
        ClusterSettings settings =
                new ClusterSettings(clusterName, number, "127.0.0.1", BASE_PORT, join, role.liteMember());
        ClusterMember member = ClusterMember.join(settings, role, new NodeControls(k, c::snapshot), message -> {});
        members.add(member);
        int expected = members.size();
        TestCluster.await(expected + " members", () -> member.memberCount() == expected);
        return member;
    }

    private static String address(ClusterMember m) {
        return "127.0.0.1:"
                + m.hazelcast().getCluster().getLocalMember().getAddress().getPort();
    }

    private ClusterControl client(ClusterMember via) throws ClusterException {
        return ClusterControl.connect(clusterName, address(via), TIMEOUT);
    }

    @Nested
    class SettingAndGettingKnobs {

        @Test
        void shouldSetAKnobOnAnotherNodeWithTheSameValidationAsItsKnobFile() throws ClusterException {
            ClusterMember lender = node(1, new NodeRole(64L << 20, false));
            node(2, new NodeRole(0, true));
            try (ClusterControl control = client(lender)) {
                List<ControlAnswer> set =
                        control.call(ControlCall.set("selfshrink_interval", "10"), Set.of(2), TIMEOUT);
                assertEquals(
                        List.of("node 2: selfshrink_interval = 10"),
                        set.stream().map(ControlAnswer::line).toList());
                assertEquals(10, knobs.get(2).get(Knob.SELFSHRINK_INTERVAL));
                assertEquals(5, knobs.get(1).get(Knob.SELFSHRINK_INTERVAL), "the other node is left alone");

                List<ControlAnswer> refused =
                        control.call(ControlCall.set("selfshrink_interval", "0"), Set.of(2), TIMEOUT);
                assertFalse(refused.get(0).ok());
                assertEquals(
                        "node 2: refused: selfshrink_interval: 0 is out of range [1, 3600]",
                        refused.get(0).line());
                assertEquals(10, knobs.get(2).get(Knob.SELFSHRINK_INTERVAL), "a refused value changes nothing");
            }
        }

        @Test
        void shouldSetTheTargetListOnEveryNodeAndReadItBack() throws ClusterException {
            ClusterMember lender = node(1, new NodeRole(64L << 20, true));
            node(2, new NodeRole(0, true));
            node(3, new NodeRole(0, true));
            try (ClusterControl control = client(lender)) {
                List<ControlAnswer> set = control.call(ControlCall.set("remote_target_nodenum", "2,1"), null, TIMEOUT);
                assertEquals(
                        List.of(
                                "node 1: remote_target_nodenum = 2,1",
                                "node 2: remote_target_nodenum = 2,1",
                                "node 3: remote_target_nodenum = 2,1"),
                        set.stream().map(ControlAnswer::line).toList());
                for (Knobs k : knobs.values()) {
                    assertEquals("2,1", k.text(Knob.REMOTE_TARGET_NODENUM));
                }
                List<ControlAnswer> get = control.call(ControlCall.get("remote_target_nodenum"), Set.of(3), TIMEOUT);
                assertEquals("node 3: remote_target_nodenum = 2,1", get.get(0).line());
            }
        }

        @Test
        void shouldReadACounterOfOneNode() throws ClusterException {
            ClusterMember lender = node(1, new NodeRole(64L << 20, true));
            node(2, new NodeRole(0, true));
            counters.get(2).set(Counter.REMOTE_PERS_PAGES, 1234);
            try (ClusterControl control = client(lender)) {
                assertEquals(
                        "node 2: remote_pers_pages = 1234",
                        control.call(ControlCall.get("remote_pers_pages"), Set.of(2), TIMEOUT)
                                .get(0)
                                .line());
                assertEquals(
                        "node 2: refused: no knob or counter named 'no_such_thing'",
                        control.call(ControlCall.get("no_such_thing"), Set.of(2), TIMEOUT)
                                .get(0)
                                .line());
                assertEquals(
                        "node 1: refused: no knob named 'remote_pers_pages'",
                        control.call(ControlCall.set("remote_pers_pages", "1"), Set.of(1), TIMEOUT)
                                .get(0)
                                .line());
            }
        }

        /** A node that only borrows is a client: no executor can target it, the control topic reaches it. */
        @Test
        @SuppressWarnings("try") // the listener answers while it is open; the body never names it
        void shouldListAClientNodeAndSetAKnobOnIt() throws ClusterException {
            ClusterMember lender = node(1, new NodeRole(64L << 20, false));
            Knobs k = new Knobs();
            Counters c = new Counters();
            c.set(Counter.REMOTE_PERS_PAGES, 77);
            ClusterSettings settings =
                    new ClusterSettings(clusterName, 4, "127.0.0.1", BASE_PORT, List.of(address(lender)), true);
            try (ClusterClient borrower = ClusterClient.connect(settings, Duration.ofSeconds(30));
                    ClientControl listening = ClientControl.listen(borrower, new NodeControls(k, c::snapshot));
                    ClusterControl control = client(lender)) {
                List<NodeInfo> nodes = control.nodes();
                assertEquals(List.of(1, 4), nodes.stream().map(NodeInfo::node).toList());
                assertEquals(NodeRole.CLIENT_LABEL, nodes.get(1).role());
                assertEquals(borrower.roleLabel(), nodes.get(1).role(), "the client names itself as nodes names it");
                assertEquals("127.0.0.1", nodes.get(1).address());

                List<ControlAnswer> set =
                        control.call(ControlCall.set("selfshrink_interval", "12"), Set.of(4), TIMEOUT);
                assertEquals(
                        List.of("node 4: selfshrink_interval = 12"),
                        set.stream().map(ControlAnswer::line).toList());
                assertEquals(12, k.get(Knob.SELFSHRINK_INTERVAL));
                assertEquals(
                        "node 4: refused: selfshrink_interval: 0 is out of range [1, 3600]",
                        control.call(ControlCall.set("selfshrink_interval", "0"), Set.of(4), TIMEOUT)
                                .get(0)
                                .line());
                List<ControlAnswer> all = control.call(ControlCall.get("remote_pers_pages"), null, TIMEOUT);
                assertEquals(
                        List.of("node 1: remote_pers_pages = 0", "node 4: remote_pers_pages = 77"),
                        all.stream().map(ControlAnswer::line).toList());
            }
        }

        @Test
        void shouldAnswerForANodeThatIsNotInTheCluster() throws ClusterException {
            ClusterMember lender = node(1, new NodeRole(64L << 20, true));
            try (ClusterControl control = client(lender)) {
                List<ControlAnswer> answers =
                        control.call(ControlCall.get("selfshrink_interval"), Set.of(1, 7), TIMEOUT);
                assertEquals("node 1: selfshrink_interval = 5", answers.get(0).line());
                assertEquals(
                        "node 7: refused: no such node in the cluster (nodes: [1])",
                        answers.get(1).line());
            }
        }

        @Test
        void shouldWorkInAClusterOfNodesThatLendNothing() throws ClusterException {
            ClusterMember first = node(1, new NodeRole(0, true));
            node(2, new NodeRole(0, true));
            try (ClusterControl control = client(first)) {
                List<ControlAnswer> answers = control.call(ControlCall.set("frontswap_inertia", "7"), null, TIMEOUT);
                assertTrue(answers.stream().allMatch(ControlAnswer::ok), answers.toString());
                assertEquals(7, knobs.get(2).get(Knob.FRONTSWAP_INERTIA));
                List<NodeInfo> nodes = control.nodes();
                assertEquals(2, nodes.size());
                assertEquals(NodeRole.LITE_LABEL, nodes.get(0).role());
                assertTrue(nodes.get(0).stats().isEmpty(), "no data member: no stats map");
            }
        }

        @Test
        void shouldRefuseForAMemberWithoutADaemon() throws ClusterException {
            ClusterSettings settings =
                    new ClusterSettings(clusterName, 4, "127.0.0.1", BASE_PORT, List.of("127.0.0.1"), false);
            ClusterMember bare = ClusterMember.join(settings);
            members.add(bare);
            assertEquals(
                    "node 4: refused: this member has no ramswap daemon's knobs",
                    ClusterControl.over(bare.hazelcast())
                            .call(ControlCall.get("selfshrink_interval"), null, TIMEOUT)
                            .get(0)
                            .line());
        }
    }

    @Nested
    class ListingNodes {

        @Test
        void shouldListEveryMemberWithRoleQuotaAndPublishedCounters() throws ClusterException {
            ClusterMember server = node(1, new NodeRole(256L << 20, false));
            ClusterMember both = node(2, new NodeRole(128L << 20, true));
            ClusterMember borrower = node(3, new NodeRole(0, true));
            counters.get(1).set(Counter.FOREIGN_PERS_BYTES, 4096);
            counters.get(1).set(Counter.LEND_QUOTA_BYTES, 256L << 20);
            counters.get(3).set(Counter.REMOTE_PERS_PAGES, 1);
            try (Agents agents = new Agents()) {
                for (int n = 1; n <= 3; n++) {
                    ClusterMember m = List.of(server, both, borrower).get(n - 1);
                    agents.start(
                            new StatsPublisher(m, counters.get(n)::snapshot, Duration.ofMillis(100)),
                            Duration.ofMillis(10));
                }
                TestCluster.await(
                        "three stats entries",
                        () -> server.hazelcast().getMap(StatsPublisher.MAP_NAME).size() == 3);
                try (ClusterControl control = client(borrower)) {
                    List<NodeInfo> nodes = control.nodes();
                    assertEquals(
                            List.of(1, 2, 3), nodes.stream().map(NodeInfo::node).toList());
                    assertEquals(
                            List.of("lends", "lends+borrows", "borrows (lite)"),
                            nodes.stream().map(NodeInfo::role).toList());
                    assertEquals(
                            List.of(server.roleLabel(), both.roleLabel(), borrower.roleLabel()),
                            nodes.stream().map(NodeInfo::role).toList(),
                            "each node names itself as nodes names it");
                    assertEquals(
                            List.of(256L << 20, 128L << 20, 0L),
                            nodes.stream().map(NodeInfo::lendBytes).toList());
                    assertEquals(address(server), nodes.get(0).address());
                    assertEquals(4096, nodes.get(0).stat("foreign_pers_bytes"));
                    assertEquals(1, nodes.get(2).stat("remote_pers_pages"));
                    assertEquals(Counter.values().length, nodes.get(1).stats().size(), "every counter is published");
                }
            }
        }

        @Test
        void shouldShowAMemberWithoutARoleAsHazelcastSeesIt() throws ClusterException {
            ClusterSettings settings =
                    new ClusterSettings(clusterName, 9, "127.0.0.1", BASE_PORT, List.of("127.0.0.1"), false);
            ClusterMember bare = ClusterMember.join(settings);
            members.add(bare);
            List<NodeInfo> nodes = ClusterControl.over(bare.hazelcast()).nodes();
            assertEquals("data", nodes.get(0).role());
            assertEquals(-1, nodes.get(0).lendBytes());
            assertEquals(-1, nodes.get(0).stat("remote_pers_pages"));
        }

        @Test
        void shouldGiveUpWithinItsBoundWhenNoMemberAnswers() {
            long t0 = System.nanoTime();
            ClusterException e = assertThrows(
                    ClusterException.class,
                    () -> ClusterControl.connect(clusterName, "127.0.0.1:6699", Duration.ofSeconds(2)));
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            assertTrue(seconds < 10, "took " + seconds + " s");
            assertTrue(
                    e.getMessage()
                            .startsWith("no member of cluster \"" + clusterName + "\" answered at 127.0.0.1:6699"),
                    e.getMessage());
        }
    }

    @Nested
    class StatsWithoutDataMembers {

        @Test
        void shouldSkipPublishingQuietlyWhenNoMemberOwnsPartitions() throws ClusterException {
            ClusterMember lone = node(1, new NodeRole(0, true));
            StatsPublisher publisher = new StatsPublisher(lone, counters.get(1)::snapshot, Duration.ofMillis(50));
            try (Agents agents = new Agents()) {
                agents.start(publisher, Duration.ofMillis(10));
                TestCluster.await("ten rounds of the publisher", () -> publisher.ticks() >= 10);
            }
            assertEquals(0, publisher.errorCount());
            assertEquals(0, publisher.publishedCount());
        }

        @Test
        void shouldStartPublishingOnceALenderJoins() throws ClusterException {
            ClusterMember borrower = node(1, new NodeRole(0, true));
            StatsPublisher publisher = new StatsPublisher(borrower, counters.get(1)::snapshot, Duration.ofMillis(50));
            try (Agents agents = new Agents()) {
                agents.start(publisher, Duration.ofMillis(10));
                node(2, new NodeRole(64L << 20, false));
                TestCluster.await("a snapshot", () -> publisher.publishedCount() >= 1);
            }
            assertEquals(0, publisher.errorCount());
        }
    }

    @Test
    void shouldReadTheFlatJsonTheStatsPublisherWrites() {
        Map<String, Long> in = new LinkedHashMap<>();
        in.put("a", 1L);
        in.put("b\"q", -5L);
        assertEquals(in, ClusterControl.parseFlatJson(StatsPublisher.toJson(in)));
        assertNull(ClusterControl.parseFlatJson("{}").get("a"));
    }
}
