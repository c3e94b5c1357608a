package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * RAMster's topologies and the remote tier's faults, with real daemons on this machine. Swap is
 * global, so the borrowers here run with --no-swapon and the test drives their swap files
 * directly with direct I/O ({@link PageDriver}): the same file system, store, remotifier and
 * cluster path as the kernel's swap traffic, without a second swapping workload.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@ResourceLock(value = Locks.CPU, mode = ResourceAccessMode.READ)
class RemoteTopologiesIT {

    private final String run = Host.tag("rt");
    private final int basePort = 25000 + ThreadLocalRandom.current().nextInt(300) * 10;
    /** Every node a test started, closed in reverse order even when the test fails. */
    private final Deque<Node> nodes = new ArrayDeque<>();

    private int nextPort;

    @AfterEach
    void closeNodes() {
        while (!nodes.isEmpty()) {
            nodes.pop().close();
        }
    }

    private Node start(String cluster, int number, String... args) {
        String[] all = new String[args.length + 2];
        System.arraycopy(args, 0, all, 0, args.length);
        all[args.length] = "--port";
        all[args.length + 1] = Integer.toString(basePort + nextPort);
        nextPort += 3;
        Node n = Node.up(cluster, number, all);
        nodes.push(n);
        return n;
    }

    private static PageDriver driver(Node n, long seed) {
        return new PageDriver(n.mount.resolve("swapfile"), seed);
    }

