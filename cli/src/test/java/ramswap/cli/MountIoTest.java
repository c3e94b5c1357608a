package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MountIoTest {

    private final MountIo io = new MountIo(Duration.ofMillis(300));

    @Test
    void shouldReadAFileThatAnswers(@TempDir Path tmp) throws IOException {
        Path f = Files.writeString(tmp.resolve("status"), "state: live\n");
        assertEquals("state: live\n", io.readString(f));
        io.writeString(f, "1\n");
        assertEquals("1\n", io.readString(f));
    }

    @Test
    void shouldPassOnTheFailureOfAFileThatFails(@TempDir Path tmp) {
        assertThrows(NoSuchFileException.class, () -> io.readString(tmp.resolve("missing")));
    }

    /** A FIFO with no writer blocks its reader in open(2), as a stopped FUSE daemon blocks a reader of its mount. */
    @Test
    void shouldGiveUpOnAFileThatDoesNotAnswer(@TempDir Path tmp) throws Exception {
        Path fifo = tmp.resolve("fifo");
        Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).start();
        assertTrue(mkfifo.waitFor(10, TimeUnit.SECONDS) && mkfifo.exitValue() == 0, "mkfifo");
        try {
            MountIo.NoAnswer e = assertThrows(MountIo.NoAnswer.class, () -> io.readString(fifo));
            assertTrue(e.getMessage().contains("no answer within 300 ms"), e.getMessage());
        } finally {
            Files.writeString(fifo, ""); // lets the reader left waiting go: it has the FIFO open by now
        }
    }
}
