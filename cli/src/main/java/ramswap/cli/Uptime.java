package ramswap.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * When a daemon started, as people read it: the local date and time to the second, and how long
 * ago in the one or two largest units ("3 min ago", "2 h 5 min ago"). The status file keeps the
 * exact instant for programs.
 */
final class Uptime {

    private static final DateTimeFormatter LOCAL = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss");

    private Uptime() {}

    /** "2026-12-05 13:50:25 (3 min ago)". */
    static String describe(Instant started, Instant now, ZoneId zone) {
        return LOCAL.format(started.atZone(zone)) + " (" + ago(Duration.between(started, now)) + ")";
    }

    static String ago(Duration age) {
        long s = Math.max(0, age.toSeconds()); // a clock set back reads as just now
        if (s < 60) {
            return s + " s ago";
        }
        if (s < 3600) {
            return s / 60 + " min ago";
        }
        if (s < 86_400) {
            return s / 3600 + " h" + (s % 3600 / 60 == 0 ? "" : " " + s % 3600 / 60 + " min") + " ago";
        }
        return s / 86_400 + " d" + (s % 86_400 / 3600 == 0 ? "" : " " + s % 86_400 / 3600 + " h") + " ago";
    }
}
