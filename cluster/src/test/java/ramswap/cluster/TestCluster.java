package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.fail;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingIdleStrategy;

/**
 * Real embedded members on 127.0.0.1 under a random cluster name, closed
 * together (newest first) by the test's try-with-resources even when it fails.
 * Ports from a free range ({@link FreePorts}), so that a daemon on 5701 or another test is never
 * joined or disturbed.
 */
final class TestCluster implements AutoCloseable {

    static final String LOOPBACK = "127.0.0.1";
    static final int BASE_PORT = FreePorts.base();
    private static final Duration AWAIT_TIMEOUT = Duration.ofSeconds(30);

    private final String name = "ramswap-test-" + UUID.randomUUID().toString().substring(0, 8);
    private final List<ClusterMember> started = new ArrayList<>();
    private final int basePort;
    private final List<AutoCloseable> owned = new ArrayList<>();

    TestCluster() {
        this(BASE_PORT);
    }

    /** Members that take ports from {@code basePort} up. */
    TestCluster(int basePort) {
        this.basePort = basePort;
    }

    String name() {
        return name;
    }

    /** Settings that join the members started so far, or form the cluster if there are none. */
    ClusterSettings settings(int nodeNumber, boolean lite) {
        List<String> addresses = new ArrayList<>();
        for (ClusterMember member : started) {
            if (member.hazelcast().getLifecycleService().isRunning()) {
                addresses.add(LOOPBACK + ":"
                        + member.hazelcast()
                                .getCluster()
                                .getLocalMember()
                                .getAddress()
                                .getPort());
            }
        }
        if (addresses.isEmpty()) {
            addresses.add(LOOPBACK);
        }
        return new ClusterSettings(name, nodeNumber, LOOPBACK, basePort, addresses, lite);
    }

    ClusterMember start(int nodeNumber) throws ClusterException {
        return start(settings(nodeNumber, false));
    }

    ClusterMember startLite(int nodeNumber) throws ClusterException {
        return start(settings(nodeNumber, true));
    }

    ClusterMember start(ClusterSettings settings) throws ClusterException {
        ClusterMember member = ClusterMember.join(settings);
        started.add(member);
        return member;
    }

    /** Closes {@code resource} with the cluster, before its members. */
    <T extends AutoCloseable> T own(T resource) {
        owned.add(resource);
        return resource;
    }

    @Override
    public void close() {
        for (int i = owned.size() - 1; i >= 0; i--) {
            try {
                owned.get(i).close();
            } catch (Exception e) {
                throw new IllegalStateException(e);
            }
        }
        owned.clear();
        for (int i = started.size() - 1; i >= 0; i--) {
            started.get(i).close();
        }
        started.clear();
    }

    /** Runs the agent of {@code type} among a tier's {@code agents} on a thread of its own, as the daemon does. */
    static AgentRunner startAgent(List<Agent> agents, Class<?> type) {
        for (Agent a : agents) {
            if (type.isInstance(a)) {
                AgentRunner runner = new AgentRunner(
                        new SleepingIdleStrategy(TimeUnit.MILLISECONDS.toNanos(50)),
                        Throwable::printStackTrace,
                        null,
                        a);
                AgentRunner.startOnThread(runner);
                return runner;
            }
        }
        throw new AssertionError("no " + type.getSimpleName() + " among the agents " + agents);
    }

    /** Waits for what the cluster does in the background (membership, migration). */
    static void await(String what, BooleanSupplier condition) {
        long deadline = System.nanoTime() + AWAIT_TIMEOUT.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out after " + AWAIT_TIMEOUT.toSeconds() + " s waiting for " + what);
            }
            try {
                Thread.sleep(50);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                fail("interrupted while waiting for " + what);
            }
        }
    }
}
