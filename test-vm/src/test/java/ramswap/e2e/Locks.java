package ramswap.e2e;

/**
 * What the ITs share on the machine, as JUnit resource locks; two classes run at once
 * ({@code junit-platform.properties}), and these keep apart those that would measure or starve
 * each other.
 *
 * <ul>
 *   <li>{@link #SWAP}: held by every class that swaps (a swap area on, memory pressure, a guest):
 *       one such test at a time on the machine.
 *   <li>{@link #CPU}: shared by the classes that only start daemons and drive their swap files
 *       ({@code --no-swap}, {@code --no-swapon}); held alone by the classes whose outcome depends
 *       on having the machine's cores (the QEMU guests, under software emulation, and the
 *       shared-cgroup pressure test), so that nothing runs beside them.
 * </ul>
 */
final class Locks {

    static final String SWAP = "ramswap.swap";
    static final String CPU = "ramswap.cpu";

    private Locks() {}
}
