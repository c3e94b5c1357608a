package ramswap.cluster;

import com.hazelcast.spi.exception.SilentException;

/**
 * Thrown on a lender, inside the put of a page, when its lend quota is full. It travels back to
 * the sender as the failure of its put, which the sender maps to {@code RemoteTier.REFUSED}: the
 * page stays local or goes to the next target, and nothing is lost. Silent: the owner's operation
 * does not log it (Hazelcast logs any other failure of an operation at SEVERE).
 */
public final class LendRefusedException extends RuntimeException implements SilentException {

    private static final long serialVersionUID = 1L;

    public LendRefusedException(String message) {
        // no stack trace: a refusal is an expected answer, raised once per refused batch
        super(message, null, false, false);
    }

    /** True when {@code t} or one of its causes is a quota refusal. */
    static boolean isRefusal(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
            if (c instanceof LendRefusedException) {
                return true;
            }
        }
        return false;
    }
}
