package ramswap.cluster;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A first port for a test's members on 127.0.0.1, chosen at random below the kernel's ephemeral
 * range (32768 up) and away from Hazelcast's 5701, such that the {@value #SPAN} ports from it up
 * are free now: tests that run beside a daemon, another build or each other do not join or
 * disturb one another's members.
 */
final class FreePorts {

    /** Ports checked from the first up: the members of one test and the ports they skip to. */
    static final int SPAN = 100;

    private static final int LOW = 10_000;
    private static final int HIGH = 32_000;
    private static final int TRIES = 50;

    private FreePorts() {}

    static int base() {
        for (int t = 0; t < TRIES; t++) {
            int base = LOW + ThreadLocalRandom.current().nextInt((HIGH - LOW) / SPAN) * SPAN;
            if (allFree(base)) {
                return base;
            }
        }
        throw new IllegalStateException("no " + SPAN + " free ports in a row on 127.0.0.1 from " + LOW + " to " + HIGH
                + " after " + TRIES + " tries");
    }

    private static boolean allFree(int base) {
        for (int port = base; port < base + SPAN; port++) {
            try (ServerSocket s = new ServerSocket()) {
                s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
            } catch (IOException taken) {
                return false;
            }
        }
        return true;
    }
}
