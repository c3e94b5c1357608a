package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import ramswap.agent.Agents;

class StatsPublisherIT {

    private static final Duration INTERVAL = Duration.ofMillis(100);

    private static IMap<Integer, HazelcastJsonValue> statsOf(ClusterMember member) {
        return member.hazelcast().getMap(StatsPublisher.MAP_NAME);
    }

    /** A publisher run as the daemon runs it: an agent on a thread of its own. */
    private record Running(StatsPublisher publisher, Agents agents) implements AutoCloseable {
        long publishedCount() {
            return publisher.publishedCount();
        }

        long errorCount() {
            return publisher.errorCount();
        }

        @Override
        public void close() {
            agents.close();
        }
    }

    private static Running run(
            ClusterMember member, java.util.function.Supplier<Map<String, Long>> snapshot, Duration interval) {
        StatsPublisher publisher = new StatsPublisher(member, snapshot, interval);
        Agents agents = new Agents();
        agents.start(publisher, Duration.ofMillis(10));
        return new Running(publisher, agents);
    }

    private static boolean publisherThreadAlive() {
        return Thread.getAllStackTraces().keySet().stream()
                .anyMatch(t -> t.getName().equals(StatsPublisher.THREAD_NAME) && t.isAlive());
    }

    @Nested
    class Publishing {

        @Test
        void shouldMakeStatsReadableAsJsonFromOtherMember() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);
                Map<String, Long> counters = new LinkedHashMap<>();
                counters.put("remote_pers_pages", 42L);
                counters.put("pers_pages_remoted", 7L);

