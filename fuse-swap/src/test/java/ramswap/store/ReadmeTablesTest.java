package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * README's knob and counter tables are written by hand for people; this holds them to the
 * {@link Knob} and {@link Counter} enums, so that neither can change without the other: the same
 * names, and for a knob the same default and range wherever the table gives them as numbers.
 */
class ReadmeTablesTest {

    private static final Path README = Path.of("..", "README.md");
    private static final Pattern NAME = Pattern.compile("`([a-z0-9_]+)`");
    private static final Pattern RANGE = Pattern.compile("(-?\\d+)\\.\\.(-?\\d+)");

    @Test
    void shouldListEveryKnobWithItsDefaultAndRange() throws IOException {
        Map<String, String[]> rows = new TreeMap<>();
        for (String[] row : tableRows("## Knobs")) {
            rows.put(onlyName(row[0]), row);
        }
        assertSameNames(Arrays.stream(Knob.values()).map(Knob::fileName).toList(), rows.keySet(), "knob");
        int numbersChecked = 0;
        for (Knob k : Knob.values()) {
            String[] row = rows.get(k.fileName());
            if (row[1].matches("-?\\d+")) {
                assertEquals(k.defaultValue(), Long.parseLong(row[1]), k.fileName() + "'s default in README");
                numbersChecked++;
            }
            Matcher range = RANGE.matcher(row[2]);
            if (range.find() && !row[2].contains("list")) {
                assertEquals(k.min(), Long.parseLong(range.group(1)), k.fileName() + "'s least value in README");
                assertEquals(k.max(), Long.parseLong(range.group(2)), k.fileName() + "'s greatest value in README");
                numbersChecked++;
            }
        }
        assertTrue(numbersChecked > Knob.values().length, "the table's figures were read: " + numbersChecked);
    }

    @Test
    void shouldListEveryCounter() throws IOException {
        TreeSet<String> listed = new TreeSet<>();
        for (String[] row : tableRows("## Counters")) {
            Matcher m = NAME.matcher(row[0]);
            while (m.find()) {
                assertTrue(listed.add(m.group(1)), m.group(1) + " is listed twice");
            }
        }
        assertSameNames(Arrays.stream(Counter.values()).map(Counter::fileName).toList(), listed, "counter");
    }

    private static void assertSameNames(List<String> daemon, java.util.Set<String> readme, String what) {
        TreeSet<String> missing = new TreeSet<>(daemon);
        missing.removeAll(readme);
        TreeSet<String> unknown = new TreeSet<>(readme);
        unknown.removeAll(daemon);
        assertTrue(
                missing.isEmpty() && unknown.isEmpty(),
                "README's " + what + " table: missing " + missing + ", names the daemon does not have " + unknown);
    }

    private static String onlyName(String cell) {
        Matcher m = NAME.matcher(cell);
        assertTrue(m.find(), "no name in " + cell);
        return m.group(1);
    }

    /** The cells of each body row of the first table under {@code heading}, outer pipes dropped. */
    private static List<String[]> tableRows(String heading) throws IOException {
        List<String> lines = Files.readAllLines(README);
        int i = 0;
        while (i < lines.size() && !lines.get(i).startsWith(heading)) {
            i++;
        }
        assertTrue(i < lines.size(), "README has no section " + heading);
        while (i < lines.size() && !lines.get(i).startsWith("|")) {
            i++;
        }
        List<String[]> rows = new ArrayList<>();
        for (i += 2; i < lines.size() && lines.get(i).startsWith("|"); i++) { // past the header and its rule
            String line = lines.get(i).strip();
            rows.add(Arrays.stream(line.substring(1, line.length() - 1).split("\\|"))
                    .map(String::strip)
                    .toArray(String[]::new));
        }
        assertTrue(rows.size() > 5, "the table under " + heading + " has rows");
        return rows;
    }
}
