package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;

/**
 * Whether the cluster has a member that owns partitions. Without one, no IMap works: every call
 * fails with {@code NoDataMemberInClusterException}. A cluster of nodes that only borrow (the
 * default {@code --lend 0}, a lone node included) is such a cluster; map users check here and
 * skip quietly instead of failing at every tick.
 */
public final class DataMembers {

    private DataMembers() {}

    /** True when some member of the cluster, as {@code hazelcast} sees it now, is a data member. */
    public static boolean present(HazelcastInstance hazelcast) {
        for (Member m : hazelcast.getCluster().getMembers()) {
            if (!m.isLiteMember()) {
                return true;
            }
        }
        return false;
    }
}
