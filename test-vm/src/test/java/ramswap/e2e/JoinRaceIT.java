package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.RepeatedTest;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * Lenders started at the same instant, as a service manager starts them at boot: five daemons with
 * {@code --no-swap --lend 64M}, each listing all five addresses, none up before. Each starts as a
 * lite member and is promoted once its node number is checked, while the others join, split off
 * and merge back around it; each must come up a data member of one cluster of five, and none may
 * meet "all nodes in the cluster are lite members". Two rounds, each with its own cluster and
 * ports; they do not swap. About two minutes.
 */
@EnabledIf("ramswap.e2e.Host#canSwap")
@ResourceLock(value = Locks.CPU, mode = ResourceAccessMode.READ)
class JoinRaceIT {

    private static final int LENDERS = 5;

    private final List<Node> nodes = new ArrayList<>();

    @AfterEach
    void down() {
        Node.closeAll(nodes);
        nodes.clear();
    }

    @RepeatedTest(2)
    void shouldMakeADataMemberOfEveryLenderStartedAtOnce() throws IOException {
        String tag = Host.tag("jr");
        int basePort = 33000 + ThreadLocalRandom.current().nextInt(100) * 10;
        List<String> addresses = new ArrayList<>();
        for (int i = 0; i < LENDERS; i++) {
            addresses.add("127.0.0.1:" + (basePort + i));
        }
        String join = String.join(",", addresses);
        List<Supplier<Node>> starts = new ArrayList<>();
        for (int i = 0; i < LENDERS; i++) {
            int number = 1 + i;
            int port = basePort + i;
            starts.add(() -> Node.up(
                    tag, number, "--no-swap", "--lend", "64M", "--port", Integer.toString(port), "--join", join));
        }
        long t0 = System.nanoTime();
        nodes.addAll(Node.upAll(starts)); // a failure takes down those that came up
        System.out.printf("%d lenders up at once in %.1f s%n", LENDERS, (System.nanoTime() - t0) / 1e9);

        Host.await(
                "one cluster of " + LENDERS,
                Duration.ofSeconds(60),
                null,
                () -> nodes.stream().allMatch(n -> clusterLine(n).endsWith(", " + LENDERS + " members")));
        int waited = 0;
        for (Node n : nodes) {
            String cluster = clusterLine(n);
            assertFalse(cluster.contains("(lite)"), "node " + n.number + " is a data member: " + cluster);
            String log = Files.readString(Path.of(n.mount + ".log"));
            assertFalse(
                    log.contains("all nodes in the cluster are lite members"), "node " + n.number + "'s log:\n" + log);
            for (String line : log.split("\n")) {
                if (line.contains("is waiting to become a data member")) {
                    System.out.println("node " + n.number + ": " + line);
                    waited++;
                }
            }
        }
        System.out.println(waited + " waits for the cluster to settle in this round");
        assertEquals(LENDERS, nodes.size());
    }

    private static String clusterLine(Node n) {
        return Node.status(n.mount).getOrDefault("cluster", "");
    }
}
