package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * The Debian package as an operator gets it, on this machine: built by {@code dist/deb/build.sh},
 * installed, used, upgraded and removed with dpkg, and the machine left as it was. Installed, its
 * launcher runs a daemon on the package's own Java runtime from an argument file like
 * /etc/ramswap/ramswap.conf, its unit passes {@code systemd-analyze verify}, its man pages format
 * without a warning, and its completion completes in a real bash and zsh, typed into tmux.
 */
@EnabledIf("ramswap.e2e.DebianPackageIT#canRun")
@ResourceLock(value = Locks.CPU, mode = ResourceAccessMode.READ)
class DebianPackageIT {

    private static final Duration BUILD = Duration.ofMinutes(10);
    private static final Duration DPKG = Duration.ofMinutes(3);
    private static final Duration CLI = Duration.ofMinutes(3);
    /** What the package installs; none of it may be there before, or after the purge. */
    private static final List<Path> INSTALLED = List.of(
            Path.of("/usr/bin/ramswap"),
            Path.of("/usr/lib/ramswap"),
            Path.of("/etc/ramswap"),
            Path.of("/lib/systemd/system/ramswap.service"),
            Path.of("/usr/share/man/man1/ramswap.1.gz"),
            Path.of("/usr/share/bash-completion/completions/ramswap"),
            Path.of("/usr/share/zsh/vendor-completions/_ramswap"),
            Path.of("/usr/share/doc/ramswap"));

    /** As root, with dpkg and tmux, and never over a ramswap package or files this test did not put there. */
    static boolean canRun() {
        return Host.isRoot()
                && Files.isExecutable(Path.of("/usr/bin/dpkg-deb"))
                && Files.isExecutable(Path.of("/usr/bin/tmux"))
                && INSTALLED.stream().noneMatch(Files::exists)
                && dpkg("-s", "ramswap").exitCode() != 0;
    }

    @Test
    void shouldInstallRunUpgradeAndRemoveLeavingTheMachineAsItWas(@TempDir Path out) throws IOException {
        String tag = Host.tag("deb");
        String first = "0.1.0~it" + ProcessHandle.current().pid() + "a";
        String second = "0.1.0~it" + ProcessHandle.current().pid() + "b";
        Path v1 = build(first, out.resolve("1"));
        Path v2 = build(second, out.resolve("2"));
        Path mount = Path.of("/run/ramswap-" + tag);
        try {
            Host.Run install = dpkg("-i", v1.toString());
            assertEquals(0, install.exitCode(), install.output());
            assertEquals("ramswap " + first, run("--version").output().strip());

            checkUnit();
            checkManPages();
            checkCompletion(tag);
            runADaemon(tag, mount, out);

            // an operator's change to the config survives an upgrade
            Path conf = Path.of("/etc/ramswap/ramswap.conf");
            Files.writeString(conf, Files.readString(conf) + "# changed by " + tag + "\n");
            Host.Run upgrade = dpkg("-i", "--force-confold", v2.toString());
            assertEquals(0, upgrade.exitCode(), upgrade.output());
            assertEquals("ramswap " + second, run("--version").output().strip());
            assertTrue(
                    Files.readString(conf).contains("# changed by " + tag), "the upgrade replaced the changed config");

            Host.Run remove = dpkg("-r", "ramswap");
            assertEquals(0, remove.exitCode(), remove.output());
            assertFalse(Files.exists(Path.of("/usr/bin/ramswap")), "removed, the launcher stays");
            assertTrue(Files.exists(conf), "removed, not purged: the config stays");
            Host.Run purge = dpkg("-P", "ramswap");
            assertEquals(0, purge.exitCode(), purge.output());
        } finally {
            if (Files.exists(mount.resolve("status"))) {
                Host.ramswap(CLI, "down", "--mount", mount.toString());
            }
            Host.removeLeftovers(mount);
            if (dpkg("-s", "ramswap").exitCode() == 0) {
                dpkg("-P", "ramswap");
            }
        }
        for (Path p : INSTALLED) {
            assertFalse(Files.exists(p), p + " is left after the purge");
        }
    }

