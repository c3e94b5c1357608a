package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.condition.DisabledIfSystemProperty;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Past RAMster's eight nodes: sixteen daemons on this machine, one borrower that swaps and fifteen
 * lenders with quotas of 128 MiB (room for both copies of the workload on the six targets left
 * after the kills), node numbers up to 1000. The borrower's pages go to a target list of eight
 * lenders, the first that takes each page and the next for its second copy; the first two targets are killed (-9) one
 * after the other during a verified
 * workload, and every page verifies. With {@code -Dramswap.scale.idle=true} it also prints what an
 * idle member costs, its resident memory and its CPU over 20 s (a figure, not a check). Each kill comes only once redundancy is full: the repair has
 * looked at every page since the last change of members ({@code remote_partitions_settled}) and no page is
 * short of copies; a kill before that can take the one copy of a page not yet repaired. No page is lost.
 * About five minutes; {@code -Dramswap.scale.skip=true} leaves it out.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@DisabledIfSystemProperty(named = "ramswap.scale.skip", matches = "true")
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
class ScaleIT {

    private static final Duration WORK = Duration.ofMinutes(15);
    private static final int LENDERS = 15;
    private static final int BORROWER = 7;

    private final String tag = Host.tag("sc");
    private final int basePort = 29000 + ThreadLocalRandom.current().nextInt(200) * 20;
    private final List<Node> lenders = new ArrayList<>();
    private Node borrower;

    /** Lender k's node number: 1000 down to 76. */
    private static int number(int k) {
        return 1000 - 66 * k;
    }

    /** Whether node {@code n} is on the borrower's target list, the first eight lenders. */
    private static boolean isTarget(int n) {
        for (int k = 0; k < 8; k++) {
            if (number(k) == n) {
                return true;
            }
        }
        return false;
    }

    @BeforeAll
    void up() throws Exception {
        System.out.println("/proc/swaps before:\n" + Host.procSwaps());
        lenders.add(Node.up(tag, number(0), "--no-swap", "--lend", "128M", "--port", Integer.toString(basePort)));
        String join = lenders.get(0).memberAddress();
        // the others three at a time: each up waits for its member to join. A batch that fails takes down
        // what it started; down() takes down the batches before
        for (int k = 1; k < LENDERS; k += 3) {
            List<java.util.function.Supplier<Node>> ups = new ArrayList<>();
            for (int j = k; j < Math.min(LENDERS, k + 3); j++) {
                int n = number(j);
                int port = basePort + j;
                ups.add(() -> Node.up(
                        tag, n, "--no-swap", "--lend", "128M", "--port", Integer.toString(port), "--join", join));
            }
            lenders.addAll(Node.upAll(ups));
        }
        StringBuilder targets = new StringBuilder();
        for (int k = 0; k < 8; k++) {
            targets.append(k == 0 ? "" : ",").append(number(k));
        }
        borrower = Node.up(
                tag,
                BORROWER,
                "--size",
                "1G",
                "--priority",
                "32000",
                "--target",
                targets.toString(),
                "--port",
                Integer.toString(basePort + LENDERS),
                "--join",
                join);
        borrower.set("local_target_bytes", "0");
    }

    @AfterAll
    void down() {
        try {
            if (borrower != null) {
                borrower.close();
            }
        } finally {
            // in parallel: each down of a lender hands nothing over (the borrower is gone), and sixteen in a row take
            // long
            Node.closeAll(lenders);
        }
    }

    /**
     * Kills (-9) the first lender left once {@code 6,000 * (victim + 1)} pages are remote and every page
     * has two copies, and waits until the kill is seen and every page has two copies again.
     */
    private void killAndRepair(int victim, CompletableFuture<Host.Run> run) throws Exception {
        long want = 6_000L * (victim + 1);
        Host.await("pages remote", Duration.ofMinutes(5), run, () -> borrower.counter("remote_pers_pages") >= want);
        awaitFullRedundancy("two copies of every page on two members before the kill", -1);
        Node v = lenders.remove(0); // the first target, then the second
        long held = v.counter("foreign_pers_pages");
        long lost = borrower.lendersSeenGone();
        long t0 = System.nanoTime();
        v.signal("KILL");
        double seen;
        double settled;
        try {
            Host.await("the kill seen", Duration.ofMinutes(1), null, () -> borrower.lendersSeenGone() > lost);
            seen = (System.nanoTime() - t0) / 1e9;
            awaitFullRedundancy("the kill's copies repaired and the partitions settled", lost);
            settled = (System.nanoTime() - t0) / 1e9;
        } finally {
            v.close();
        }
        System.out.printf(
                "killed node %d holding %d pages: seen after %.1f s; partitions settled and every page with two copies"
                        + " again after %.1f s; %d pages lost%n",
                v.number, held, seen, settled, borrower.counter("remote_pages_lost"));
    }

