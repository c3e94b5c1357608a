package ramswap.e2e;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;

/**
 * A private network for a multi-node test: a bridge of its own, and one network namespace per node
 * joined to it by a veth pair, with addresses in a random 10.x.y.0/24 that lives only inside them.
 * Daemons run in their node's namespace through {@code nsenter --net} (mounts and loop devices stay
 * in the machine's own namespaces, where the test reads them). Faults: a node's link taken down and
 * up, two nodes cut off from each other only, and {@code tc netem} on a link. {@link #close}
 * removes everything it made, even after a failure.
 */
final class NetNs implements AutoCloseable {

    private static final Duration CMD = Duration.ofSeconds(20);
    /** A locally administered MAC that no interface has: frames sent to it reach no one. */
    private static final String NOWHERE = "02:00:5e:00:00:01";

    private final String id;
    private final String subnet;
    private final String bridge;
    private final List<Integer> nodes = new ArrayList<>();
    private final List<Integer> taps = new ArrayList<>();
    private final List<List<Integer>> cuts = new ArrayList<>();

    NetNs() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        this.id = Integer.toString(r.nextInt(36 * 36 * 36 * 36), 36); // interface names stay under 16 characters
        this.subnet = "10." + (200 + r.nextInt(50)) + "." + r.nextInt(256);
        this.bridge = "rsb" + id;
        ip("link", "add", bridge, "type", "bridge");
        ip("addr", "add", subnet + ".1/24", "dev", bridge);
        ip("link", "set", bridge, "up");
    }

    /** Adds node {@code n}'s namespace and link; returns its address. */
    String add(int n) {
        String ns = ns(n);
        ip("netns", "add", ns);
        nodes.add(n);
        ip("link", "add", hostSide(n), "type", "veth", "peer", "name", nsSide(n));
        ip("link", "set", nsSide(n), "netns", ns);
        ip("link", "set", hostSide(n), "master", bridge, "up");
        in(n, "ip", "addr", "add", address(n) + "/24", "dev", nsSide(n));
        in(n, "ip", "link", "set", nsSide(n), "up");
        in(n, "ip", "link", "set", "lo", "up");
        return address(n);
    }

    /**
     * Adds a tap device on the bridge for node {@code n} when it is a QEMU guest (QEMU opens it with
     * {@code -netdev tap,ifname=...,script=no}); the guest gives itself {@link #address}. Returns the
     * tap's name.
     */
    String tap(int n) {
        String tap = tapName(n);
        ip("tuntap", "add", "dev", tap, "mode", "tap");
        taps.add(n);
        ip("link", "set", tap, "master", bridge, "up");
        return tap;
    }

    String address(int n) {
        return subnet + "." + (10 + n);
    }

    String ns(int n) {
        return "ramswap-" + id + "-" + n;
    }

    /** The command prefix that runs a command in node {@code n}'s network namespace only. */
    List<String> prefix(int n) {
        return List.of("nsenter", "--net=/run/netns/" + ns(n), "--");
    }

    /** Cuts node {@code n} off from every other node (its link down), or joins it again. */
    void link(int n, boolean up) {
        ip("link", "set", hostSide(n), up ? "up" : "down");
    }

    /**
     * Cuts nodes {@code a} and {@code b} off from each other only, both still reaching every other
     * node, or joins them again (a pair not cut is left alone). Each namespace is given a permanent
     * neighbour entry that puts the other's address at a MAC no one has, so their packets vanish
     * without an error, as across a broken path (a blackhole route would fail each send at once),
     * with no packet filter or classful qdisc needed in the kernel. Joining deletes the entries, and
     * ARP finds the real addresses again.
     */
    void cut(int a, int b, boolean cut) {
        List<Integer> pair = List.of(Math.min(a, b), Math.max(a, b));
        if (cut) {
            cuts.add(pair);
            in(a, "ip", "neigh", "replace", address(b), "lladdr", NOWHERE, "nud", "permanent", "dev", nsSide(a));
            in(b, "ip", "neigh", "replace", address(a), "lladdr", NOWHERE, "nud", "permanent", "dev", nsSide(b));
        } else if (cuts.remove(pair)) {
            in(a, "ip", "neigh", "del", address(b), "dev", nsSide(a));
            in(b, "ip", "neigh", "del", address(a), "dev", nsSide(b));
        }
    }

    /** {@code tc netem} on node {@code n}'s link, e.g. "delay 50ms" or "loss 30%"; null removes it. */
    void netem(int n, String spec) {
        if (spec == null) {
            in(n, "tc", "qdisc", "del", "dev", nsSide(n), "root");
        } else {
            List<String> cmd = new ArrayList<>(List.of("tc", "qdisc", "replace", "dev", nsSide(n), "root", "netem"));
            cmd.addAll(List.of(spec.split(" ")));
            in(n, cmd.toArray(String[]::new));
        }
    }

    private String hostSide(int n) {
        return "rsh" + id + "-" + n;
    }

    private String tapName(int n) {
        return "rst" + id + "-" + n;
    }

    private String nsSide(int n) {
        return "rsn" + id + "-" + n;
    }

    private void in(int n, String... cmd) {
        List<String> all = new ArrayList<>(List.of("ip", "netns", "exec", ns(n)));
        all.addAll(List.of(cmd));
        run(all);
    }

    private static void ip(String... args) {
        List<String> all = new ArrayList<>(List.of("ip"));
        all.addAll(List.of(args));
        run(all);
    }

    private static void run(List<String> cmd) {
        Host.Run r = Host.exec(CMD, Map.of(), cmd);
        if (r.exitCode() != 0) {
            throw new AssertionError(String.join(" ", cmd) + " failed (exit " + r.exitCode() + "): " + r.output());
        }
    }

    /**
     * Joins the pairs still cut, removes the namespaces (their veth ends go with them), the taps and
     * the bridge; what is gone already is skipped.
     */
    @Override
    public void close() {
        for (List<Integer> pair : cuts) {
            for (int i = 0; i < 2; i++) {
                int n = pair.get(i);
                Host.exec(
                        CMD,
                        Map.of(),
                        List.of(
                                "ip",
                                "netns",
                                "exec",
                                ns(n),
                                "ip",
                                "neigh",
                                "del",
                                address(pair.get(1 - i)),
                                "dev",
                                nsSide(n)));
            }
        }
        cuts.clear();
        for (int n : taps) {
            Host.exec(CMD, Map.of(), List.of("ip", "tuntap", "del", "dev", tapName(n), "mode", "tap"));
        }
        for (int n : nodes) {
            Host.exec(CMD, Map.of(), List.of("ip", "netns", "del", ns(n)));
            Host.exec(CMD, Map.of(), List.of("ip", "link", "del", hostSide(n)));
        }
        Host.exec(CMD, Map.of(), List.of("ip", "link", "del", bridge));
    }
}