    private static void await(String what, Duration bound, java.util.function.BooleanSupplier condition) {
        long deadline = System.nanoTime() + bound.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("not within " + bound.toSeconds() + " s: " + what);
            }
            sleep(250);
        }
    }

    /** Waits until a counter stops changing for two seconds (bounded), and returns it. */
    private static long settled(LongSupplier counter) {
        long last = counter.getAsLong();
        for (int steady = 0, i = 0; steady < 8 && i < 240; i++) {
            sleep(250);
            long now = counter.getAsLong();
            steady = now == last ? steady + 1 : 0;
            last = now;
        }
        return last;
    }

    private static void assertVerifies(PageDriver d, long first, long count) throws Exception {
        PageDriver.Check c = d.verify(first, count);
        assertEquals(0, c.failedReads(), "reads that failed");
        assertEquals(0, c.mismatches(), "pages that read back wrong");
    }

    @Test
    void shouldKeepServingLocalBlocksWhileTheLenderIsStoppedAndVerifyAllAfter() throws Exception {
        String cluster = run + "-stop";
        Node lender = start(cluster, 1, "--no-swap", "--lend", "256M");
        Node borrower =
                start(cluster, 0, "--size", "256M", "--no-swapon", "--target", "1", "--join", lender.memberAddress());
        borrower.set("remote_timeout_ms", "60000");
        borrower.set("local_target_bytes", Long.toString(512L << 10)); // the test pages compress to about 500 bytes
        PageDriver d = driver(borrower, 11);
        d.write(0, 8192);
        await("most pages remote", Duration.ofSeconds(60), () -> borrower.counter("remote_pers_pages") >= 6000);
        lender.signal("STOP");
        CompletableFuture<PageDriver.Check> remoteReads;
        try {
            long t0 = System.nanoTime();
            remoteReads = CompletableFuture.supplyAsync(() -> {
                try {
                    return d.verify(0, 8192);
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            sleep(1000);
            assertFalse(remoteReads.isDone(), "the reads of remote blocks wait for the stopped lender");
            long l0 = System.nanoTime();
            d.write(200_000 / 4, 1024); // blocks 50000.., far from the others: stored locally
            assertVerifies(d, 200_000 / 4, 1024);
            double localSeconds = (System.nanoTime() - l0) / 1e9;
            System.out.printf(
                    "lender stopped: 1024 local blocks written and read back in %.2f s while remote reads waited%n",
                    localSeconds);
            assertFalse(
                    remoteReads.isDone(), "the remote reads are still waiting: the local ones did not wait for them");
            assertTrue(localSeconds < 20, "local blocks were served while the lender was stopped");
            sleep(Math.max(0, 10_000 - (System.nanoTime() - t0) / 1_000_000));
        } finally {
            lender.signal("CONT");
        }
        PageDriver.Check c = remoteReads.get(120, TimeUnit.SECONDS);
        assertEquals(0, c.failedReads(), "no read failed: the wait was within remote_timeout_ms");
        assertEquals(0, c.mismatches());
        assertVerifies(d, 0, 8192);
        assertEquals(0, borrower.counter("remote_pers_pages_unsucc_get"));
    }

    @Test
    void shouldFallBackToTheNextTargetWhenTheFirstIsAtItsQuota() throws Exception {
        String cluster = run + "-quota";
        Node big = start(cluster, 1, "--no-swap", "--lend", "256M");
        Node small = start(cluster, 2, "--no-swap", "--lend", "16M", "--join", big.memberAddress());
        Node borrower =
                start(cluster, 0, "--size", "512M", "--no-swapon", "--target", "2,1", "--join", big.memberAddress());
        PageDriver d = driver(borrower, 12);
        d.write(0, 40_000);
        long remote = settled(() -> borrower.counter("remote_pers_pages"));
        long onSmall = small.counter("foreign_pers_pages");
        long onBig = big.counter("foreign_pers_pages");
        long smallBytes = small.counter("foreign_pers_bytes");
        System.out.printf(
                "40000 pages: %d remote; node 2 (quota 16 MiB) holds %d pages in %d bytes, refused %d; node 1 holds %d;"
                        + " borrower kept local for full targets %d%n",
                remote,
                onSmall,
                smallBytes,
                small.counter("lend_refused_pages"),
                onBig,
                borrower.counter("pers_pages_local_targets_full"));
        assertTrue(onSmall > 0 && onBig > 0, "the first target took pages up to its quota, the second the rest");
        assertTrue(smallBytes <= (16L << 20) + (1L << 20), "the small lender stayed within its quota: " + smallBytes);
        assertTrue(small.counter("lend_refused_pages") > 0, "the small lender refused puts past its quota");
        long oneCopy = borrower.counter("remote_pages_one_copy");
        assertEquals(
                2 * remote - oneCopy,
                onSmall + onBig,
                "every remote page is on the two lenders, in the copies it has: " + oneCopy + " of " + remote
                        + " with one");
        assertVerifies(d, 0, 40_000);
    }

    @Test
    void shouldFreeTheOrphansOfACrashedBorrowerWhenItComesBackAndAfterTheGracePeriod() throws Exception {
        String cluster = run + "-orphan";
        Node lender = start(cluster, 1, "--no-swap", "--lend", "256M");
        String join = lender.memberAddress();
        Node borrower = start(cluster, 0, "--size", "128M", "--no-swapon", "--target", "1", "--join", join);
        driver(borrower, 13).write(0, 4096);
        await("pages on the lender", Duration.ofSeconds(60), () -> lender.counter("foreign_pers_pages") >= 3000);
        long held = settled(() -> lender.counter("foreign_pers_pages")); // every page sent
        borrower.signal("KILL");
        await("the borrower is dead", Duration.ofSeconds(20), () -> !borrower.alive());
        sleep(3000);
        assertEquals(
                held,
                lender.counter("foreign_pers_pages"),
                "within the grace period the lender keeps a lost node's pages");
        nodes.remove(borrower);
        Node again = start(cluster, 0, "--size", "128M", "--no-swapon", "--target", "1", "--join", join);
        await(
                "the pages of the earlier life freed at the restart",
                Duration.ofSeconds(20),
                () -> lender.counter("foreign_pers_pages") == 0);
        assertTrue(
                lender.counter("orphan_pages_freed") >= held,
                "counted on the lender: " + lender.counter("orphan_pages_freed"));
        System.out.printf("orphans: %d pages of the crashed borrower freed at its restart%n", held);

        lender.set("orphan_grace_seconds", "3");
        PageDriver d = driver(again, 14);
        d.write(0, 2048);
        await("pages on the lender", Duration.ofSeconds(60), () -> lender.counter("foreign_pers_pages") >= 1500);
        again.signal("KILL");
        await("the borrower is dead", Duration.ofSeconds(20), () -> !again.alive());
        long t0 = System.nanoTime();
        // the borrower is a client: it counts as present until its lease lapses (30 s after its last renewal), then the
        // grace runs
        await(
                "the pages of a node gone past the grace period freed",
                Duration.ofSeconds(75),
                () -> lender.counter("foreign_pers_pages") == 0);
        System.out.printf(
                "orphans: a node gone for good had its pages freed %.1f s after it died (lease 30 s, grace 3 s)%n",
                (System.nanoTime() - t0) / 1e9);
        // the dead daemon's mount: the next up at this directory would clean it; here down --abort does
        Host.ramswap(Duration.ofMinutes(2), "down", "--abort", "--mount", again.mount.toString());
    }

    @Test
    void shouldServeTwoBorrowersFromOneRamServer() throws Exception {
        String cluster = run + "-server";
        Node server = start(cluster, 0, "--no-swap", "--lend", "256M");
        Node b1 = start(cluster, 1, "--size", "128M", "--no-swapon", "--target", "0", "--join", server.memberAddress());
        Node b2 = start(cluster, 2, "--size", "128M", "--no-swapon", "--target", "0", "--join", server.memberAddress());
        PageDriver d1 = driver(b1, 21);
        PageDriver d2 = driver(b2, 22);
        d1.write(0, 8192);
        d2.write(0, 8192);
        long r1 = settled(() -> b1.counter("remote_pers_pages"));
        long r2 = settled(() -> b2.counter("remote_pers_pages"));
        long held = settled(() -> server.counter("foreign_pers_pages"));
        System.out.printf("RAM server: node 0 holds %d pages: %d of node 1 and %d of node 2%n", held, r1, r2);
        assertTrue(r1 >= 6000 && r2 >= 6000, "both borrowers' pages went to the server");
        assertEquals(r1 + r2, held);
        assertVerifies(d1, 0, 8192);
        assertVerifies(d2, 0, 8192);
    }

    @Test
    void shouldLetTwoNodesLendToAndBorrowFromEachOther() throws Exception {
        String cluster = run + "-sym";
        Node n1 = start(cluster, 1, "--size", "128M", "--no-swapon", "--lend", "128M", "--target", "2");
        Node n2 = start(
                cluster,
                2,
                "--size",
                "128M",
                "--no-swapon",
                "--lend",
                "128M",
                "--target",
                "1",
                "--join",
                n1.memberAddress());
        PageDriver d1 = driver(n1, 31);
        PageDriver d2 = driver(n2, 32);
        d1.write(0, 8192);
        d2.write(0, 8192);
        long r1 = settled(() -> n1.counter("remote_pers_pages"));
        long r2 = settled(() -> n2.counter("remote_pers_pages"));
        System.out.printf(
                "symmetric: node 1 keeps %d pages on node 2 (which holds %d), node 2 keeps %d on node 1 (which holds %d);"
                        + " re-placed %d and %d%n",
                r1,
                n2.counter("foreign_pers_pages"),
                r2,
                n1.counter("foreign_pers_pages"),
                n1.counter("remote_pages_replaced"),
                n2.counter("remote_pages_replaced"));
        assertTrue(r1 >= 6000 && r2 >= 6000, "each node's pages went to the other");
        assertEquals(r1, n2.counter("foreign_pers_pages"), "node 1's pages are on node 2, none on its own member");
        assertEquals(r2, n1.counter("foreign_pers_pages"));
        assertVerifies(d1, 0, 8192);
        assertVerifies(d2, 0, 8192);
    }

    /**
     * A lender leaves gracefully: the borrower moves its pages off the leaving lender. Its pages
     * must not end on its own member (it lends too), nor keep two copies on one member: they get
     * new copies on the remaining target (one each, the only lender left), and all of them verify.
     */
    @Test
    void shouldMoveItsPagesOffItsOwnMemberAfterALenderLeaves() throws Exception {
        String cluster = run + "-move";
        Node borrower = start(cluster, 1, "--size", "128M", "--no-swapon", "--lend", "128M", "--target", "3,2");
        Node two = start(cluster, 2, "--no-swap", "--lend", "128M", "--join", borrower.memberAddress());
        Node three = start(cluster, 3, "--no-swap", "--lend", "128M", "--join", borrower.memberAddress());
        PageDriver d = driver(borrower, 41);
        d.write(0, 8192);
        long remote = settled(() -> borrower.counter("remote_pers_pages"));
        assertTrue(three.counter("foreign_pers_pages") >= 6000, "the first target holds the pages");
        String own = borrower.memberAddress();
        nodes.remove(three);
        three.close(); // ramswap down: the lender's pages move off it first
        try (RemoteSwapIT.Client client = new RemoteSwapIT.Client(cluster, two.memberAddress())) {
            await(
                    "no page of node 1 on node 1's own member",
                    Duration.ofSeconds(90),
                    () -> ownPages(client, own) == 0
                            && borrower.counter("remote_pers_pages") == two.counter("foreign_pers_pages"));
        }
        System.out.printf(
                "a lender left: node 1 re-placed %d of its %d remote pages; node 2 now holds %d%n",
                borrower.counter("remote_pages_replaced"), remote, two.counter("foreign_pers_pages"));
        assertTrue(borrower.counter("remote_pages_replaced") > 0, "pages given new copies after the lender left");
        assertVerifies(d, 0, 8192);
    }

    /** Copies of node 1's pages on the member at {@code address}, seen through a client. */
    private static long ownPages(RemoteSwapIT.Client client, String address) {
        return LentCopies.of(client, 1).values().stream()
                .filter(address::equals)
                .count();
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }
}