    private static Path build(String version, Path dir) {
        Host.Run r = Host.exec(
                BUILD,
                Map.of(),
                List.of(
                        Host.REPO.resolve("dist/deb/build.sh").toString(),
                        "--version",
                        version,
                        "--out",
                        dir.toString()));
        assertEquals(0, r.exitCode(), r.output());
        Path deb = Path.of(r.output().strip().lines().reduce((a, b) -> b).orElseThrow());
        assertTrue(Files.isRegularFile(deb), "build.sh named " + deb);
        return deb;
    }

    private static void checkUnit() throws IOException {
        String unit = Files.readString(Path.of("/lib/systemd/system/ramswap.service"));
        assertTrue(
                unit.contains("\nExecStart=/usr/bin/ramswap up --mount /run/ramswap @/etc/ramswap/ramswap.conf\n"),
                unit);
        assertTrue(unit.contains("\nExecStop=/usr/bin/ramswap down --mount /run/ramswap"), unit);
        assertFalse(unit.contains("/opt/ramswap"), unit);
        Host.Run verify = Host.exec(
                Duration.ofMinutes(1),
                Map.of(),
                List.of("systemd-analyze", "verify", "--man=no", "/lib/systemd/system/ramswap.service"));
        assertEquals(0, verify.exitCode(), verify.output());
        assertTrue(verify.output().lines().noneMatch(l -> l.contains("ramswap.service")), verify.output());
    }

    /** A page for the command and each subcommand, each formatted by groff with every warning on and none given. */
    private static void checkManPages() {
        for (String page : List.of("ramswap", "ramswap-up", "ramswap-down", "ramswap-status", "ramswap-set")) {
            Host.Run where = Host.exec(Duration.ofSeconds(30), Map.of(), List.of("man", "-w", page));
            assertEquals(0, where.exitCode(), where.output());
            Host.Run format = Host.exec(
                    Duration.ofSeconds(60),
                    Map.of(),
                    List.of(
                            "sh",
                            "-c",
                            "zcat \"$0\" | groff -man -Tutf8 -ww -z",
                            where.output().strip()));
            assertEquals("", format.output().strip(), page + ": groff's warnings");
        }
        Host.Run up = Host.exec(
                Duration.ofSeconds(60), Map.of("MANWIDTH", "100"), List.of("sh", "-c", "man ramswap-up | col -b"));
        assertTrue(up.output().contains("--metrics-dir DIR"), up.output());
        assertTrue(up.output().contains("--lend SIZE"), up.output());
    }

    /** {@code ramswap <TAB>} and {@code ramswap up --metr<TAB>} typed into a real bash and zsh in tmux. */
    private static void checkCompletion(String tag) {
        String bash = type(
                tag + "-bash",
                "bash --norc --noprofile",
                "bind 'set show-all-if-ambiguous on'; source /usr/share/bash-completion/completions/ramswap");
        assertCompleted(bash, "bash");
        if (Files.isExecutable(Path.of("/usr/bin/zsh"))) {
            // Debian's zsh has /usr/share/zsh/vendor-completions on its fpath
            String zsh = type(tag + "-zsh", "zsh -f", "autoload -U compinit && compinit -u");
            assertCompleted(zsh, "zsh");
        } else {
            System.out.println("DebianPackageIT: no zsh on this machine; its completion was not typed");
        }
    }

    private static void assertCompleted(String screen, String shell) {
        assertTrue(screen.contains("--metrics-dir") && screen.contains("--metrics-port"), shell + ":\n" + screen);
        assertTrue(screen.contains("status") && screen.contains("stats"), shell + ":\n" + screen);
    }

