package ramswap.cluster;

import ramswap.store.Counters;
import ramswap.store.Knobs;
import ramswap.sys.Posix;

/**
 * A lending data member for the remote tier's tests: its off-heap store, the lender serving page
 * calls from it, its knobs, and the clock of its orphan grace (a test steps over the grace).
 */
record Lending(ClusterMember member, LentPages store, Lender lender, Knobs knobs, SteppedClock clock) {

    /** Node {@code node} joined as a data member of {@code cluster}, lending {@code quota} bytes; the cluster closes it. */
    static Lending start(TestCluster cluster, int node, long quota) throws ClusterException {
        ClusterMember m = cluster.start(node);
        LentPages store = cluster.own(new LentPages(Posix.load(), quota, false));
        Knobs knobs = new Knobs();
        SteppedClock clock = new SteppedClock();
        return new Lending(m, store, cluster.own(new Lender(m, store, knobs, new Counters(), clock)), knobs, clock);
    }
}
