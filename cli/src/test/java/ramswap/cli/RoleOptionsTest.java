package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import ramswap.cluster.ControlAnswer;
import ramswap.cluster.NodeInfo;
import ramswap.sys.Posix;

/**
 * --lend, --no-swap, --target and the commands that steer the cluster, checked on parsed options
 * and configurations: no test here starts a daemon or joins a cluster.
 */
class RoleOptionsTest {

    private static final String MOUNT = "/nonexistent/ramswap-role-test";

    /** up's options parsed as picocli parses them, and the configuration it would start with; nothing is started. */
    private static DaemonConfig up(String... args) throws RamswapException {
        UpCommand up = new UpCommand();
        new CommandLine(up).parseArgs(args);
        return up.config();
    }

    private record Outcome(int exitCode, String out, String err) {}

    private static Outcome execute(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Outcome(code, out.toString(), err.toString());
    }

    @Nested
    class Metrics {

        @Test
        void shouldPublishNothingUnlessAskedAndTakeADirectoryAPortAndJmx(@TempDir Path dir) throws RamswapException {
            assertEquals(
                    MetricsSettings.NONE, up("--size", "64M", "--mount", MOUNT).metrics());
            MetricsSettings m = up(
                            "--size",
                            "64M",
                            "--mount",
                            MOUNT,
                            "--metrics-dir",
                            dir.toString(),
                            "--metrics-port",
                            "9464",
                            "--metrics-jmx")
                    .metrics();
            assertEquals(new MetricsSettings(dir, 9464, true), m);
            assertEquals("ramswap-a_b-node3.prom", m.fileName("a/b", 3));
        }

        @Test
        void shouldRefuseAPortAmongTheClustersPorts() throws RamswapException {
            for (String port : new String[] {"5701", "5702", "5800"}) {
                RamswapException e = assertThrows(
                        RamswapException.class, () -> up("--mount", MOUNT, "--port", "5701", "--metrics-port", port));
                assertTrue(
                        e.getMessage()
                                .startsWith("--metrics-port " + port
                                        + " is among the cluster's ports (--port 5701 and the 99 after it"),
                        e.getMessage());
            }
            assertEquals(
                    5801,
                    up("--mount", MOUNT, "--port", "5701", "--metrics-port", "5801")
                            .metrics()
                            .port());
        }

        @Test
        void shouldRefuseAMissingDirectoryAndAPortOutOfRange(@TempDir Path dir) {
            RamswapException missing = assertThrows(
                    RamswapException.class,
                    () -> up(
                            "--mount",
                            MOUNT,
                            "--metrics-dir",
                            dir.resolve("none").toString()));
            assertTrue(missing.getMessage().contains("does not exist"), missing.getMessage());
            for (String port : new String[] {"0", "65536", "-1"}) {
                RamswapException e =
                        assertThrows(RamswapException.class, () -> up("--mount", MOUNT, "--metrics-port", port));
                assertEquals("--metrics-port must be between 1 and 65535, got " + port, e.getMessage(), e.getMessage());
            }
        }
    }

    @Nested
    class Lending {

        @Test
        void shouldJoinAsALiteMemberThatBorrowsByDefault() throws RamswapException {
            DaemonConfig c = up("--size", "64M", "--mount", MOUNT);
            assertEquals(0, c.lendBytes());
            assertTrue(c.cluster().liteMember());
            assertEquals("borrows", c.role().name());
            assertEquals(
                    DaemonConfig.BASE_HEAP_BYTES + (64L << 20) / 4096 * ramswap.store.BlockTable.BYTES_PER_BLOCK,
                    c.heapBytes());
        }

