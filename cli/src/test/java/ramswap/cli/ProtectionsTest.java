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
}
