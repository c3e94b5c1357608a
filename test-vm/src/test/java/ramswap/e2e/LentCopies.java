package ramswap.e2e;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.IExecutorService;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import ramswap.cluster.PageCall;

/**
 * Where a node's remote copies are, as a Hazelcast client sees them: each lender's own store, asked
 * with one {@link PageCall} per lender member.
 */
final class LentCopies {

    private LentCopies() {}

    /** Every copy of {@code node}'s pages: its key, and the address of the member that holds it ("none" if none). */
    static Map<Long, String> of(RemoteSwapIT.Client client, int node) {
        Map<Long, String> at = new HashMap<>();
        IExecutorService calls = client.hz.getExecutorService(PageCall.EXECUTOR_NAME);
        for (Member m : client.hz.getCluster().getMembers()) {
            if (m.isLiteMember()) {
                continue;
            }
            PageCall.Answer a = call(calls, m, PageCall.listNode(node));
            if (!a.refused()) {
                for (long key : a.keys()) {
                    at.put(key, address(m));
                }
            }
        }
        return at;
    }

    /**
     * Alters one byte of the copy under {@code key} on the member at {@code holder} (as {@link #of}
     * named it), as an attacker on the network could: false if it holds it no more.
     */
    static boolean tamper(RemoteSwapIT.Client client, long key, String holder) {
        IExecutorService calls = client.hz.getExecutorService(PageCall.EXECUTOR_NAME);
        for (Member m : client.hz.getCluster().getMembers()) {
            if (!address(m).equals(holder)) {
                continue;
            }
            byte[] v = call(calls, m, PageCall.read(new long[] {key})).page(0);
            if (v == null) {
                return false;
            }
            v[v.length / 2] ^= 0x5A;
            return call(calls, m, PageCall.store(new long[] {key}, new byte[][] {v}))
                            .count()
                    == 1;
        }
        return false;
    }

    private static PageCall.Answer call(IExecutorService calls, Member m, PageCall call) {
        try {
            return calls.submitToMember(call, m).get(10, TimeUnit.SECONDS);
        } catch (Exception e) {
            throw new AssertionError("page call to " + address(m) + " failed", e);
        }
    }

    static String address(Member m) {
        return m.getAddress().getHost() + ":" + m.getAddress().getPort();
    }
}