        @Test
        void shouldKeepTheLendQuotaOffTheHeap() throws RamswapException {
            DaemonConfig borrower = up("--size", "64M", "--mount", MOUNT);
            DaemonConfig lender = up("--size", "64M", "--lend", "600M", "--mount", MOUNT);
            assertFalse(lender.cluster().liteMember());
            assertEquals("lends+borrows", lender.role().name());
            assertEquals(
                    16L << 20,
                    lender.heapBytes() - borrower.heapBytes(),
                    "the pages and their index are off the heap; the heap adds the calls' buffers");
            List<String> jvm = UpCommand.jvmOptions(lender);
            long mib = (lender.heapBytes() + (1 << 20) - 1) >> 20;
            assertTrue(jvm.contains("-Xms" + mib + "m") && jvm.contains("-Xmx" + mib + "m"), jvm.toString());
            assertTrue(jvm.contains("-XX:+AlwaysPreTouch"), "a lender's heap is touched in full at start, then locked");
        }

        @Test
        void shouldCommitCodeMemoryAndGiveArenasToEachThreadOnlyOnANodeWithSwap() throws RamswapException {
            DaemonConfig swapping = up("--size", "64M", "--lend", "600M", "--mount", MOUNT);
            DaemonConfig lender = up("--no-swap", "--lend", "600M", "--mount", MOUNT);
            assertTrue(
                    UpCommand.jvmOptions(swapping)
                            .contains("-XX:InitialCodeCacheSize=" + UpCommand.CODE_CACHE_MIB + "m"),
                    "a node that serves swap commits its code memory at start");
            assertTrue(
                    UpCommand.jvmOptions(lender).stream().noneMatch(o -> o.startsWith("-XX:InitialCodeCacheSize")),
                    "a node without swap commits it as its code grows");
            assertTrue(UpCommand.jvmOptions(lender)
                    .contains("-XX:ReservedCodeCacheSize=" + UpCommand.CODE_CACHE_MIB + "m"));
            assertEquals(
                    Integer.toString(UpCommand.MALLOC_ARENAS),
                    UpCommand.mallocEnvironment(swapping).get("MALLOC_ARENA_MAX"));
            assertEquals(
                    Integer.toString(UpCommand.MALLOC_ARENAS_WITHOUT_SWAP),
                    UpCommand.mallocEnvironment(lender).get("MALLOC_ARENA_MAX"));
            assertEquals(
                    UpCommand.mallocEnvironment(swapping).get("MALLOC_TRIM_THRESHOLD_"),
                    UpCommand.mallocEnvironment(lender).get("MALLOC_TRIM_THRESHOLD_"));
        }

        @Test
        void shouldAddTheSameHeapForAnyQuota() {
            assertEquals(0, DaemonConfig.lendHeapBytes(0));
            assertEquals(16L << 20, DaemonConfig.lendHeapBytes(4096));
            assertEquals(16L << 20, DaemonConfig.lendHeapBytes(3L << 30), "whatever the quota");
        }

        @Test
        void shouldRefuseANegativeOrMalformedLend() {
            RamswapException bad =
                    assertThrows(RamswapException.class, () -> up("--size", "64M", "--lend", "lots", "--mount", MOUNT));
            assertEquals(RamswapException.USAGE, bad.exitCode());
            assertTrue(bad.getMessage().startsWith("--lend: 'lots' is not a size"), bad.getMessage());
            assertEquals(
                    RamswapException.USAGE,
                    assertThrows(RamswapException.class, () -> up("--size", "64M", "--lend", "-1G", "--mount", MOUNT))
                            .exitCode());
        }

        @Test
        void shouldRefuseAQuotaTheMachineCannotHoldWithTheFigures() throws RamswapException {
            DaemonConfig c = up("--size", "64M", "--lend", "4G", "--mount", MOUNT);
            String refusal = c.lendRefusal(4L << 30, 3L << 30);
            assertTrue(refusal.startsWith("--lend 4.0 GiB does not fit: the daemon would lock "), refusal);
            assertTrue(refusal.contains("(the quota's pages off the heap, heap "), refusal);
            assertTrue(
                    refusal.contains("but this machine has 3.0 GiB available of 4.0 GiB in all; at most --lend "),
                    refusal);
            long largest = Long.parseLong(refusal.replaceAll(".*at most --lend ([0-9]+)M fits now", "$1"));
            DaemonConfig fits = up("--size", "64M", "--lend", largest + "M", "--mount", MOUNT);
            assertNull(fits.lendRefusal(4L << 30, 3L << 30), "the figure it names fits");
            assertNull(
                    up("--size", "64M", "--mount", MOUNT).lendRefusal(1L << 30, 0),
                    "lending nothing is never refused here");
        }
    }

