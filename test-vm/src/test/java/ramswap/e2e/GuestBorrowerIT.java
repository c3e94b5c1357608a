package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.Execution;
import org.junit.jupiter.api.parallel.ExecutionMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * The QEMU guest as a borrower: its whole RAM is short, ramswap is its only swap, and its pages go
 * over the guest's virtual network (virtio-net on a tap device) to two lenders on the host, each a
 * daemon in a network namespace of its own on the same private bridge ({@link NetNs}). When the
 * lenders hold the guest's pages, lender 1 is killed with {@code kill -9} and lender 3 joins in its
 * place; every page of the guest's workload must still verify, and no remote read may fail. The
 * guest script ({@code test-vm/guest/run-guest-test.sh --tap}) prints the table and the verdict;
 * this test adds the lenders and the fault.
 * <p>
 * Out of the default suite (about 20 minutes): runs with {@code -Dramswap.guest.borrower=true}.
 * With {@code -Dramswap.guest.kill=false} no lender is killed. What it found is in
 * docs/reliability.md: as a lite member the guest fell out of the cluster, with the kill and
 * without; as a client (its default now) it lost no page through the kill.
 */
@EnabledIf("ramswap.e2e.GuestBorrowerIT#canRun")
@Execution(ExecutionMode.SAME_THREAD)
@ResourceLock(Locks.SWAP)
@ResourceLock(Locks.CPU)
@Order(Locks.LAST)
class GuestBorrowerIT {

    static boolean canRun() {
        return Boolean.getBoolean("ramswap.guest.borrower") && GuestPressureIT.canRun();
    }

    /** The script bounds the guest itself; this is the backstop. */
    private static final Duration TIMEOUT = Duration.ofMinutes(35);
    /**
     * Every page remote, over an emulated network, on emulated CPUs: 2 MiB/s of swap-out at best,
     * so the workload (1152 MiB) is filled and verified once; three passes took more than 790 s.
     */
    private static final int GUEST_TIMEOUT_S = 1800;
    /**
     * A borrower of 512 MiB froze after the kill (docs/reliability.md); 768 MiB leaves it room.
     * {@code -Dramswap.guest.ram=512} runs the smaller guest again.
     */
    private static final int GUEST_RAM_MIB = Integer.getInteger("ramswap.guest.ram", 768);
    /** Copies the lenders hold (two per page) before the kill: the guest is well into its workload. */
    private static final long COPIES_AT_KILL = 16_384;

    private final String tag = Host.tag("gb");
    private final int basePort = 29000 + ThreadLocalRandom.current().nextInt(300) * 10;

    @Test
    void shouldLoseNoPageOfAGuestWhoseLenderIsKilled() throws Exception {
        System.out.println("/proc/swaps before:\n" + Host.procSwaps());
        Map<Integer, Node> lenders = new LinkedHashMap<>();
        try (NetNs net = new NetNs()) {
            for (int n = 1; n <= 3; n++) {
                net.add(n);
            }
            String tap = net.tap(0);
            lenders.put(1, lender(net, 1, null));
            String join = lenders.get(1).memberAddress();
            lenders.put(2, lender(net, 2, join));
            try {
                List<String> cmd = new ArrayList<>(List.of(
                        "bash",
                        GuestPressureIT.SCRIPT.toString(),
                        "--jar",
                        Host.JAR.toString(),
                        "--tap",
                        tap,
                        "--addr",
                        net.address(0) + "/24",
                        "--cluster-name",
                        tag,
                        "--timeout",
                        Integer.toString(GUEST_TIMEOUT_S),
                        "--ram",
                        Integer.toString(GUEST_RAM_MIB),
                        "--passes",
                        "1",
                        "--up-args",
                        "--node 0 --bind " + net.address(0) + " --port " + basePort + " --join " + join
                                + " --target 1,2,3",
                        "--set",
                        "local_target_bytes=0"));
                String extra = System.getProperty("ramswap.guest.args", "").trim();
                if (!extra.isEmpty()) {
                    cmd.addAll(Arrays.asList(extra.split("\\s+")));
                }
                CompletableFuture<GuestPressureIT.Result> guest = CompletableFuture.supplyAsync(() -> {
                    try {
                        return GuestPressureIT.run(cmd, TIMEOUT);
                    } catch (Exception e) {
                        throw new IllegalStateException(e);
                    }
                });

                boolean kill = Boolean.parseBoolean(System.getProperty("ramswap.guest.kill", "true"));
                Host.await(
                        COPIES_AT_KILL + " copies of the guest's pages on the lenders",
                        Duration.ofMinutes(15),
                        null,
                        () -> {
                            if (guest.isDone()) {
                                throw new AssertionError("the guest ended before its pages reached the lenders:\n"
                                        + GuestPressureIT.tail(guest.join().output()));
                            }
                            return held(lenders) >= COPIES_AT_KILL;
                        });
                long heldAtKill = held(lenders);
                if (kill) {
                    Node victim = lenders.remove(1);
                    victim.signal("KILL");
                    long t0 = System.nanoTime();
                    Host.await("lender 1 gone", Duration.ofSeconds(30), null, () -> !victim.alive());
                    victim.close(); // removes what the killed daemon left on the host
                    lenders.put(3, lender(net, 3, lenders.get(2).memberAddress()));
                    System.out.printf(
                            "kill -9 of lender 1 with %d copies of the guest's pages on the lenders; lender 3 up %.1f s later%n",
                            heldAtKill, (System.nanoTime() - t0) / 1e9);
                } else {
                    System.out.printf(
                            "%d copies of the guest's pages on the lenders; no lender killed (-Dramswap.guest.kill=false)%n",
                            heldAtKill);
                }

                GuestPressureIT.Result r = guest.get();
                assertTrue(
                        r.output().contains("guest-test: PASS"),
                        "the guest test did not pass:\n" + GuestPressureIT.tail(r.output()));
                assertEquals(0, r.exitCode());
                assertEquals("0", GuestPressureIT.row(r.output(), "mismatches"), "pages came back wrong");
                assertEquals("0 / 0", GuestPressureIT.row(r.output(), "killed / timed-out workload processes"));
                assertTrue(
                        GuestPressureIT.row(r.output(), "remote reads failed / from a second copy")
                                .startsWith("0 /"),
                        "no remote read failed");
                assertTrue(
                        Long.parseLong(GuestPressureIT.row(r.output(), "remote pages, peak (sampled)")) > 0,
                        "pages went remote");
                System.out.printf(
                        "after the guest: lenders 2 and 3 hold %d copies (the guest's down took its pages home)%n",
                        held(lenders));
            } finally {
                Node.closeInOrder(lenders.values());
            }
        }
    }

    private Node lender(NetNs net, int n, String join) {
        List<String> args =
                new ArrayList<>(List.of("--no-swap", "--lend", "512M", "--port", Integer.toString(basePort)));
        if (join != null) {
            args.addAll(List.of("--join", join));
        }
        return Node.upIn(net, tag, n, args.toArray(String[]::new));
    }

    private static long held(Map<Integer, Node> lenders) {
        return Node.sum(lenders.values(), "foreign_pers_pages");
    }
}
