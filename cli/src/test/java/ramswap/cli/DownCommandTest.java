package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DownCommandTest {

    private record Outcome(int exitCode, String out, String err) {}

    private static Outcome execute(String... args) {
        StringWriter out = new StringWriter();
        StringWriter err = new StringWriter();
        int code = Main.execute(args, new PrintWriter(out, true), new PrintWriter(err, true));
        return new Outcome(code, out.toString(), err.toString());
    }

    // the mount named is never reached: a bad --timeout is refused before anything else is looked at
    @ParameterizedTest
    @ValueSource(strings = {"0", "-1", "-9223372036854775808", "86401", "9223372036854775807"})
    void shouldRefuseATimeoutOutsideOneSecondToADay(String timeout) {
        Outcome o = execute("down", "--timeout", timeout, "--mount", "/nonexistent/ramswap-down-test");
        assertEquals(RamswapException.USAGE, o.exitCode(), o.err());
        assertTrue(o.err().contains("--timeout must be between 1 and 86400 seconds (a day), not " + timeout), o.err());
    }

    @Test
    void shouldExplainAbortInItsHelp() {
        Outcome o = execute("down", "--help");
        assertEquals(0, o.exitCode());
        assertTrue(o.out().contains("--abort"), o.out());
        assertTrue(o.out().contains("SIGBUS"), o.out());
    }
}