    @Nested
    class NoSwap {

        @Test
        void shouldKeepOnlyAMinimalSwapFileAndNoReserve() throws RamswapException {
            DaemonConfig c = up("--no-swap", "--lend", "1G", "--mount", MOUNT);
            assertFalse(c.swap());
            assertEquals(DaemonConfig.MIN_SIZE, c.sizeBytes());
            assertEquals(1, c.loops());
            assertEquals(0, c.poolReserveBytes());
            assertEquals("lends", c.role().name());
        }

        @Test
        void shouldRefuseNoSwapWithoutLend() {
            RamswapException e = assertThrows(RamswapException.class, () -> up("--no-swap", "--mount", MOUNT));
            assertEquals(RamswapException.USAGE, e.exitCode());
            assertTrue(e.getMessage().startsWith("--no-swap needs --lend SIZE"), e.getMessage());
        }

        @Test
        void shouldRefuseSwapOptionsWithNoSwap() {
            RamswapException e = assertThrows(
                    RamswapException.class, () -> up("--no-swap", "--lend", "1G", "--size", "1G", "--mount", MOUNT));
            assertEquals(RamswapException.USAGE, e.exitCode());
            assertTrue(e.getMessage().contains("--size, --pool-max and --pool-reserve do not apply"), e.getMessage());
        }
    }

    @Nested
    class Targets {

        @Test
        void shouldTakeATargetList() throws RamswapException {
            assertEquals(
                    "2,1",
                    up("--size", "64M", "--node", "3", "--target", "2,1", "--mount", MOUNT)
                            .targets());
            assertNull(up("--size", "64M", "--mount", MOUNT).targets());
        }

        @Test
        void shouldRefuseABadListThisNodeOrATargetWithoutSwap() {
            RamswapException twice = assertThrows(
                    RamswapException.class, () -> up("--size", "64M", "--target", "2,2", "--mount", MOUNT));
            assertEquals(RamswapException.USAGE, twice.exitCode());
            assertTrue(twice.getMessage().contains("node 2 is listed twice"), twice.getMessage());
            RamswapException self = assertThrows(
                    RamswapException.class,
                    () -> up("--size", "64M", "--node", "1", "--target", "2,1", "--mount", MOUNT));
            assertTrue(self.getMessage().contains("names this node (1)"), self.getMessage());
            RamswapException noSwap = assertThrows(
                    RamswapException.class, () -> up("--no-swap", "--lend", "1G", "--target", "2", "--mount", MOUNT));
            assertTrue(noSwap.getMessage().contains("no pages to send"), noSwap.getMessage());
        }
    }

    @Nested
    class SteeringTheCluster {

        @Test
        void shouldRefuseNodeAndAllTogether() {
            Outcome o = execute("get", "--all", "--node", "1", "selfshrink_interval", "--mount", MOUNT);
            assertEquals(RamswapException.USAGE, o.exitCode(), o.err());
            assertTrue(o.err().contains("give --node or --all, not both"), o.err());
        }

        @Test
        void shouldSayTheDaemonIsNotRunningInsteadOfWaiting() {
            for (String[] args : List.of(
                    new String[] {"nodes", "--mount", MOUNT},
                    new String[] {"get", "--node", "1", "selfshrink_interval", "--mount", MOUNT},
                    new String[] {"set", "--all", "selfshrink_interval", "10", "--mount", MOUNT})) {
                if (args[0].equals("set") && Posix.load().geteuid() != 0) {
                    continue; // set needs root: a user is told that first, which does not wait either
                }
                Outcome o = execute(args);
                assertEquals(RamswapException.NOT_RUNNING, o.exitCode(), String.join(" ", args) + ": " + o.err());
                assertTrue(o.err().contains("ramswap is not running at " + MOUNT), o.err());
            }
        }