    /**
     * What the screen shows after typing the two completions into {@code shell}, set up by
     * {@code setup}: each screen once it shows the completions (a screen that does not within
     * 30 s fails the test, shown). Keys typed ahead
     * wait in the terminal until the shell reads them, so nothing here depends on how fast the
     * shell starts on a busy machine.
     */
    private static String type(String session, String shell, String setup) {
        List<String> tmux = List.of("tmux", "-L", session);
        try {
            tmux(
                    tmux,
                    "new-session",
                    "-d",
                    "-s",
                    session,
                    "-x",
                    "160",
                    "-y",
                    "50",
                    "env -i HOME=/tmp TERM=xterm PATH=/usr/bin:/bin " + shell);
            tmux(tmux, "send-keys", "-t", session, setup, "Enter");
            tmux(tmux, "send-keys", "-t", session, "ramswap st", "Tab");
            tmux(tmux, "send-keys", "-t", session, "Tab");
            // zsh clears a listing once the line changes: keep this screen
            String subcommands = screenWith(tmux, session, "status", "stats");
            tmux(tmux, "send-keys", "-t", session, "C-u");
            tmux(tmux, "send-keys", "-t", session, "Enter");
            tmux(tmux, "send-keys", "-t", session, "ramswap up --metr", "Tab");
            tmux(tmux, "send-keys", "-t", session, "Tab");
            return subcommands + screenWith(tmux, session, "--metrics-dir", "--metrics-port");
        } finally {
            tmux(tmux, "kill-server");
        }
    }

    /** The pane once it shows every one of {@code texts} (on a line after the typed one); fails, showing it, after 30 s. */
    private static String screenWith(List<String> tmux, String session, String... texts) {
        String[] screen = {""};
        try {
            Host.await("the completions " + List.of(texts) + " on screen", Duration.ofSeconds(30), null, () -> {
                screen[0] = tmux(tmux, "capture-pane", "-p", "-t", session).output();
                List<String> listed =
                        screen[0].lines().filter(l -> !l.contains("ramswap ")).toList();
                return List.of(texts).stream().allMatch(t -> listed.stream().anyMatch(l -> l.contains(t)));
            });
        } catch (AssertionError notShown) {
            throw new AssertionError(notShown.getMessage() + ":\n" + screen[0], notShown);
        }
        return screen[0];
    }

    private static Host.Run tmux(List<String> tmux, String... args) {
        List<String> cmd = new ArrayList<>(tmux);
        cmd.addAll(List.of(args));
        return Host.exec(Duration.ofSeconds(30), Map.of(), cmd, () -> {}, false);
    }

    /**
     * The installed launcher starts a daemon on the package's runtime, with its options in an
     * argument file as the unit gives /etc/ramswap/ramswap.conf, and stops it.
     */
    private static void runADaemon(String tag, Path mount, Path dir) throws IOException {
        Path conf = dir.resolve("up.conf");
        int port = 19000 + ThreadLocalRandom.current().nextInt(1000) * 2; // a range no other IT uses
        Files.writeString(
                conf,
                "# as in /etc/ramswap/ramswap.conf\n--size 64M --no-swapon\n--cluster-name " + tag + "\n--port " + port
                        + "\n");
        Host.Run up = run("up", "--mount", mount.toString(), "@" + conf);
        assertEquals(0, up.exitCode(), up.output());
        assertTrue(Files.readString(mount.resolve("status")).contains("live"), "the daemon is not live");
        Host.Run ps = Host.exec(Duration.ofSeconds(30), Map.of(), List.of("ps", "-eo", "args"), () -> {}, false);
        assertTrue(
                ps.output()
                        .lines()
                        .anyMatch(l ->
                                l.startsWith("/usr/lib/ramswap/runtime/bin/java ") && l.contains(mount.toString())),
                "no daemon on the package's runtime:\n" + ps.output());
        Host.Run down = run("down", "--mount", mount.toString());
        assertEquals(0, down.exitCode(), down.output());
    }

    private static Host.Run run(String... args) {
        List<String> cmd = new ArrayList<>(List.of("/usr/bin/ramswap"));
        cmd.addAll(List.of(args));
        return Host.exec(CLI, Map.of(), cmd);
    }

    private static Host.Run dpkg(String... args) {
        List<String> cmd = new ArrayList<>(List.of("dpkg"));
        cmd.addAll(List.of(args));
        return Host.exec(DPKG, Map.of("DEBIAN_FRONTEND", "noninteractive"), cmd, () -> {}, false);
    }
}
