package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * A borrower cut off from every lender (its link down, in network namespaces of the test's own):
 * it keeps serving its local pages and stores new ones locally, and a read of a remote page waits
 * only up to remote_timeout_ms, then fails (EIO), counted. Once the link is back and the borrower
 * (a client: it lends nothing) has reconnected, every page verifies: the lenders kept its pages. Driven
 * through the swap file (no swapon), so that the EIO kills no process.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class CutOffIT {

    private static final long PAGES = 8192;
    private static final long LOCAL_FIRST = 50_000;
    private static final long LOCAL_PAGES = 1024;

    @Test
    void shouldServeLocalPagesAndBoundRemoteReadsWhileCutOffFromEveryLender() throws Exception {
        String tag = Host.tag("co");
        int port = 26000 + ThreadLocalRandom.current().nextInt(400) * 10;
        System.out.println("/proc/swaps before:\n" + Host.procSwaps());
        try (NetNs net = new NetNs()) {
            for (int n = 0; n <= 2; n++) {
                net.add(n);
            }
            Node l1 = null;
            Node l2 = null;
            Node b = null;
            try {
                l1 = Node.upIn(net, tag, 1, "--no-swap", "--lend", "256M", "--port", Integer.toString(port));
                l2 = Node.upIn(
                        net,
                        tag,
                        2,
                        "--no-swap",
                        "--lend",
                        "256M",
                        "--port",
                        Integer.toString(port),
                        "--join",
                        l1.memberAddress());
                b = Node.upIn(
                        net,
                        tag,
                        0,
                        "--size",
                        "512M",
                        "--no-swapon",
                        "--target",
                        "1,2",
                        "--port",
                        Integer.toString(port),
                        "--join",
                        l1.memberAddress());
                b.set("local_target_bytes", "0");
                b.set("remote_timeout_ms", "3000");
                PageDriver d = new PageDriver(b.mount.resolve("swapfile"), 17);
                d.write(0, PAGES);
                Node borrower = b;
                Host.await(
                        "the pages remote",
                        Duration.ofMinutes(2),
                        null,
                        () -> borrower.counter("remote_pers_pages") >= PAGES - 64);

                net.link(0, false);
                long t0 = System.nanoTime();
                d.write(LOCAL_FIRST, LOCAL_PAGES);
                PageDriver.Check local = d.verify(LOCAL_FIRST, LOCAL_PAGES);
                double localSeconds = (System.nanoTime() - t0) / 1e9;
                long t1 = System.nanoTime();
                PageDriver.Check remote = d.verify(0, 1);
                double remoteSeconds = (System.nanoTime() - t1) / 1e9;
                System.out.printf(
                        "cut off: %d new pages written and read back in %.2f s (%d failed); a remote page's read failed"
                                + " after %.2f s (remote_timeout_ms 3000); remote_get_timeouts %d%n",
                        LOCAL_PAGES,
                        localSeconds,
                        local.failedReads() + local.mismatches(),
                        remoteSeconds,
                        borrower.counter("remote_get_timeouts"));
                assertEquals(0, local.failedReads() + local.mismatches(), "new pages were stored and served locally");
                assertEquals(1, remote.failedReads(), "the remote page could not be read while cut off");
                assertTrue(remoteSeconds < 10, "the read waited about remote_timeout_ms, not more: " + remoteSeconds);
                assertTrue(borrower.counter("remote_get_timeouts") >= 1);
                // long enough for the client to close its silent connections (15 s without heartbeat)
                Thread.sleep(Math.max(0, 45_000 - (System.nanoTime() - t0) / 1_000_000));
            } finally {
                net.link(0, true);
            }
            try {
                long t2 = System.nanoTime();
                Node borrower = b;
                Host.await(
                        "the borrower connected again to both lenders",
                        Duration.ofMinutes(3),
                        null,
                        () -> Node.status(borrower.mount)
                                .getOrDefault("cluster", "")
                                .contains("(client), 2 members"));
                System.out.printf("link back: the borrower reconnected after %.1f s%n", (System.nanoTime() - t2) / 1e9);
                b.set("remote_timeout_ms", "30000");
                PageDriver d = new PageDriver(b.mount.resolve("swapfile"), 17);
                PageDriver.Check all = d.verify(0, PAGES);
                PageDriver.Check local = d.verify(LOCAL_FIRST, LOCAL_PAGES);
                System.out.printf(
                        "after the reconnection: %d of %d remote pages verified, %d failed, %d wrong; local %d failed%n",
                        all.pages() - all.failedReads() - all.mismatches(),
                        all.pages(),
                        all.failedReads(),
                        all.mismatches(),
                        local.failedReads() + local.mismatches());
                assertEquals(0, all.failedReads(), "pages that could not be read after the reconnection");
                assertEquals(0, all.mismatches(), "pages that read back wrong");
                assertEquals(0, local.failedReads() + local.mismatches());
            } finally {
                Node.closeInOrder(java.util.Arrays.asList(b, l2, l1));
            }
        }
    }
}
