package ramswap.cluster;

import java.util.concurrent.atomic.AtomicLong;
import ramswap.agent.PeriodicAgent;

/**
 * Renews a client node's lease in the {@link NodeDirectory} every {@link NodeDirectory#LEASE_RENEW}
 * on the daemon's agents, and releases it as it closes. A renewal that fails (no member reachable)
 * is counted and tried again at the next round; the lease lapses only after
 * {@link NodeDirectory#LEASE_TTL} without one.
 */
public final class NodeLease extends PeriodicAgent {

    private static final System.Logger LOG = System.getLogger(NodeLease.class.getName());

    private final ClusterClient client;
    private final AtomicLong failures = new AtomicLong();

    public NodeLease(ClusterClient client) {
        super(NodeDirectory.LEASE_RENEW);
        this.client = client;
    }

    /** Renewals that failed so far. */
    public long failures() {
        return failures.get();
    }

    @Override
    protected void tick() {
        if (!DataMembers.present(client.hazelcast())) {
            return; // no member holds maps, and no lender holds pages to keep
        }
        try {
            NodeDirectory.renew(client.hazelcast(), client.nodeNumber(), client.holder());
        } catch (RuntimeException e) {
            if (failures.getAndIncrement() == 0) {
                LOG.log(
                        System.Logger.Level.WARNING,
                        "renewing the lease of node " + client.nodeNumber()
                                + " failed; the lenders keep its pages for orphan_grace_seconds after the lease lapses",
                        e);
            }
        }
    }

    @Override
    public void onClose() {
        if (!client.hazelcast().getLifecycleService().isRunning()) {
            return;
        }
        try {
            NodeDirectory.release(client.hazelcast(), client.nodeNumber(), client.holder());
        } catch (RuntimeException e) {
            LOG.log(System.Logger.Level.DEBUG, "releasing the lease of node " + client.nodeNumber() + " failed", e);
        }
    }

    @Override
    public String roleName() {
        return "ramswap-lease";
    }
}