        @Test
        void shouldRefuseAnUnknownKnobBeforeReachingTheCluster() {
            Outcome o = execute("set", "--all", "no_such_knob", "1", "--mount", MOUNT);
            assertEquals(RamswapException.USAGE, o.exitCode(), o.err());
        }

        @Test
        void shouldPrintOneLinePerNodeAndFailIfAnyRefused() {
            StringWriter out = new StringWriter();
            StringWriter err = new StringWriter();
            int code = ClusterReach.print(
                    List.of(
                            new ControlAnswer(1, "selfshrink_interval", "10", null),
                            new ControlAnswer(2, "selfshrink_interval", null, "no answer within 5000 ms")),
                    new PrintWriter(out, true),
                    new PrintWriter(err, true));
            assertEquals(RamswapException.FAILED, code);
            assertEquals("node 1: selfshrink_interval = 10\n", out.toString());
            assertEquals("node 2: refused: no answer within 5000 ms\n", err.toString());
            assertEquals(
                    0,
                    ClusterReach.print(
                            List.of(new ControlAnswer(1, "x", "1", null)),
                            new PrintWriter(new StringWriter()),
                            new PrintWriter(new StringWriter())));
        }

        @Test
        void shouldTabulateNodesWithTheirRoleQuotaAndUse() {
            List<NodeInfo> nodes = List.of(
                    new NodeInfo(
                            1,
                            "10.0.0.1:5701",
                            "lends",
                            1L << 30,
                            Map.of("foreign_pers_bytes", 256L << 20, "remote_pers_pages", 0L, "rss_bytes", 300L << 20)),
                    new NodeInfo(
                            2,
                            "10.0.0.2:5701",
                            "borrows",
                            0,
                            Map.of(
                                    "foreign_pers_bytes",
                                    0L,
                                    "remote_pers_pages",
                                    5000L,
                                    "remote_pers_zbytes",
                                    20L << 20)),
                    new NodeInfo(3, "10.0.0.3:5701", "borrows", 0, Map.of()),
                    new NodeInfo(5, "10.0.0.5", "borrows (client)", 0, Map.of("remote_pers_pages", 0L)),
                    new NodeInfo(
                            4,
                            "10.0.0.4:5701",
                            "borrows",
                            0,
                            Map.of(
                                    "foreign_pers_bytes",
                                    0L,
                                    "remote_pers_pages",
                                    700L,
                                    "remote_pages_one_copy",
                                    20L,
                                    "remote_pages_to_replace",
                                    300L)));
            List<String> lines = NodesCommand.table(nodes);
            assertEquals(
                    "node  address               role             resident   lend       lent (used)        remote pages (compressed)  copies",
                    lines.get(0));
            assertEquals(
                    "1     10.0.0.1:5701         lends            300.0 MiB  1.0 GiB    256.0 MiB (25%)    0                          -",
                    lines.get(1));
            assertEquals(
                    "2     10.0.0.2:5701         borrows          -          0          0 B                5000 (20.0 MiB)            full",
                    lines.get(2));
            assertEquals(
                    "3     10.0.0.3:5701         borrows          -          0          -                  -                          -",
                    lines.get(3));
            assertEquals(
                    "4     10.0.0.4:5701         borrows          -          0          0 B                700                        DEGRADED: 20 with one copy, 300 to repair",
                    lines.get(5));
            assertEquals(
                    "5     10.0.0.5              borrows (client) -          0          -                  0                          -",
                    lines.get(4));
            assertEquals(
                    "[{\"node\": 3, \"address\": \"10.0.0.3:5701\", \"role\": \"borrows\", \"lend_bytes\": 0, \"stats\": {}}]",
                    NodesCommand.json(nodes.subList(2, 3)));
        }
    }
}
