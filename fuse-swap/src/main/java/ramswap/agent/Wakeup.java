package ramswap.agent;

import java.util.concurrent.locks.LockSupport;

/**
 * Wakes an agent's thread from another thread, typically a completion's, so that the agent does
 * not sleep out its idle period while work it waits for is done. The idle strategy of
 * {@link Agents} parks, so an unpark ends the wait at once. The agent binds it in its
 * {@code onStart}; a wake before that (or from a test that drives {@code doWork} itself) does
 * nothing.
 */
public final class Wakeup {

    private volatile Thread thread;

    /** Called on the agent's own thread, in {@code onStart}. */
    public void bind() {
        thread = Thread.currentThread();
    }

    public void wake() {
        Thread t = thread;
        if (t != null) {
            LockSupport.unpark(t);
        }
    }
}
