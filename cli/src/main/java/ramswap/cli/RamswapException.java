package ramswap.cli;

/** A failure the user should read: its message says what happened and what to do; it carries the exit code. */
public final class RamswapException extends Exception {

    /** Exit codes, one place: README "Errors" lists them. */
    public static final int FAILED = 1;

    public static final int USAGE = 2;
    public static final int NOT_RUNNING = 3;
    public static final int NEEDS_ROOT = 4;

    private final int exitCode;

    public RamswapException(int exitCode, String message) {
        super(message);
        this.exitCode = exitCode;
    }

    public RamswapException(int exitCode, String message, Throwable cause) {
        super(message, cause);
        this.exitCode = exitCode;
    }

    public int exitCode() {
        return exitCode;
    }
}
