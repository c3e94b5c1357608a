package ramswap.cluster;

import com.hazelcast.config.Config;
import com.hazelcast.config.ExecutorConfig;
import com.hazelcast.core.HazelcastInstance;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import ramswap.store.Knobs;

/**
 * A daemon's knobs and counters, reachable through the cluster: the daemon hands them to its
 * member at start (Hazelcast's user context, local to the member, never serialized), and a
 * {@link ControlCall} run on that member finds them there. Setting a knob this way goes through
 * {@link Knobs#set}, the same validation as writing the knob file.
 *
 * @param knobs    this daemon's knobs
 * @param counters a snapshot of its counters by name (gauges refreshed)
 */
public record NodeControls(Knobs knobs, Supplier<Map<String, Long>> counters) {

    /** The executor {@link ControlCall}s run on: one thread per member, created when first used. */
    public static final String EXECUTOR_NAME = "ramswap-control";

    static final String USER_CONTEXT_KEY = "ramswap.controls";
    private static final int EXECUTOR_QUEUE = 64;

    public NodeControls {
        Objects.requireNonNull(knobs, "knobs");
        Objects.requireNonNull(counters, "counters");
    }

    /** Adds the role's attributes, these controls and the control executor to a member's configuration. */
    static void apply(Config config, NodeRole role, NodeControls controls) {
        if (role != null) {
            config.getMemberAttributeConfig().setAttribute(NodeRole.ROLE_ATTRIBUTE, role.name());
            config.getMemberAttributeConfig().setAttribute(NodeRole.LEND_ATTRIBUTE, Long.toString(role.lendBytes()));
        }
        if (controls != null) {
            config.getUserContext().put(USER_CONTEXT_KEY, controls);
        }
        config.addExecutorConfig(new ExecutorConfig(EXECUTOR_NAME)
                .setPoolSize(1)
                .setQueueCapacity(EXECUTOR_QUEUE)
                .setStatisticsEnabled(false));
    }

    /** The controls a member was started with, or null (a member that is not a daemon's). */
    static NodeControls of(HazelcastInstance member) {
        Object o = member.getUserContext().get(USER_CONTEXT_KEY);
        return o instanceof NodeControls c ? c : null;
    }
}
