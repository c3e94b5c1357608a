package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;

/**
 * Past RAMster's eight nodes: sixteen daemons on this machine, one borrower that swaps and fifteen
 * lenders with quotas of 128 MiB (room for both copies of the workload on the six targets left
 * after the kills), node numbers up to 1000. The borrower's pages spread over a target
 * list of eight lenders; two of them are killed (-9) one after the other during a verified
 * workload, and every page verifies. Also measures what an idle member costs: its resident memory
 * and its CPU over 20 s. Runs with {@code -Dramswap.scale=true}: in one suite run the repair after
 * the second kill left one page counted short of its copies for five minutes (docs/reliability.md).
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@EnabledIfSystemProperty(named = "ramswap.scale", matches = "true") // not in the default suite: see docs/reliability.md
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ScaleIT {

    private static final Duration WORK = Duration.ofMinutes(15);
    private static final int LENDERS = 15;
    private static final int BORROWER = 7;

    private final String tag = "sc" + ProcessHandle.current().pid() + "-" + Integer.toHexString(ThreadLocalRandom.current().nextInt(1 << 16));
    private final int basePort = 29000 + ThreadLocalRandom.current().nextInt(200) * 20;
    private final List<Node> lenders = new ArrayList<>();
    private Node borrower;

    /** Lender k's node number: 1000 down to 76. */
    private static int number(int k) {
        return 1000 - 66 * k;
    }

    @BeforeAll
    void up() throws Exception {
        System.out.println("/proc/swaps before:\n" + Host.procSwaps());
        lenders.add(Node.up(tag, number(0), "--no-swap", "--lend", "128M", "--port", Integer.toString(basePort)));
        String join = lenders.get(0).memberAddress();
        // the others three at a time: each up waits for its member to join
        for (int k = 1; k < LENDERS; k += 3) {
            List<CompletableFuture<Node>> ups = new ArrayList<>();
            for (int j = k; j < Math.min(LENDERS, k + 3); j++) {
                int n = number(j);
                int port = basePort + j;
                ups.add(CompletableFuture.supplyAsync(() -> Node.up(tag, n, "--no-swap", "--lend", "128M", "--port",
                        Integer.toString(port), "--join", join)));
            }
            for (CompletableFuture<Node> f : ups) {
                lenders.add(f.get(5, TimeUnit.MINUTES));
            }
        }
        StringBuilder targets = new StringBuilder();
        for (int k = 0; k < 8; k++) {
            targets.append(k == 0 ? "" : ",").append(number(k));
        }
        borrower = Node.up(tag, BORROWER, "--size", "1G", "--priority", "32000", "--target", targets.toString(),
                "--port", Integer.toString(basePort + LENDERS), "--join", join);
        borrower.set("local_target_bytes", "0");
    }

    @AfterAll
    void down() {
        try {
            if (borrower != null) {
                borrower.close();
            }
        } finally {
            // in parallel: each down of a lender hands nothing over (the borrower is gone), and sixteen in a row take long
            List<CompletableFuture<Void>> downs = new ArrayList<>();
            for (Node n : lenders) {
                downs.add(CompletableFuture.runAsync(n::close));
            }
            for (CompletableFuture<Void> f : downs) {
                try {
                    f.get(12, TimeUnit.MINUTES);
                } catch (Exception e) {
                    System.out.println("a lender's teardown failed: " + e);
                }
            }
        }
    }

    @Test
    void shouldVerifyEveryPageWhileTwoOfSixteenDaemonsAreKilledOneAfterTheOther() throws Exception {
        idleCost();
        Path pagetest = Host.pagetest();
        CompletableFuture<Host.Run> run = CompletableFuture.supplyAsync(() -> Host.ramswap(WORK, "run", "--ram", "64M", "--",
                pagetest.toString(), "--procs", "4", "--mib", "256", "--passes", "2", "--seed", "31", "--quiet"));
        for (int victim = 0; victim < 2; victim++) {
            long want = 6_000L * (victim + 1);
            Host.await("pages remote", Duration.ofMinutes(5), run, () -> borrower.counter("remote_pers_pages") >= want);
            Node v = lenders.remove(0); // the first target, then the second
            long held = v.counter("foreign_pers_pages");
            long lost = borrower.counter("remote_partitions_lost");
            long t0 = System.nanoTime();
            v.signal("KILL");
            try {
                Host.await("the kill seen and its copies repaired", Duration.ofMinutes(5), null, () -> borrower.counter("remote_partitions_lost") > lost
                        && borrower.counter("remote_pages_to_replace") == 0 && borrower.counter("remote_pages_one_copy") == 0);
            } catch (AssertionError e) {
                throw new AssertionError(e.getMessage() + ": partitions lost " + borrower.counter("remote_partitions_lost") + " (" + lost
                        + " before), to replace " + borrower.counter("remote_pages_to_replace") + ", one copy "
                        + borrower.counter("remote_pages_one_copy") + ", kept local for full targets "
                        + borrower.counter("pers_pages_local_targets_full"), e);
            } finally {
                v.close();
            }
            System.out.printf("killed node %d holding %d pages: every page had two copies again after %.1f s%n", v.number, held,
                    (System.nanoTime() - t0) / 1e9);
        }
        Host.Run r = run.get(WORK.toMinutes(), TimeUnit.MINUTES);
        System.out.printf("16 daemons: %d pages remoted, %d given new copies, %d read from a second copy, %d reads failed%n",
                borrower.counter("pers_pages_remoted"), borrower.counter("remote_pages_replaced"),
                borrower.counter("remote_reads_second_copy"), borrower.counter("remote_pers_pages_unsucc_get"));
        assertEquals(0, r.exitCode(), "workload failed:\n" + r.output());
        assertEquals(0, r.value("mismatches"), "pages came back wrong");
        assertEquals(0, r.value("killed_children"), "a workload process died");
        assertEquals(0, borrower.counter("remote_pers_pages_unsucc_get"), "every remote page was read back");
        long held = 0;
        int holding = 0;
        for (Node n : lenders) {
            long h = n.counter("foreign_pers_pages_max");
            held += h;
            holding += h > 0 ? 1 : 0;
        }
        System.out.printf("lenders that held pages: %d of %d left%n", holding, lenders.size());
        assertTrue(holding >= 4, "the pages spread over several lenders: " + holding);
        assertTrue(held > 0);
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
