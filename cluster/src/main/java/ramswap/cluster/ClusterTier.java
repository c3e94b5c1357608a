package ramswap.cluster;

import java.time.Duration;
import java.util.List;
import org.agrona.concurrent.Agent;
import ramswap.store.RemoteTier;

/**
 * A remote tier as the daemon runs it: the store's {@link RemoteTier}, the agents the daemon runs
 * for it, and its end.
 *
 * <p>Wiring: start it once the member joined and before the first send; run each of
 * {@link #agents()} on the daemon's {@code Agents}; at shutdown, after swapoff and after the store
 * let go of the tier, close the agents, then {@link #deleteAllPages} what is left, then
 * {@link #close()} this, then the member.
 */
public interface ClusterTier extends RemoteTier, AutoCloseable {

    /** The agents the daemon must run for this tier. */
    List<Agent> agents();

    /**
     * Deletes every page of this node in the cluster, waiting at most {@code timeout}: for a daemon
     * that stops once swapoff has brought back every page it still needs.
     */
    void deleteAllPages(Duration timeout);

    @Override
    void close();
}
