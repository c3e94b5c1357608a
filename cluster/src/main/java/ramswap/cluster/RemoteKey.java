package ramswap.cluster;

/**
 * The key of a page kept on another node: a plain {@code long} (so that every client, Management
 * Center included, routes it as members do) packing the node that owns the page, that node's
 * incarnation and a sequence number. A key is never reused: every write and every move of a page
 * takes a fresh one, so a stale or resurrected copy is never mistaken for the current one.
 *
 * <pre>
 *  63..48 node   47..40 incarnation (low 8 bits)   39 copy   38..0 sequence
 * </pre>
 *
 * A page's two copies have the same sequence and differ in the copy bit. 2^39 sequences per
 * incarnation: at 100,000 page moves a second, 63 days. The incarnation here is
 * only its low 8 bits; the sealed page's associated data binds the whole of it.
 */
public final class RemoteKey {

    public static final int MAX_NODE = 0xFFFF;
    public static final long MAX_SEQUENCE = (1L << 40) - 1;
    /** The bit of the sequence field that marks a page's second copy. */
    public static final long COPY_BIT = 1L << 39;

    private RemoteKey() {}

    public static long of(int node, long incarnation, long sequence) {
        if (node < 0 || node > MAX_NODE || sequence < 0 || sequence > MAX_SEQUENCE) {
            throw new IllegalArgumentException("no remote key for node " + node + ", sequence " + sequence);
        }
        return ((long) node << 48) | ((incarnation & 0xFF) << 40) | sequence;
    }

    public static int node(long key) {
        return (int) (key >>> 48);
    }

    /** The low 8 bits of the incarnation. */
    public static int incarnation(long key) {
        return (int) ((key >>> 40) & 0xFF);
    }

    public static long sequence(long key) {
        return key & MAX_SEQUENCE;
    }
}
