package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

class ProtectionsTest {

    /** The kernel answers a read of a sysctl at a non-zero offset with end of file: all digits must come in one read. */
    @Test
    void shouldReadAWholeMultiDigitSysctl() throws IOException, InterruptedException {
        Process cat = new ProcessBuilder("cat", "/proc/sys/kernel/pid_max").start();
        String expected = new String(cat.getInputStream().readAllBytes(), StandardCharsets.US_ASCII).strip();
        assertTrue(cat.waitFor(10, TimeUnit.SECONDS));
        assertTrue(expected.length() > 1, "pid_max has more than one digit: " + expected);
        assertEquals(expected, Protections.readSysctl("kernel/pid_max"));
    }

    @Test
    void shouldAnswerEmptyForAMissingSysctl() {
        assertEquals("", Protections.readSysctl("vm/no_such_sysctl"));
    }

    @Test
    void shouldWarnOnlyOnAKernelWhoseFaultsTakeTheProcesssMmapLock() {
        assertTrue(Protections.kernelAdvice("6.1.0-57-amd64").orElseThrow().contains("6.4"));
        assertTrue(Protections.kernelAdvice("5.10.0-30-amd64").isPresent());
        assertTrue(Protections.kernelAdvice("6.3.13").isPresent());
        assertTrue(Protections.kernelAdvice("6.4.0").isEmpty());
        assertTrue(Protections.kernelAdvice("6.18.44").isEmpty());
        assertTrue(Protections.kernelAdvice("7.0.1").isEmpty());
        assertTrue(Protections.kernelAdvice("unknown").isEmpty(), "no guess when the version cannot be read");
    }
}
