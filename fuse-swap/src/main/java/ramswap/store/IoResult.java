package ramswap.store;

/**
 * How a request to the {@link SwapStore} ended. A refused request changed nothing; each refusal
 * is counted under its own cause ({@link #counter()}), as zswap counts its rejections.
 */
public enum IoResult {
    /** Every block of the request was read, written or freed. */
    DONE(null),
    /** A block needed pool memory and the pool is at pool_max_bytes. */
    POOL_LIMIT(Counter.POOL_LIMIT_HIT),
    /** A block needed pool memory and the reserve was empty while it refilled (memory short). */
    RESERVE_EMPTY(Counter.POOL_RESERVE_EMPTY),
    /** A stored block failed to decode: on a read, or on a write that keeps part of the block. */
    CORRUPT(Counter.CORRUPT_READS),
    /** A remote block could not be read back: missing, unauthentic, or no answer in time (each page counted by cause). */
    REMOTE_FAILED(Counter.REMOTE_FAILED_REQUESTS),
    /** Not ended yet: the request's remote blocks are being fetched, and its {@link FetchSlot} answers it. */
    PARKED(null);

    private final Counter counter;

    IoResult(Counter counter) {
        this.counter = counter;
    }

    /** The counter of this refusal's cause; null for {@link #DONE} and {@link #PARKED}. */
    public Counter counter() {
        return counter;
    }
}
