package ramswap.agent;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.SleepingIdleStrategy;

/**
 * The background work of one daemon (the pool's grower, the /proc reader, the stats publisher,
 * later the movers of remote pages), each an Agrona {@link Agent} on a thread of its own named
 * after the agent's role. This owns the threads: it starts them, counts and logs their errors,
 * and stops them in the reverse order of their start.
 *
 * <p>An agent's {@code doWork} returns how much it did; after a round with nothing done its
 * thread parks for the agent's idle time (a park, so that {@code LockSupport.unpark} of the
 * agent's thread wakes it at once).
 */
public final class Agents implements AutoCloseable {

    private static final System.Logger LOG = System.getLogger(Agents.class.getName());
    private static final int CLOSE_RETRY_MS = 5000;

    private final List<AgentRunner> runners = new ArrayList<>();
    private final AtomicLong errors = new AtomicLong();
    private final Runnable onError;

    /** @param onError called after each error is logged (the daemon counts them in agent_errors) */
    public Agents(Runnable onError) {
        this.onError = onError;
    }

    public Agents() {
        this(() -> {});
    }

    /** Starts {@code agent} on a daemon thread named by its role; it idles {@code idle} after a round with no work. */
    public synchronized void start(Agent agent, Duration idle) {
        AgentRunner runner =
                new AgentRunner(new SleepingIdleStrategy(idle.toNanos()), t -> error(agent, t), null, agent);
        AgentRunner.startOnThread(runner, r -> {
            Thread t = new Thread(r);
            t.setDaemon(true);
            return t;
        });
        runners.add(runner);
    }

    private void error(Agent agent, Throwable t) {
        // the first few in full; after that a line each, so that an agent failing every round cannot fill the log
        long n = errors.incrementAndGet();
        if (n <= 10) {
            LOG.log(System.Logger.Level.ERROR, agent.roleName() + " failed", t);
        } else {
            LOG.log(System.Logger.Level.ERROR, agent.roleName() + " failed: " + t);
        }
        onError.run();
    }

    /** Stops every agent, the last started first, each waiting for its current round to end. */
    @Override
    public synchronized void close() {
        for (int i = runners.size() - 1; i >= 0; i--) {
            runners.get(i)
                    .close(
                            CLOSE_RETRY_MS,
                            t -> LOG.log(
                                    System.Logger.Level.WARNING, t.getName() + " is slow to stop; interrupting it"));
        }
        runners.clear();
    }
}
