package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.hazelcast.client.HazelcastClient;
import com.hazelcast.client.config.ClientConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastJsonValue;
import com.hazelcast.map.IMap;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;
import ramswap.cli.Sizes;

/**
 * What {@code status} and {@code nodes} print, line by line, for every role, against real daemons:
 * a node alone (a lite member), a lender that only lends (node 1), one that lends and borrows
 * (node 2), a borrower connected as a client (node 3) and one that is a lite member (node 4).
 * Each line is a golden line whose variable parts are either masked ({@code <size>}, {@code <when>})
 * or filled from the node's own counters, status file and knobs ({@code {name}}, {@code {h:name}}
 * for a size), so that a figure printed must be the figure the daemon publishes.
 *
 * <p>No workload swaps: the swap areas (one loop device each, priority 0, below anyone's) stay empty, and the client's
 * pages are written straight into its swap file, which no swap area uses ({@code --no-swapon}).
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class StatusIT {

    private static final Duration CLI = Duration.ofSeconds(60);
    private static final int PAGES = 256;
    private static final Map<String, String> MASKS = Map.of(
            "<when>", "\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d \\(\\d+ (s|min) ago\\)",
            "<size>", "\\d+(\\.\\d)? (B|KiB|MiB|GiB)",
            "<n>", "\\d+",
            "<any>", ".+");

    private final String tag = Host.tag("st");
    private final int basePort = 31000 + ThreadLocalRandom.current().nextInt(300) * 10;
    private Node alone;
    private Node lender;
    private Node both;
    private Node client;
    private Node lite;

    @BeforeAll
    void up() {
        System.out.println("/proc/swaps before:\n" + Host.procSwaps());
        // two at once, then the two members that join the lender at once: each up waits for its member, and a batch
        // that fails takes down what it started. The client last: started beside a joining lender, it saw the
        // partitions move under its first pages and read copies back to repair them, so its fetch counters were not 0
        List<Node> first = Node.upAll(List.of(
                () -> Node.up(
                        tag + "-alone",
                        0,
                        "--size",
                        "64M",
                        "--loops",
                        "1",
                        "--priority",
                        "0",
                        "--port",
                        Integer.toString(basePort)),
                () -> Node.up(tag, 1, "--no-swap", "--lend", "64M", "--port", Integer.toString(basePort + 2))));
        alone = first.get(0);
        lender = first.get(1);
        String join = lender.memberAddress();
        List<Node> joined = Node.upAll(List.of(
                () -> Node.up(
                        tag,
                        2,
                        "--size",
                        "64M",
                        "--loops",
                        "1",
                        "--priority",
                        "0",
                        "--lend",
                        "64M",
                        "--port",
                        Integer.toString(basePort + 4),
                        "--join",
                        join),
                () -> Node.up(
                        tag,
                        4,
                        "--size",
                        "64M",
                        "--loops",
                        "1",
                        "--priority",
                        "0",
                        "--member",
                        "--target",
                        "1,2",
                        "--port",
                        Integer.toString(basePort + 6),
                        "--join",
                        join)));
        both = joined.get(0);
        lite = joined.get(1);
        client = Node.up(tag, 3, "--size", "64M", "--no-swapon", "--target", "1,2", "--join", join);
        client.set("selfshrink_enable", "0"); // the pages stay remote while the test reads its figures
    }

    @AfterAll
    void down() {
        Node.closeInOrder(Arrays.asList(client, lite, both, lender, alone));
        System.out.println("/proc/swaps after:\n" + Host.procSwaps());
    }

    @Test
    @Order(1)
    void shouldShowANodeAloneAsALiteMemberThatHoldsNothing() {
        assertStatus(
                alone,
                "ramswap is up at {mount} (pid {pid}), started <when>",
                "  swap       /dev/loop<n>, 64.0 MiB, priority 0, <size> in use",
                "  role       borrows (lite): lends nothing, holds no one's pages",
                STORED,
                RATIO,
                POOL,
                "  cluster    cluster \"{cluster_name}\", member {member_address}, node 0 (lite), 1 member",
                LOG,
                PROTECTED);
        // no data member, so no stats map: nothing published, nothing measured
        assertNodes(alone, () -> List.of("0 {member_address} borrows (lite) - 0 - - -"));
    }

    @Test
    @Order(2)
    void shouldShowTheClientsPagesOnTheLendersAndNoFetchTimeBeforeAFetch() throws Exception {
        new PageDriver(client.mount.resolve("swapfile"), 3).write(0, PAGES);
        awaitBothCopies(client, PAGES);
        assertEquals(0, client.counter("remote_fetches"), "nothing read yet");
        assertClientStatus("fetch p50 -, p99 -");
        PageDriver.Check read = new PageDriver(client.mount.resolve("swapfile"), 3).verify(0, PAGES);
        assertEquals(new PageDriver.Check(PAGES, 0, 0), read);
        assertTrue(client.counter("remote_fetches") > 0);
        assertClientStatus("fetch p50 {remote_fetch_p50_us} us, p99 {remote_fetch_p99_us} us");
    }

    private static void awaitBothCopies(Node n, long pages) {
        Host.await(
                pages + " pages of node " + n.number + " remote with both copies", Duration.ofSeconds(90), null, () -> {
                    Map<String, Long> c = n.counters();
                    return c.get("remote_pers_pages") == pages
                            && c.get("remote_pages_one_copy") == 0
                            && c.get("remote_pages_to_replace") == 0
                            && c.get("remote_partitions_settled") == 1;
                });
    }

    private void assertClientStatus(String fetch) {
        assertStatus(
                client,
                "ramswap is up at {mount} (pid {pid}), started <when>",
                "  swap       none (--no-swapon: the swap file is served, no swap area uses it)",
                "  role       borrows (client): lends nothing, holds no one's pages",
                STORED,
                RATIO,
                POOL,
                "  cluster    cluster \"{cluster_name}\", node 3 (client), 3 members ({cluster_members})",
                "  targets    1,2 (remotify on)",
                REMOTE + fetch + BROUGHT_HOME,
                COPIES,
                LOG,
                PROTECTED);
    }

    @Test
    @Order(3)
    void shouldShowEachLendersQuotaAndWhatItHolds() {
        assertStatus(
                lender,
                "ramswap is up at {mount} (pid {pid}), started <when>",
                "  swap       none (--no-swap: this node only lends; its 1 MiB swap file is never swap)",
                "  role       lends: quota 64.0 MiB, of which {h:foreign_pers_bytes} hold other nodes' pages now",
                STORED,
                RATIO,
                POOL,
                "  cluster    cluster \"{cluster_name}\", member {member_address}, node 1, 3 members",
                LOG,
                PROTECTED);
        assertStatus(
                both,
                "ramswap is up at {mount} (pid {pid}), started <when>",
                "  swap       /dev/loop<n>, 64.0 MiB, priority 0, <size> in use",
                "  role       lends+borrows: quota 64.0 MiB, of which {h:foreign_pers_bytes} hold other nodes' pages now",
                STORED,
                RATIO,
                POOL,
                "  cluster    cluster \"{cluster_name}\", member {member_address}, node 2, 3 members",
                LOG,
                PROTECTED);
        assertTrue(
                lender.counter("foreign_pers_bytes") > 0 && both.counter("foreign_pers_bytes") > 0,
                "each holds a copy of the client's pages");
    }

    @Test
    @Order(4)
    void shouldShowALiteMemberBorrowerAsOne() {
        // mkswap's header is its one page: it went to the lenders. Node 2 joined beside this node, so
        // the partitions may have moved under that page, and then the repairer read a copy back to
        // give it new ones (a fetch); otherwise it was never read back
        awaitBothCopies(lite, 1);
        String fetch =
                lite.counter("remote_pages_replaced") == 0 ? "fetch p50 -, p99 -" : "fetch p50 <n> us, p99 <n> us";
        assertStatus(
                lite,
                "ramswap is up at {mount} (pid {pid}), started <when>",
                "  swap       /dev/loop<n>, 64.0 MiB, priority 0, <size> in use",
                "  role       borrows (lite): lends nothing, holds no one's pages",
                STORED,
                RATIO,
                POOL,
                "  cluster    cluster \"{cluster_name}\", member {member_address}, node 4 (lite), 3 members",
                "  targets    1,2 (remotify on)",
                REMOTE + fetch + BROUGHT_HOME,
                COPIES,
                LOG,
                PROTECTED);
    }

    @Test
    @Order(5)
    void shouldListEveryNodeWithTheRoleItsStatusNamesAndItsResidentMemory() {
        for (Node from : List.of(lender, client)) {
            assertNodes(from, () -> {
                Map<String, String> l = facts(lender);
                Map<String, String> b = facts(both);
                Map<String, String> m = facts(lite);
                return List.of(
                        "1 " + l.get("member_address") + " lends <size> 64.0 MiB " + l.get("h:foreign_pers_bytes")
                                + " (<n>%) 0 -",
                        "2 " + b.get("member_address") + " lends+borrows <size> 64.0 MiB "
                                + b.get("h:foreign_pers_bytes") + " (<n>%) 0 -",
                        "3 127.0.0.1 borrows (client) <size> 0 0 B " + PAGES + " (<size>) full",
                        "4 " + m.get("member_address") + " borrows (lite) <size> 0 0 B " + m.get("remote_pers_pages")
                                + " (<size>) full");
            });
        }
    }

    /**
     * What Management Center shows: a plain Hazelcast client, connected as it connects (the cluster's name and a
     * member's address), finds each node's entry in the stats map, with what it lends and holds, and what it
     * borrows and has away, as the node itself counts them.
     */
    @Test
    @Order(6)
    void shouldShowEachNodesLendingAndBorrowingToAPlainHazelcastClient() {
        ClientConfig config = new ClientConfig();
        config.setClusterName(facts(lender).get("cluster_name"));
        config.setInstanceName(tag + "-mc");
        config.getNetworkConfig().addAddress(lender.memberAddress());
        config.getConnectionStrategyConfig().getConnectionRetryConfig().setClusterConnectTimeoutMillis(30_000);
        HazelcastInstance mc = HazelcastClient.newHazelcastClient(config);
        try {
            IMap<Integer, HazelcastJsonValue> stats = mc.getMap("ramswap-stats");
            List<String> wrong = new ArrayList<>();
            try {
                Host.await("the stats map shows what each node counts", STATS_SETTLE, null, () -> {
                    wrong.clear();
                    for (Node n : List.of(lender, both, client, lite)) {
                        wrong.addAll(differences(n, stats.get(n.number)));
                    }
                    return wrong.isEmpty();
                });
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + ": " + String.join("; ", wrong), e);
            }
            assertEquals(64L << 20, jsonLong(stats.get(lender.number).getValue(), "lend_quota_bytes"));
            assertTrue(jsonLong(stats.get(lender.number).getValue(), "foreign_pers_bytes") > 0, "holds pages");
            assertEquals(PAGES, jsonLong(stats.get(client.number).getValue(), "remote_pers_pages"));
        } finally {
            mc.shutdown();
        }
    }

    /** How node {@code n}'s stats entry differs from its own counters, in what a lender or a borrower shows. */
    private static List<String> differences(Node n, HazelcastJsonValue entry) {
        List<String> wrong = new ArrayList<>();
        if (entry == null) {
            wrong.add("node " + n.number + " has no entry");
            return wrong;
        }
        Map<String, Long> live = n.counters();
        List<String> names = live.getOrDefault("lend_quota_bytes", 0L) > 0
                ? List.of("lend_quota_bytes", "foreign_pers_bytes")
                : List.of("remote_pers_pages", "remote_pers_zbytes");
        for (String name : names) {
            Long shown = jsonLong(entry.getValue(), name);
            if (!live.get(name).equals(shown)) {
                wrong.add("node " + n.number + " " + name + ": counted " + live.get(name) + ", shown " + shown);
            }
        }
        Long rss = jsonLong(entry.getValue(), "rss_bytes");
        if (rss == null || rss <= 0) {
            wrong.add("node " + n.number + " shows no resident memory: " + entry.getValue());
        }
        return wrong;
    }

    /** The number under {@code name} in a stats entry's flat JSON object, or null. */
    private static Long jsonLong(String json, String name) {
        Matcher m = Pattern.compile("\"" + Pattern.quote(name) + "\"\\s*:\\s*(-?\\d+)")
                .matcher(json);
        return m.find() ? Long.parseLong(m.group(1)) : null;
    }

    // ---------------------------------------------------------------- golden lines

    private static final String STORED =
            "  stored     {stored_pages} pages ({h:stored_bytes}): {pers_zpages} compressed into {h:pers_zbytes},"
                    + " {zero_filled_pages} same-filled, {remote_pers_pages} remote";
    private static final String REMOTE =
            "  remote     {remote_pers_pages} pages ({h:remote_pers_zbytes} compressed) on other nodes,"
                    + " local target {h:local_target_bytes}; ";
    private static final String BROUGHT_HOME =
            "; {repatriated_pages} pages brought home; {remote_pers_pages_unsucc_get} reads failed";
    private static final String COPIES =
            "  copies     2 wanted per page; every remote page has them; {remote_pages_replaced} pages given new"
                    + " copies so far, {remote_reads_second_copy} reads served by a second copy";
    private static final String RATIO =
            "  ratio      {compression_ratio} (original / compressed bytes of pooled pages)";
    private static final String POOL = "  pool       <size> mapped, limit {h:pool_max_bytes}";
    private static final String LOG = "  log        {log}";
    private static final String PROTECTED =
            "  protected  mlock on (RSS <size>, <any>); heap pre-touch on (heap <n> MiB fixed); io_flusher <any>;"
                    + " oom_score_adj <any>; pool reserve {h:pool_reserve_bytes}";

    /** Runs status on {@code n} and matches its output, line for line, to {@code golden}; the figures are read right after. */
    private static void assertStatus(Node n, String... golden) {
        Host.Run r = n.ramswap(CLI, "status");
        assertEquals(0, r.exitCode(), r.output());
        Map<String, String> facts = facts(n);
        assertLines(golden, r.output(), facts, false);
    }

    /**
     * Runs nodes through {@code n} and matches each row; a space in a golden row stands for the columns' padding.
     * {@code nodes} reads the stats map, which each node refreshes every 2 s, so a figure that changed since the
     * last publication is asked again, for at most {@link #STATS_SETTLE}; {@code rows} are made anew from the
     * nodes' own figures each time.
     */
    private static void assertNodes(Node n, Supplier<List<String>> rows) {
        long deadline = System.nanoTime() + STATS_SETTLE.toNanos();
        while (true) {
            List<String> golden = new ArrayList<>(
                    List.of("node address role resident lend lent (used) remote pages (compressed) copies"));
            golden.addAll(rows.get());
            Host.Run r = n.ramswap(CLI, "nodes");
            assertEquals(0, r.exitCode(), r.output());
            String wrong = wrongLines(golden.toArray(String[]::new), r.output(), facts(n), true);
            if (wrong.isEmpty()) {
                return;
            }
            if (System.nanoTime() > deadline) {
                fail(wrong + "\nwhole output:\n" + r.output());
            }
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                throw new AssertionError(e);
            }
        }
    }

    private static final Duration STATS_SETTLE = Duration.ofSeconds(10);

    private static void assertLines(String[] golden, String output, Map<String, String> facts, boolean padded) {
        String wrong = wrongLines(golden, output, facts, padded);
        assertTrue(wrong.isEmpty(), wrong + "\nwhole output:\n" + output);
    }

    /** The lines of {@code output} that do not match {@code golden}, each with what was wanted; empty if all do. */
    private static String wrongLines(String[] golden, String output, Map<String, String> facts, boolean padded) {
        List<String> lines = output.lines().filter(l -> !l.isBlank()).toList();
        List<String> wrong = new ArrayList<>();
        for (int i = 0; i < Math.max(golden.length, lines.size()); i++) {
            String want = i < golden.length ? golden[i] : "(nothing)";
            String got = i < lines.size() ? lines.get(i) : "(nothing)";
            if (i >= golden.length
                    || i >= lines.size()
                    || !pattern(want, facts, padded).matcher(got).matches()) {
                wrong.add("line " + (i + 1) + ":\n  want " + want + "\n  got  " + got);
            }
        }
        return String.join("\n", wrong);
    }

    private static final Pattern HOLE = Pattern.compile("<[a-z]+>|\\{[a-z0-9_:]+\\}");

    private static Pattern pattern(String golden, Map<String, String> facts, boolean padded) {
        StringBuilder regex = new StringBuilder();
        Matcher m = HOLE.matcher(golden);
        int at = 0;
        while (m.find()) {
            regex.append(literal(golden.substring(at, m.start()), padded));
            String hole = m.group();
            if (hole.startsWith("<")) {
                regex.append(MASKS.get(hole));
            } else {
                String v = facts.get(hole.substring(1, hole.length() - 1));
                if (v == null) {
                    throw new AssertionError("no fact " + hole + " for golden line: " + golden);
                }
                regex.append(Pattern.quote(v));
            }
            at = m.end();
        }
        regex.append(literal(golden.substring(at), padded));
        return Pattern.compile(regex.toString());
    }

    private static String literal(String text, boolean padded) {
        if (!padded) {
            return Pattern.quote(text);
        }
        java.util.StringJoiner r = new java.util.StringJoiner(" +");
        for (String word : text.split(" ", -1)) {
            r.add(word.isEmpty() ? "" : Pattern.quote(word));
        }
        return r.toString();
    }

    /** What the node publishes: its counters, status file and knobs by name, and each as a size ("h:name"). */
    private static Map<String, String> facts(Node n) {
        Map<String, String> f = new HashMap<>(Node.status(n.mount));
        for (String knob : List.of("pool_max_bytes", "local_target_bytes")) {
            f.put(
                    knob,
                    Host.read(n.mount.resolve("ramster").resolve(knob).toString())
                            .strip());
        }
        n.counters().forEach((k, v) -> f.put(k, Long.toString(v)));
        f.put("mount", n.mount.toString());
        for (Map.Entry<String, String> e : new ArrayList<>(f.entrySet())) {
            if (e.getValue().matches("-?\\d+")) {
                f.put("h:" + e.getKey(), Sizes.human(Long.parseLong(e.getValue())));
            }
        }
        return f;
    }
}
