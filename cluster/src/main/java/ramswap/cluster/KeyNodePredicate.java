package ramswap.cluster;

import com.hazelcast.query.Predicate;
import java.util.Arrays;
import java.util.Map;

/**
 * Selects sealed pages by the node number in their key: those of one node ({@link #of}) or of some ({@link #ofAny}), or those
 * of every node not in a list ({@link #notOf}: the nodes absent from the cluster). Runs on the
 * members that own the pages; it reads the key only, never the page.
 */
final class KeyNodePredicate implements Predicate<Long, byte[]> {

    private static final long serialVersionUID = 1L;

    private final int[] nodes; // sorted
    private final boolean in;

    private KeyNodePredicate(int[] nodes, boolean in) {
        this.nodes = nodes.clone();
        Arrays.sort(this.nodes);
        this.in = in;
    }

    static KeyNodePredicate of(int node) {
        return new KeyNodePredicate(new int[] {node}, true);
    }

    /** Pages of any of {@code nodes}. */
    static KeyNodePredicate ofAny(int[] nodes) {
        return new KeyNodePredicate(nodes, true);
    }

    static KeyNodePredicate notOf(int[] presentNodes) {
        return new KeyNodePredicate(presentNodes, false);
    }

    @Override
    public boolean apply(Map.Entry<Long, byte[]> entry) {
        return (Arrays.binarySearch(nodes, RemoteKey.node(entry.getKey())) >= 0) == in;
    }
}
