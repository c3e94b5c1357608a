package ramswap.e2e;

/**
 * What the ITs share on the machine, as JUnit resource locks; two classes run at once
 * ({@code junit-platform.properties}), and these keep apart those that would measure or starve
 * each other.
 *
 * <ul>
 *   <li>{@link #SWAP}: held by every class that swaps (a swap area on, memory pressure, a guest):
 *       one such test at a time on the machine. These classes also run {@code SAME_THREAD}: JUnit
 *       runs them one after another on the engine's thread, and forks only the others to the
 *       second thread; were they concurrent too, the second thread would take one and wait for
 *       the lock, and the classes that could run beside them would wait behind it.
 *   <li>{@link #CPU}: shared by the classes that only start daemons and drive their swap files
 *       ({@code --no-swap}, {@code --no-swapon}); held alone by the classes whose outcome depends
 *       on having the machine's cores (the QEMU guests, under software emulation, and the
 *       shared-cgroup pressure test), so that nothing runs beside them.
 * </ul>
 */
final class Locks {

    static final String SWAP = "ramswap.swap";
    static final String CPU = "ramswap.cpu";
    /**
     * The place of the classes that hold {@link #CPU} alone: last, after the classes without an
     * order. A JUnit resource lock is taken before a class's conditions are looked at, so one of
     * them early in the swapping chain (even one disabled by its condition) stops the chain until
     * the classes beside it are done.
     */
    static final int LAST = Integer.MAX_VALUE;

    private Locks() {}
}
