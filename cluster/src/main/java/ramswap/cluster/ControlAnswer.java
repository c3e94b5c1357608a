package ramswap.cluster;

import java.io.Serializable;

/**
 * One node's answer to a {@link ControlCall}: the knob's or counter's value after the call, or
 * why it was refused (a bad value, an unknown name) or not given (no answer in time, not a
 * member).
 *
 * @param node    the node's number
 * @param name    the knob or counter
 * @param value   its value as the knob file shows it, or null when refused
 * @param refusal why there is no value, or null
 */
public record ControlAnswer(int node, String name, String value, String refusal) implements Serializable {

    private static final long serialVersionUID = 1L;

    static ControlAnswer value(int node, String name, String value) {
        return new ControlAnswer(node, name, value, null);
    }

    static ControlAnswer refused(int node, String name, String why) {
        return new ControlAnswer(node, name, null, why);
    }

    public boolean ok() {
        return refusal == null;
    }

    /** "node 1: selfshrink_interval = 10" or "node 1: refused: ...". */
    public String line() {
        return "node " + node + ": " + (ok() ? name + " = " + value : "refused: " + refusal);
    }
}
