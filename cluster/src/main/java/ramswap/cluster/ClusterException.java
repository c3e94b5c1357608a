package ramswap.cluster;

/**
 * The node could not take its place in the cluster. The message says what went
 * wrong and what the user can do about it; it is meant to be printed as is.
 */
public final class ClusterException extends Exception {

    private static final long serialVersionUID = 1L;

    public ClusterException(String message) {
        super(message);
    }

    public ClusterException(String message, Throwable cause) {
        super(message, cause);
    }
}