                try (Running publisher = run(first, () -> counters, INTERVAL)) {
                    IMap<Integer, HazelcastJsonValue> seenBySecond = statsOf(second);
                    TestCluster.await("node 1's stats on node 2", () -> seenBySecond.get(1) != null);

                    assertEquals(
                            "{\"pers_pages_remoted\":7,\"remote_pers_pages\":42}",
                            seenBySecond.get(1).getValue());
                    TestCluster.await("the write counted", () -> publisher.publishedCount() >= 1);
                }
            }
        }

        @Test
        void shouldPublishFreshSnapshotEveryInterval() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(3);
                AtomicLong pages = new AtomicLong();

                try (Running publisher = run(member, () -> Map.of("pers_zpages", pages.incrementAndGet()), INTERVAL)) {
                    TestCluster.await("three snapshots", () -> publisher.publishedCount() >= 3);

                    String json = statsOf(member).get(3).getValue();
                    assertTrue(json.matches("\\{\"pers_zpages\":[0-9]+}"), json);
                    assertTrue(Long.parseLong(json.replaceAll("\\D", "")) >= 3, json);
                }
            }
        }

        @Test
        void shouldQueryStatsByCounterName() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(5);

                try (Running publisher = run(member, () -> Map.of("foreign_pers_pages", 12L), INTERVAL)) {
                    TestCluster.await("first snapshot", () -> publisher.publishedCount() >= 1);

                    var hits = statsOf(member)
                            .values(com.hazelcast.query.Predicates.greaterThan("foreign_pers_pages", 10L));
                    assertEquals(1, hits.size());
                }
            }
        }

        @Test
        void shouldRunOnNamedDaemonThread() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);

                try (Running publisher = run(member, Map::of, INTERVAL)) {
                    TestCluster.await("first snapshot", () -> publisher.publishedCount() >= 1);
                    assertTrue(Thread.getAllStackTraces().keySet().stream()
                            .anyMatch(t -> t.getName().equals(StatsPublisher.THREAD_NAME) && t.isDaemon()));
                }
            }
        }

        @Test
        void shouldRefuseNonPositiveInterval() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);

                IllegalArgumentException e = assertThrows(
                        IllegalArgumentException.class, () -> new StatsPublisher(member, Map::of, Duration.ZERO));
                assertEquals("an agent's interval must be positive, got PT0S", e.getMessage());
            }
        }
    }

    @Nested
    class Failures {

        @Test
        void shouldCountFailingSnapshotsAndKeepPublishing() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);
                AtomicLong calls = new AtomicLong();

                try (Running publisher = run(
                        member,
                        () -> {
                            if (calls.incrementAndGet() <= 3) {
                                throw new IllegalStateException("counters not ready");
                            }
                            return Map.of("zero_filled_pages", 1L);
                        },
                        INTERVAL)) {
                    TestCluster.await("a snapshot after the failures", () -> publisher.publishedCount() >= 1);

                    assertEquals(3, publisher.errorCount());
                    assertEquals(
                            "{\"zero_filled_pages\":1}", statsOf(member).get(1).getValue());
                }
            }
        }

        @Test
        void shouldSurviveTheMemberLeavingFirst() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember member = cluster.start(1);
                Running publisher = run(member, Map::of, INTERVAL);
                try {
                    TestCluster.await("first snapshot", () -> publisher.publishedCount() >= 1);

                    member.close();

                    TestCluster.await("a counted failure", () -> publisher.errorCount() >= 1);
                    assertTrue(publisherThreadAlive());
                } finally {
                    publisher.close();
                }
                assertFalse(publisherThreadAlive());
            }
        }
    }

    @Nested
    class Closing {

        @Test
        void shouldStopThreadAndRemoveThisNodesEntry() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);
                Running publisher = run(first, () -> Map.of("compress_poor", 1L), INTERVAL);
                IMap<Integer, HazelcastJsonValue> seenBySecond = statsOf(second);
                TestCluster.await("node 1's stats on node 2", () -> seenBySecond.get(1) != null);

                publisher.close();

                assertFalse(publisherThreadAlive());
                assertNull(seenBySecond.get(1));
                long count = publisher.publishedCount();
                publisher.close();
                assertEquals(count, publisher.publishedCount());
            }
        }

        @Test
        void shouldLeaveOtherNodesEntries() throws ClusterException {
            try (TestCluster cluster = new TestCluster()) {
                ClusterMember first = cluster.start(1);
                ClusterMember second = cluster.start(2);
                try (Running kept = run(second, () -> Map.of("n", 2L), INTERVAL)) {
                    Running closed = run(first, () -> Map.of("n", 1L), INTERVAL);
                    TestCluster.await("both entries", () -> statsOf(first).size() == 2);

                    closed.close();

                    assertEquals("{\"n\":2}", statsOf(first).get(2).getValue());
                    assertEquals(0, kept.errorCount());
                }
            }
        }
    }

    @Nested
    class Json {

        @Test
        void shouldWriteFlatObjectWithSortedNames() {
            Map<String, Long> counters = new LinkedHashMap<>();
            counters.put("b", -1L);
            counters.put("a", Long.MAX_VALUE);

            assertEquals("{\"a\":9223372036854775807,\"b\":-1}", StatsPublisher.toJson(counters));
        }

        @Test
        void shouldWriteEmptyObjectForNoCounters() {
            assertEquals("{}", StatsPublisher.toJson(Map.of()));
        }

        @Test
        void shouldSkipCountersWithoutValue() {
            Map<String, Long> counters = new LinkedHashMap<>();
            counters.put("a", null);
            counters.put("b", 2L);

            assertEquals("{\"b\":2}", StatsPublisher.toJson(counters));
        }

        @Test
        void shouldEscapeQuotesBackslashesAndControlCharactersInNames() {
            assertEquals("{\"a\\\"b\\\\c\\n\\u0001\":1}", StatsPublisher.toJson(Map.of("a\"b\\c\n\u0001", 1L)));
        }

        @Test
        void shouldKeepEntriesAtLeast30SecondsAndThreeIntervals() {
            assertEquals(Duration.ofSeconds(30), StatsPublisher.entryTtl(Duration.ofSeconds(1)));
            assertEquals(Duration.ofSeconds(60), StatsPublisher.entryTtl(Duration.ofSeconds(20)));
        }
    }
}
