package ramswap.cli;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs a system tool (losetup, mkswap, swapon ...) with a time limit: a hung kernel call must not hang ramswap. */
public final class Exec {

    public record Result(List<String> command, int exitCode, String output) {
        public boolean ok() {
            return exitCode == 0;
        }

        /** The failure as a sentence: the command, its exit code and what it printed. */
        public String describe() {
            return String.join(" ", command) + " exited with " + exitCode
                    + (output.isBlank() ? "" : ": " + output.strip());
        }
    }

    private Exec() {}

    public static Result run(Duration timeout, String... command) throws RamswapException {
        return run(timeout, List.of(command));
    }

    public static Result run(Duration timeout, List<String> command) throws RamswapException {
        Process p;
        try {
            p = new ProcessBuilder(command)
                    .redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")))
                    .start();
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "cannot run " + command.get(0) + ": " + e.getMessage() + " (is util-linux installed?)",
                    e);
        }
        StringBuilder out = new StringBuilder();
        Thread reader = new Thread(() -> drain(p.getInputStream(), out), "exec-" + command.get(0));
        reader.setDaemon(true);
        reader.start();
        try {
            if (!p.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                p.destroyForcibly();
                throw new RamswapException(
                        RamswapException.FAILED,
                        String.join(" ", command) + " did not finish within " + timeout.toSeconds() + " s");
            }
            reader.join(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            p.destroyForcibly();
            throw new RamswapException(RamswapException.FAILED, "interrupted while running " + command.get(0), e);
        }
        synchronized (out) {
            return new Result(command, p.exitValue(), out.toString());
        }
    }

    private static void drain(InputStream in, StringBuilder out) {
        try (in) {
            byte[] buf = new byte[4096];
            int n;
            while ((n = in.read(buf)) > 0) {
                synchronized (out) {
                    out.append(new String(buf, 0, n, StandardCharsets.UTF_8));
                }
            }
        } catch (IOException ignored) {
            // the process ended; what was read is what there is
        }
    }
}
