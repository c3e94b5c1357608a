package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import java.util.List;

/**
 * This daemon's way into the cluster: an embedded member ({@link ClusterMember}: a node that lends,
 * or one alone) or a client ({@link ClusterClient}: a node that only borrows from the members it
 * joins). The remote tier and the stats publisher work through either.
 */
public interface ClusterNode extends AutoCloseable {

    /** The Hazelcast instance, member or client. */
    HazelcastInstance hazelcast();

    int nodeNumber();

    String clusterName();

    /** True for a client: it holds no partition, takes no part in membership, and has no member address. */
    boolean client();

    /** "host:port" of the members this node knows, its own member first when it is one; empty once closed. */
    List<String> memberAddresses();

    /** One line for logs and status output. */
    String describe();

    /** Leaves the cluster; idempotent. */
    @Override
    void close();
}
