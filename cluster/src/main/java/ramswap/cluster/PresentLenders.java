package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import java.util.Set;

/**
 * The members a node can send page calls to, by node number: every data member of the cluster
 * but this one. Read on every send and fetch, so it answers from a snapshot (each member's node
 * number parsed once), not from a copy of the member list and a parse per look, which was 6% of
 * a borrower's garbage in the all-remote benchmark.
 *
 * <p>A member found is trusted until the membership listener says it left (a call to one that
 * has just left fails like any call to a lender lost). A member not found, or found lite, is
 * looked for again in the live list: a lite member's promotion to a data member, how every
 * lender joins, raises no membership event.
 */
final class PresentLenders {

    private record Snapshot(int[] nodes, Member[] members, boolean anyHolder) {}

    private final HazelcastInstance hazelcast;
    private volatile Snapshot snapshot = new Snapshot(new int[0], new Member[0], false);

    PresentLenders(HazelcastInstance hazelcast) {
        this.hazelcast = hazelcast;
    }

    /**
     * Takes the cluster's members as they are now. Called from the membership listener and once
     * after it is added; each call reads the live list under the lock, so that the last one to
     * write saw the newest list.
     */
    synchronized void refresh() {
        Set<Member> all = hazelcast.getCluster().getMembers();
        int[] nodes = new int[all.size()];
        Member[] members = new Member[all.size()];
        int n = 0;
        boolean anyHolder = false;
        for (Member m : all) {
            boolean holder = !m.isLiteMember() && !m.localMember();
            anyHolder |= holder;
            Integer number = ClusterMember.nodeNumberOf(m);
            if (number != null && indexOf(nodes, n, number) < 0) {
                nodes[n] = number;
                members[n] = holder ? m : null; // a lite member or this node holds nothing
                n++;
            }
        }
        snapshot = new Snapshot(nodes, members, anyHolder);
    }

    /** The data member numbered {@code node}, other than this one, or null. */
    Member member(int node) {
        Member m = find(snapshot, node);
        if (m == null) {
            refresh();
            m = find(snapshot, node);
        }
        return m;
    }

    /** Whether any data member other than this one is present. */
    boolean anyHolder() {
        if (!snapshot.anyHolder()) {
            refresh();
        }
        return snapshot.anyHolder();
    }

    private static Member find(Snapshot s, int node) {
        int i = indexOf(s.nodes(), s.nodes().length, node);
        return i < 0 ? null : s.members()[i];
    }

    private static int indexOf(int[] nodes, int count, int node) {
        for (int i = 0; i < count; i++) {
            if (nodes[i] == node) {
                return i;
            }
        }
        return -1;
    }
}
