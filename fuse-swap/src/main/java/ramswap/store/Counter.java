package ramswap.store;

/**
 * Read-only figures, named as RAMster and zcache named them under /sys/kernel/debug, plus the
 * store's own. A gauge goes up and down with what is stored; an event counter only grows.
 */
public enum Counter {
    // ---- RAMster: remote pages (the cluster's side)
    REMOTE_PERS_PAGES("remote_pers_pages", "pages of this node now held by another node"),
    PERS_PAGES_REMOTED("pers_pages_remoted", "pages sent to another node, ever"),
    PERS_PAGES_REMOTE_FAILED("pers_pages_remote_failed", "pages that could not be sent to another node"),
    REMOTE_PERS_PAGES_SUCC_GET("remote_pers_pages_succ_get", "remote pages read back successfully"),
    REMOTE_PERS_PAGES_UNSUCC_GET("remote_pers_pages_unsucc_get", "remote pages that could not be read back"),
    REMOTE_PAGES_FLUSHED("remote_pages_flushed", "remote pages freed (overwritten or discarded)"),
    FOREIGN_PERS_PAGES("foreign_pers_pages", "pages other nodes keep on this node"),
    FOREIGN_PERS_PAGES_MAX("foreign_pers_pages_max", "highest foreign_pers_pages seen"),
    REPATRIATED_PAGES("repatriated_pages", "remote pages brought back to this node"),
    // ---- ramswap's remote tier: causes and costs
    PERS_PAGES_LOCAL_NO_TARGET(
            "pers_pages_local_no_target", "pages that stayed local because no target node was present and lending"),
    PERS_PAGES_LOCAL_TARGETS_FULL(
            "pers_pages_local_targets_full", "pages that stayed local because every target refused them (quota)"),
    PERS_PAGES_REMOTE_RACED("pers_pages_remote_raced", "pages changed while being sent; the sent copy was deleted"),
    REMOTE_PERS_ZBYTES(
            "remote_pers_zbytes", "compressed bytes of this node's pages held by other nodes (before sealing)"),
    REMOTE_FAILED_REQUESTS(
            "remote_failed_requests", "requests answered with EIO because a remote page could not be read"),
    REMOTE_FETCHES("remote_fetches", "fetches of remote pages (the remote pages of one request are one fetch), ever"),
    REMOTE_READS_PARKED(
            "remote_reads_parked",
            "read requests with remote pages answered from their fetch's completion: no serving thread waited for them"),
    REMOTE_FETCH_P50_US("remote_fetch_p50_us", "median time of a fetch since start (microseconds)"),
    REMOTE_FETCH_P99_US("remote_fetch_p99_us", "99th percentile time of a fetch since start (microseconds)"),
    REMOTE_FETCH_MAX_US("remote_fetch_max_us", "longest fetch since start (microseconds)"),
    REMOTE_GET_MISSING("remote_get_missing", "remote pages not found on any node (the request got EIO)"),
    REMOTE_GET_UNAUTHENTIC(
            "remote_get_unauthentic", "remote pages that failed authentication: altered, misplaced or stale (EIO)"),
    REMOTE_GET_TIMEOUTS("remote_get_timeouts", "remote reads not answered within remote_timeout_ms (EIO)"),
    REMOTE_PAGES_REPLACED(
            "remote_pages_replaced",
            "remote pages given new copies: a copy was lost with its lender, sat on this node's own member or shared a member with the other copy, or a second copy became possible"),
    REMOTE_PAGES_TO_REPLACE(
            "remote_pages_to_replace",
            "remote pages the last repair sweep found short of their copies and not yet given new ones"),
    REMOTE_PAGES_LOST(
            "remote_pages_lost",
            "remote pages none of whose copies can be read any more (every copy was with a lender that left without handing it over); their reads fail with EIO and they are not repaired"),
    REMOTE_PARTITIONS_SETTLED(
            "remote_partitions_settled",
            "1 once the repair has looked at every remote page since a member last came or went; 0 meanwhile"),
    REMOTE_PAGES_ONE_COPY(
            "remote_pages_one_copy",
            "remote pages stored with one copy only (remote_copies is 1, or only one other lender could take them)"),
    REMOTE_READS_SECOND_COPY(
            "remote_reads_second_copy",
            "remote pages read from their second copy: the first was lost, late (late_bind_ms) or failed"),
    REMOTE_LEAKS_FREED(
            "remote_leaks_freed",
            "copies of this node's pages that no block used any more (a delete or a send that failed midway), found and freed"),
    REMOTE_LENDERS_LEFT(
            "remote_lenders_left",
            "lenders this node saw leave the cluster, gracefully or not (a copy on one that left without handing it over is re-placed from the other)"),
    REMOTE_FLUSH_FAILED(
            "remote_flush_failed",
            "deletes of remote pages that failed (retried; the lender may hold them until orphan cleanup)"),
    FOREIGN_PERS_BYTES("foreign_pers_bytes", "bytes of other nodes' pages this node holds"),
    LEND_QUOTA_BYTES("lend_quota_bytes", "memory this node lends to others (--lend)"),
    LEND_REFUSED_PAGES("lend_refused_pages", "pages other nodes sent that this node refused: its lend quota was full"),
    ORPHAN_PAGES_FREED("orphan_pages_freed", "pages this node held for a node that restarted or left for good, freed"),
    // ---- zcache: the local compressed store
    PERS_ZPAGES("pers_zpages", "pages stored compressed or raw in the local pool"),
    PERS_ZBYTES("pers_zbytes", "bytes those pages take in the pool"),
    ZERO_FILLED_PAGES(
            "zero_filled_pages", "same-filled pages (one 8-byte word repeated, zero included), kept in the table"),
    COMPRESS_POOR("compress_poor", "pages stored raw because LZ4 saved less than 1/8, ever"),
    // ---- the store's own
    STORED_PAGES("stored_pages", "pages that hold data: pers_zpages + zero_filled_pages + remote_pers_pages"),
    STORED_PAGES_MAX("stored_pages_max", "highest stored_pages seen"),
    POOL_BYTES("pool_bytes", "memory the local pool has mapped (slabs, including its reserve)"),
    POOL_COMPACTED_PAGES(
            "pool_compacted_pages", "pages moved out of sparse slabs so that those slabs go back to the kernel, ever"),
    POOL_LIMIT_HIT("pool_limit_hit", "write requests refused whole because the pool was at pool_max_bytes"),
    POOL_RESERVE_EMPTY(
            "pool_reserve_empty",
            "write requests refused whole because the pool's reserve was empty while it refilled (memory short)"),
    PAGES_WRITTEN("pages_written", "blocks written, ever"),
    PAGES_READ("pages_read", "blocks read, ever"),
    PAGES_DISCARDED("pages_discarded", "stored blocks freed by discard (punch hole), ever"),
    CORRUPT_READS("corrupt_reads", "blocks whose stored bytes failed to decode (the request got EIO)"),
    FREE_FAILED(
            "free_failed",
            "replaced blocks whose old location could not be freed (their write succeeded; should stay 0)"),
    AGENT_ERRORS(
            "agent_errors",
            "errors in background work (pool grower, stats publisher, ...), each logged; should stay 0"),
    // ---- the daemon's process
    RSS_BYTES("rss_bytes", "the daemon's resident memory (VmRSS), as its /proc reader last read it (every 3 s)");

