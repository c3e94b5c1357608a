package ramswap.store;

/**
 * Settings an operator may change while ramswap runs, named as RAMster's /sys/kernel/mm/ramster
 * files, each with its default and the range it accepts.
 */
public enum Knob {
    REMOTE_TARGET_NODENUM("remote_target_nodenum", -1, -1, 65535, "node that receives this node's cold pages; -1 = none"),
    PERS_REMOTIFY_ENABLE("pers_remotify_enable", 0, 0, 1, "1 = send cold pages to the remote target"),
    SELFSHRINK_ENABLE("selfshrink_enable", 1, 0, 1, "1 = bring remote pages back when this node has memory to spare"),
    SELFSHRINK_INTERVAL("selfshrink_interval", 5, 1, 3600, "seconds between two self-shrink samples"),
    FRONTSWAP_HYSTERESIS("frontswap_hysteresis", 20, 1, 1000, "each self-shrink step brings back 1/hysteresis of the remote pages"),
    FRONTSWAP_INERTIA("frontswap_inertia", 3, 0, 1000, "samples without growth of remote pages before self-shrink acts"),
    POOL_MAX_BYTES("pool_max_bytes", 0, 0, Long.MAX_VALUE, "most memory the local pool may map (bytes); the daemon sets it at start");

    private final String fileName;
    private final long defaultValue;
    private final long min;
    private final long max;
    private final String description;

    Knob(String fileName, long defaultValue, long min, long max, String description) {
        this.fileName = fileName;
        this.defaultValue = defaultValue;
        this.min = min;
        this.max = max;
        this.description = description;
    }

    public String fileName() {
        return fileName;
    }

    public long defaultValue() {
        return defaultValue;
    }

    public long min() {
        return min;
    }

    public long max() {
        return max;
    }

    public String description() {
        return description;
    }

    public static Knob byFileName(String name) {
        for (Knob k : values()) {
            if (k.fileName.equals(name)) {
                return k;
            }
        }
        return null;
    }
}
