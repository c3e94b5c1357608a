package ramswap.cli;

import ramswap.sys.Posix;

/** Commands that change the kernel's state need root; say so plainly. */
final class Root {

    private Root() {}

    static void require(String what) throws RamswapException {
        if (Posix.load().geteuid() != 0) {
            throw new RamswapException(RamswapException.NEEDS_ROOT, what + " needs root: run it with sudo");
        }
    }
}