    /**
     * The gauges; every other counter counts events and only grows (Prometheus's counter). Listed
     * here rather than beside each name so that the names read as RAMster's list.
     */
    private static final java.util.Set<Counter> GAUGES = java.util.EnumSet.of(
            REMOTE_PERS_PAGES,
            FOREIGN_PERS_PAGES,
            FOREIGN_PERS_PAGES_MAX,
            REMOTE_PERS_ZBYTES,
            REMOTE_FETCH_P50_US,
            REMOTE_FETCH_P99_US,
            REMOTE_FETCH_MAX_US,
            REMOTE_PAGES_TO_REPLACE,
            REMOTE_PAGES_LOST,
            REMOTE_PARTITIONS_SETTLED,
            REMOTE_PAGES_ONE_COPY,
            FOREIGN_PERS_BYTES,
            LEND_QUOTA_BYTES,
            PERS_ZPAGES,
            PERS_ZBYTES,
            ZERO_FILLED_PAGES,
            STORED_PAGES,
            STORED_PAGES_MAX,
            POOL_BYTES,
            RSS_BYTES);

    private final String fileName;
    private final String description;

    Counter(String fileName, String description) {
        this.fileName = fileName;
        this.description = description;
    }

    public String fileName() {
        return fileName;
    }

    public String description() {
        return description;
    }

    /** True for a figure that goes up and down (or holds a highest value); false for a count of events. */
    public boolean isGauge() {
        return GAUGES.contains(this);
    }

    public static Counter byFileName(String name) {
        for (Counter c : values()) {
            if (c.fileName.equals(name)) {
                return c;
            }
        }
        return null;
    }
}
