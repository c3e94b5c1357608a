package ramswap.cli;

import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Help.Column;
import picocli.CommandLine.Help.TextTable;
import ramswap.store.Knob;

/**
 * The knobs section of {@code ramswap set --help}: every knob with its range, default and meaning,
 * taken from {@link Knob} so that the help cannot miss one, and laid out by picocli's table so
 * that a long meaning wraps in its own column at any width.
 */
final class KnobTable implements CommandLine.IHelpSectionRenderer {

    static final String SECTION_KEY = "knobs";
    private static final String HEADING = "Knobs, with their ranges and defaults:";

    /** Puts the section after the options, before the footer. */
    static void addTo(CommandLine command) {
        command.getHelpSectionMap().put(SECTION_KEY, new KnobTable());
        List<String> keys = new ArrayList<>(command.getHelpSectionKeys());
        keys.add(keys.indexOf(CommandLine.Model.UsageMessageSpec.SECTION_KEY_FOOTER_HEADING), SECTION_KEY);
        command.setHelpSectionKeys(keys);
    }

    @Override
    public String render(Help help) {
        int nameWidth = 0;
        for (Knob k : Knob.values()) {
            nameWidth = Math.max(nameWidth, k.fileName().length());
        }
        int first = nameWidth + 4; // two of indent, two between the columns
        int width = help.commandSpec().usageMessage().width();
        TextTable table = TextTable.forColumns(
                help.colorScheme(),
                new Column(first, 2, Column.Overflow.SPAN),
                new Column(width - first, 0, Column.Overflow.WRAP));
        for (Knob k : Knob.values()) {
            table.addRowValues(k.fileName(), range(k) + ": " + k.description() + ".");
        }
        return String.format("%n%s%n", HEADING) + table;
    }

    static String range(Knob k) {
        if (k.isList()) {
            return "-1, N or N,M,..., default -1";
        }
        if (k == Knob.POOL_MAX_BYTES) {
            return "bytes"; // its default is the daemon's, from --pool-max
        }
        String range = k.max() == Long.MAX_VALUE ? k.min() + " or more" : k.min() + ".." + k.max();
        return range + ", default " + k.defaultValue();
    }
}
