package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

/** The start of a daemon as status prints it: local time to the second, and how long ago. */
class UptimeTest {

    @Test
    void shouldPrintLocalTimeToTheSecondAndTheAge() {
        Instant started = Instant.parse("2026-12-05T12:50:25.300309476Z");
        assertEquals(
                "2026-12-05 13:50:25 (3 min ago)",
                Uptime.describe(started, started.plusSeconds(200), ZoneId.of("Europe/Berlin")));
    }

    @Test
    void shouldSayTheAgeInItsTwoLargestUnits() {
        assertEquals("0 s ago", Uptime.ago(Duration.ofMillis(400)));
        assertEquals("59 s ago", Uptime.ago(Duration.ofSeconds(59)));
        assertEquals("1 min ago", Uptime.ago(Duration.ofSeconds(60)));
        assertEquals("2 h ago", Uptime.ago(Duration.ofHours(2)));
        assertEquals("2 h 5 min ago", Uptime.ago(Duration.ofMinutes(125)));
        assertEquals("3 d 4 h ago", Uptime.ago(Duration.ofHours(76)));
        assertEquals("0 s ago", Uptime.ago(Duration.ofSeconds(-5)), "a clock set back");
    }
}
