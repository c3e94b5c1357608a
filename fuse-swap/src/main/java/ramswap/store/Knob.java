package ramswap.store;

/**
 * Settings an operator may change while ramswap runs, named as RAMster's /sys/kernel/mm/ramster
 * files, each with its default and the range it accepts.
 */
public enum Knob {
    REMOTE_TARGET_NODENUM(
            "remote_target_nodenum",
            -1,
            -1,
            65535,
            "nodes that receive this node's cold pages, tried in order: -1 (none), a node number, or a list such as 2,1"),
    PERS_REMOTIFY_ENABLE("pers_remotify_enable", 0, 0, 1, "1 = send cold pages to the remote target"),
    SELFSHRINK_ENABLE("selfshrink_enable", 1, 0, 1, "1 = bring remote pages back when this node has memory to spare"),
    SELFSHRINK_INTERVAL("selfshrink_interval", 5, 1, 3600, "seconds between two self-shrink samples"),
    FRONTSWAP_HYSTERESIS(
            "frontswap_hysteresis", 20, 1, 1000, "each self-shrink step brings back 1/hysteresis of the remote pages"),
    FRONTSWAP_INERTIA(
            "frontswap_inertia", 3, 0, 1000, "samples without growth of remote pages before self-shrink acts"),
    POOL_MAX_BYTES(
            "pool_max_bytes",
            0,
            0,
            Long.MAX_VALUE,
            "most memory the local pool may map (bytes); the daemon sets it at start"),
    LOCAL_TARGET_BYTES(
            "local_target_bytes",
            0,
            0,
            Long.MAX_VALUE,
            "compressed bytes kept in the local pool before cold pages go remote (bytes); 0 = every page goes remote once written"),
    REMOTIFY_PAGES_PER_SEC("remotify_pages_per_sec", 50_000, 1, 10_000_000, "most pages sent remote per second"),
    REMOTE_TIMEOUT_MS(
            "remote_timeout_ms",
            30_000,
            10,
            60_000,
            "longest wait for a remote page (ms); past it the read fails with EIO, counted in remote_get_timeouts"),
    SELFSHRINK_MIN_AVAILABLE_BYTES(
            "selfshrink_min_available_bytes",
            512L << 20,
            0,
            Long.MAX_VALUE,
            "self-shrink brings pages back only while MemAvailable stays above this (bytes)"),
    SELFSHRINK_MAX_PRESSURE(
            "selfshrink_max_pressure",
            5,
            0,
            100,
            "self-shrink brings pages back only while memory pressure (some avg10, percent) is at most this"),
    REPATRIATE_ALL(
            "repatriate_all",
            0,
            0,
            1,
            "1 = bring every remote page home now, whatever the inertia and spare memory (ramswap drain sets it); 0 again when done or refused"),
    REMOTE_COPIES(
            "remote_copies",
            2,
            1,
            2,
            "copies of each remote page, each on a different node other than this one; with fewer lenders a page keeps the copies it can get"),
    LATE_BIND_MS(
            "late_bind_ms",
            20,
            1,
            60_000,
            "a read that has no answer from a page's first copy within this (ms) asks the second copy too"),
    REPAIR_PAGES_PER_SEC(
            "repair_pages_per_sec",
            4_000,
            1,
            10_000_000,
            "most remote pages given new copies per second after a lender was lost or partitions moved"),
    HANDOFF_ON_STOP(
            "handoff_on_stop",
            1,
            0,
            1,
            "1 = a lending node that stops first hands the pages it holds to other lenders or back to their owners, and stays up"
                    + " if it cannot; 0 = it stops at once (ramswap down --force), and pages with no other copy are lost"),
    ORPHAN_GRACE_SECONDS(
            "orphan_grace_seconds",
            600,
            0,
            7 * 86400,
            "a lender frees the pages of a node gone from the cluster this long (seconds)");

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

    /** True for the one knob that takes a comma-separated list of node numbers. */
    public boolean isList() {
        return this == REMOTE_TARGET_NODENUM;
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
