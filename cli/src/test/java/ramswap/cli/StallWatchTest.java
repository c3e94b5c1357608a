package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StallWatchTest {

    @Test
    void shouldReportOnceWhenRequestsWaitAndNoneIsTakenThenTheEnd(@TempDir Path dir) throws Exception {
        Path waiting = dir.resolve("waiting");
        Files.writeString(waiting, "3\n");
        AtomicLong taken = new AtomicLong(7);
        List<String> log = new CopyOnWriteArrayList<>();
        StallWatch watch =
                new StallWatch(ramswap.sys.Posix.load(), waiting, taken::get, log::add, Path.of("/run/ramswap-test"));
        try {
            long deadline = System.nanoTime() + 8_000_000_000L;
            while (watch.stall() == null && System.nanoTime() < deadline) {
                watch.doWork();
                Thread.onSpinWait();
            }
            assertNotNull(watch.stall(), "stalled after 5 s of waiting requests and none taken: " + log);
            assertTrue(watch.stall().endsWith("3 requests waiting"), watch.stall());
            assertEquals(1, log.size(), "reported once: " + log);
            assertTrue(
                    log.get(0)
                            .startsWith("STALLED: no request taken for 5 s while 3 wait on /dev/fuse; if it stays so: "
                                    + "sudo ./ramswap down --abort --mount /run/ramswap-test"),
                    log.get(0));
            taken.incrementAndGet();
            deadline = System.nanoTime() + 3_000_000_000L;
            while (watch.stall() != null && System.nanoTime() < deadline) {
                watch.doWork();
                Thread.onSpinWait();
            }
            assertNull(watch.stall());
            assertEquals(2, log.size(), "the end is reported: " + log);
            assertTrue(log.get(1).startsWith("the stall is over"), log.get(1));
        } finally {
            watch.onClose();
        }
    }
}
