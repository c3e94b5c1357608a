package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import java.io.Serializable;
import java.util.Map;
import java.util.concurrent.Callable;
import ramswap.store.Counter;
import ramswap.store.Knob;

/**
 * Reads or sets one knob, or reads one counter, of the daemon whose member runs this call (on
 * {@link NodeControls#EXECUTOR_NAME}). A set is validated by that daemon's {@code Knobs}, as a
 * write to its knob file would be; a refusal comes back as an answer, not as an exception.
 */
public final class ControlCall implements Callable<ControlAnswer>, Serializable, HazelcastInstanceAware {

    private static final long serialVersionUID = 1L;

    private final String name;
    /** null for a read */
    private final String value;

    private transient HazelcastInstance member;

    private ControlCall(String name, String value) {
        this.name = name;
        this.value = value;
    }

    public static ControlCall get(String name) {
        return new ControlCall(name, null);
    }

    public static ControlCall set(String name, String value) {
        return new ControlCall(name, value);
    }

    /** The knob or counter this call is about. */
    public String name() {
        return name;
    }

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
        this.member = hazelcastInstance;
    }

    @Override
    public ControlAnswer call() {
        Integer node = ClusterMember.nodeNumberOf(member.getCluster().getLocalMember());
        int n = node == null ? -1 : node;
        NodeControls controls = NodeControls.of(member);
        if (controls == null) {
            return ControlAnswer.refused(n, name, "this member has no ramswap daemon's knobs");
        }
        return answer(n, controls);
    }

    /** This call answered by the daemon of node {@code n}, whose knobs and counters are {@code controls}. */
    ControlAnswer answer(int n, NodeControls controls) {
        Knob knob = Knob.byFileName(name);
        if (value != null) {
            if (knob == null) {
                return ControlAnswer.refused(n, name, "no knob named '" + name + "'");
            }
            String refusal = controls.knobs().set(knob, value);
            return refusal == null
                    ? ControlAnswer.value(n, name, controls.knobs().text(knob))
                    : ControlAnswer.refused(n, name, refusal);
        }
        if (knob != null) {
            return ControlAnswer.value(n, name, controls.knobs().text(knob));
        }
        if (Counter.byFileName(name) != null) {
            Map<String, Long> counters = controls.counters().get();
            Long v = counters.get(name);
            return v == null
                    ? ControlAnswer.refused(n, name, "no counter '" + name + "' on this node")
                    : ControlAnswer.value(n, name, Long.toString(v));
        }
        return ControlAnswer.refused(n, name, "no knob or counter named '" + name + "'");
    }
}