    @Test
    void shouldVerifyEveryPageWhileTwoOfSixteenDaemonsAreKilledOneAfterTheOther() throws Exception {
        if (Boolean.getBoolean("ramswap.scale.idle")) {
            idleCost();
        }
        Path pagetest = Host.pagetest();
        // the workload verifies until both kills are repaired, however fast this machine runs it: a fixed number
        // of passes once ended before the second kill
        Path stop = Files.createTempFile("ramswap-scale-stop", ".flag");
        Files.delete(stop);
        CompletableFuture<Host.Run> run = CompletableFuture.supplyAsync(() -> Host.ramswap(
                WORK,
                "run",
                "--ram",
                "64M",
                "--",
                pagetest.toString(),
                "--procs",
                "4",
                "--mib",
                "256",
                "--passes",
                "2",
                "--until-file",
                stop.toString(),
                "--seed",
                "31",
                "--quiet"));
        Host.Run r;
        try {
            for (int victim = 0; victim < 2; victim++) {
                killAndRepair(victim, run);
            }
        } finally {
            Files.writeString(stop, "stop\n");
            try {
                r = run.get(WORK.toMinutes(), TimeUnit.MINUTES);
            } finally {
                Files.deleteIfExists(stop);
            }
        }
        System.out.printf(
                "16 daemons: %d pages remoted, %d given new copies, %d read from a second copy, %d reads failed%n",
                borrower.counter("pers_pages_remoted"),
                borrower.counter("remote_pages_replaced"),
                borrower.counter("remote_reads_second_copy"),
                borrower.counter("remote_pers_pages_unsucc_get"));
        if (borrower.counter("remote_pers_pages_unsucc_get") > 0 || borrower.counter("remote_pages_lost") > 0) {
            printLog(borrower, "not read", "is lost", "partitions lost"); // where the copies were
        }
        assertEquals(0, r.exitCode(), "workload failed:\n" + r.output());
        assertEquals(0, r.value("mismatches"), "pages came back wrong");
        assertEquals(0, r.value("killed_children"), "a workload process died");
        assertEquals(0, borrower.counter("remote_pers_pages_unsucc_get"), "every remote page was read back");
        assertEquals(0, borrower.counter("remote_pages_lost"), "no page lost every copy");
        long held = 0;
        int holding = 0;
        List<Integer> offTargets = new ArrayList<>();
        for (Node n : lenders) {
            long h = n.counter("foreign_pers_pages_max");
            held += h;
            holding += h > 0 ? 1 : 0;
            if (h > 0 && !isTarget(n.number)) {
                offTargets.add(n.number);
            }
        }
        System.out.printf(
                "lenders that held pages: %d of %d left, %d of them off the target list%n",
                holding, lenders.size(), offTargets.size());
        assertTrue(held > 0);
        // RAMster's rule: each page to the first target that takes it, its second copy to the next; after
        // the kills of the first two, their pages went on to the next two
        assertTrue(holding >= 2, "the pages went on to the next targets: " + holding);
        assertEquals(List.of(), offTargets, "lenders off the target list held pages");
    }

