package ramswap.cluster;

import java.util.Map;

/**
 * One member of the cluster as {@code ramswap nodes} shows it: from its member attributes, and
 * its counters from the stats map when published there.
 *
 * @param node      node number, or -1 for a member that is no ramswap node
 * @param address   "host:port" of the member
 * @param role      {@link NodeRole#labelOf}, {@link NodeRole#CLIENT_LABEL}, or "lite"/"data" for a member that announces none
 * @param lendBytes the lend quota it announces, -1 when none
 * @param stats     its counters by name; empty when not published (no data member, or not yet)
 */
public record NodeInfo(int node, String address, String role, long lendBytes, Map<String, Long> stats) {

    public NodeInfo {
        stats = Map.copyOf(stats);
    }

    /** A counter, or -1 when not published. */
    public long stat(String name) {
        Long v = stats.get(name);
        return v == null ? -1 : v;
    }
}
