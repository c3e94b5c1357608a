package ramswap.cluster;

import com.hazelcast.cluster.Member;

/**
 * What a node does for the cluster: lend memory (hold other nodes' pages, as a data member),
 * borrow it (send its own swap pages away, as a node with a swap area), or both. Published as
 * member attributes so that every node, {@code ramswap nodes} and Management Center read it.
 *
 * @param lendBytes memory this node lends to others; 0 makes it a lite member (no partition, no one's pages)
 * @param swaps     this node has a swap area of its own (false: {@code --no-swap}, a RAM server)
 */
public record NodeRole(long lendBytes, boolean swaps) {

    /** Member attribute: {@link #name()}. */
    public static final String ROLE_ATTRIBUTE = "ramswap.role";
    /** Member attribute: {@link #lendBytes()} in bytes. */
    public static final String LEND_ATTRIBUTE = "ramswap.lend";

    public NodeRole {
        if (lendBytes < 0) {
            throw new IllegalArgumentException("--lend must not be negative, got " + lendBytes);
        }
        if (!swaps && lendBytes == 0) {
            throw new IllegalArgumentException(
                    "--no-swap needs --lend SIZE: a node without swap that lends nothing has nothing to do");
        }
    }

    /** How {@code status} and {@code nodes} name a node that only borrows and is connected as a client. */
    public static final String CLIENT_LABEL = "borrows (client)";
    /** How {@code status} and {@code nodes} name a node that only borrows and is a lite member. */
    public static final String LITE_LABEL = "borrows (lite)";

    /** "lends" (a RAM server), "lends+borrows", or "borrows" (a swap node that lends nothing). */
    public String name() {
        if (lendBytes == 0) {
            return "borrows";
        }
        return swaps ? "lends+borrows" : "lends";
    }

    /** A node that lends nothing owns no partition: it joins as a lite member. */
    public boolean liteMember() {
        return lendBytes == 0;
    }

    /**
     * The role a member announces, or for a member started without one (a tool, an older node)
     * what Hazelcast says of it: "lite" or "data".
     */
    public static String nameOf(Member member) {
        String role = member.getAttribute(ROLE_ATTRIBUTE);
        if (role != null) {
            return role;
        }
        return member.isLiteMember() ? "lite" : "data";
    }

    /**
     * The role as {@code status} and {@code nodes} show it: {@link #nameOf}, and for a node that
     * only borrows how it takes part, since a client and a lite member fail differently. A client
     * is no member: it is {@link #CLIENT_LABEL}.
     */
    public static String labelOf(Member member) {
        String role = nameOf(member);
        return "borrows".equals(role) && member.isLiteMember() ? LITE_LABEL : role;
    }

    /** The lend quota a member announces, or -1 when it announces none. */
    public static long lendOf(Member member) {
        String lend = member.getAttribute(LEND_ATTRIBUTE);
        if (lend == null) {
            return -1;
        }
        try {
            return Long.parseLong(lend);
        } catch (NumberFormatException e) {
            return -1;
        }
    }
}
