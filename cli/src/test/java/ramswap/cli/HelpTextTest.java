package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/**
 * Help is wrapped by picocli, never by hand: rendered so wide that picocli wraps nothing, every
 * line of every command's help must end a sentence (or a heading), so no sentence was broken
 * into lines in the source; rendered at picocli's default width, no line is wider than it.
 */
class HelpTextTest {

    private static final int WIDE = 1000;
    private static final int DEFAULT_WIDTH = 80;

    /** Every command's help, by command name, at {@code width}. */
    private static Map<String, String> helpOfEveryCommand(int width) {
        CommandLine main = Main.commandLine();
        main.setUsageHelpWidth(width);
        Map<String, String> help = new java.util.TreeMap<>();
        help.put(main.getCommandName(), main.getUsageMessage(CommandLine.Help.Ansi.OFF));
        for (Map.Entry<String, CommandLine> sub : main.getSubcommands().entrySet()) {
            help.put(sub.getKey(), sub.getValue().getUsageMessage(CommandLine.Help.Ansi.OFF));
        }
        return help;
    }

    @Test
    void shouldBreakNoSentenceAcrossLines() {
        List<String> broken = new ArrayList<>();
        helpOfEveryCommand(WIDE).forEach((command, help) -> {
            String[] lines = help.split("\\R");
            for (int i = 0; i < lines.length; i++) {
                String line = lines[i].stripTrailing();
                boolean last = i + 1 == lines.length || lines[i + 1].isBlank();
                // a synopsis, and an option or parameter without a description, are no sentences
                if (line.isBlank() || line.startsWith("Usage:") || line.strip().matches("\\S+")) {
                    continue;
                }
                if (!line.matches(".*[.:?!]") && !last) {
                    broken.add(command + ": \"" + line.strip() + "\" / \"" + lines[i + 1].strip() + "\"");
                }
                if (!line.matches(".*[.:?!)]")) {
                    broken.add(command + ": \"" + line.strip() + "\" ends mid-sentence");
                }
            }
        });
        assertEquals(List.of(), broken, "lines of --help broken inside a sentence");
    }

    @Test
    void shouldFitEveryLineInPicocliDefaultWidth() {
        List<String> wide = new ArrayList<>();
        helpOfEveryCommand(DEFAULT_WIDTH)
                .forEach((command, help) -> help.lines()
                        .filter(l -> l.length() > DEFAULT_WIDTH)
                        .forEach(l -> wide.add(command + ": " + l)));
        assertEquals(List.of(), wide);
    }

    @Test
    void shouldListEveryKnobInSetsHelp() {
        String help = helpOfEveryCommand(DEFAULT_WIDTH).get("set");
        for (ramswap.store.Knob k : ramswap.store.Knob.values()) {
            assertTrue(help.contains("  " + k.fileName() + " "), k.fileName() + " missing from:\n" + help);
        }
    }
}