    /**
     * Waits for full redundancy as the borrower counts it: partitions settled (and swept since), no
     * page to repair, none with one copy; with {@code lostBefore} at least 0, only after more
     * partitions than that were seen lost. On a timeout, says what was short and prints the
     * borrower's log lines about pages it could not read or lost.
     */
    private void awaitFullRedundancy(String what, long lostBefore) {
        long t0 = System.nanoTime();
        int[] probes = {0};
        try {
            Host.await(what, Duration.ofMinutes(5), null, () -> {
                Map<String, Long> c = borrower.counters();
                boolean counts = Node.lendersSeenGone(c) > lostBefore
                        && c.get("remote_pages_to_replace") == 0
                        && c.get("remote_pages_one_copy") == 0;
                if (counts && c.get("remote_partitions_settled") == 0 && lostBefore >= 0 && probes[0]++ < 5) {
                    // what the test saw before it waited for the partitions: the counts said full while they still
                    // moved
                    System.out.printf(
                            "%.1f s: the counts say full while the partitions still move; pages of node %d with both"
                                    + " copies on one member now: %d%n",
                            (System.nanoTime() - t0) / 1e9, BORROWER, sharing());
                }
                return counts && c.get("remote_partitions_settled") == 1;
            });
        } catch (AssertionError e) {
            Map<String, Long> c = borrower.counters();
            printLog(borrower, "not read", "is lost", "partitions lost");
            throw new AssertionError(
                    e.getMessage() + ": lenders gone "
                            + c.get("remote_lenders_left") + " (" + lostBefore
                            + " before), settled " + c.get("remote_partitions_settled") + ", to replace "
                            + c.get("remote_pages_to_replace")
                            + ", one copy " + c.get("remote_pages_one_copy") + ", lost " + c.get("remote_pages_lost")
                            + ", kept local for full targets " + c.get("pers_pages_local_targets_full"),
                    e);
        }
    }

    /** Pages of the borrower whose two copies are on one member, as a client sees them now. */
    private long sharing() {
        try (RemoteSwapIT.Client client =
                new RemoteSwapIT.Client(tag, lenders.get(lenders.size() - 1).memberAddress())) {
            return ReliabilityIT.placement(client, BORROWER, null).sharing();
        } catch (RuntimeException e) {
            System.out.println("the copies not read: " + e);
            return -1;
        }
    }

    /** The lines of a node's daemon log that contain any of {@code words} (its log goes when the node closes). */
    private static void printLog(Node n, String... words) {
        try {
            for (String line : Files.readAllLines(Path.of(n.mount + ".log"))) {
                for (String w : words) {
                    if (line.contains(w)) {
                        System.out.println("node " + n.number + " log: " + line);
                        break;
                    }
                }
            }
        } catch (java.io.IOException e) {
            System.out.println("node " + n.number + "'s log not read: " + e);
        }
    }

    /** Resident memory and CPU of the idle lenders over 20 s, printed as a table. */
    private void idleCost() throws Exception {
        long[] cpu0 = new long[lenders.size()];
        for (int i = 0; i < lenders.size(); i++) {
            cpu0[i] = cpuTicks(lenders.get(i).pid());
        }
        long t0 = System.nanoTime();
        Thread.sleep(20_000);
        double seconds = (System.nanoTime() - t0) / 1e9;
        long rssSum = 0;
        long rssMax = 0;
        double cpuSum = 0;
        double cpuMax = 0;
        for (int i = 0; i < lenders.size(); i++) {
            long rss = rssKib(lenders.get(i).pid());
            double cpu = (cpuTicks(lenders.get(i).pid()) - cpu0[i]) / 100.0 / seconds * 100; // USER_HZ 100
            rssSum += rss;
            rssMax = Math.max(rssMax, rss);
            cpuSum += cpu;
            cpuMax = Math.max(cpuMax, cpu);
        }
        int n = lenders.size();
        System.out.printf("%-44s %10s %10s%n", "an idle lender (--no-swap --lend 128M)", "mean", "max");
        System.out.printf("%-44s %10.1f %10.1f%n", "resident memory (MiB)", rssSum / 1024.0 / n, rssMax / 1024.0);
        System.out.printf("%-44s %10.2f %10.2f%n", "CPU over 20 s, 16 members (% of one core)", cpuSum / n, cpuMax);
    }

    private static long rssKib(long pid) throws Exception {
        for (String line : Files.readAllLines(Path.of("/proc/" + pid + "/status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", ""));
            }
        }
        return 0;
    }

    private static long cpuTicks(long pid) throws Exception {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime
    }
}
