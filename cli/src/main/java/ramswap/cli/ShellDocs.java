package ramswap.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import picocli.AutoComplete;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Model.UsageMessageSpec;

/**
 * Bash and zsh completion and the man pages, made from the same picocli model that {@code --help}
 * prints, so that none of them can say something the command does not do. The package build runs
 * it ({@code dist/deb/build.sh}):
 *
 * <pre>java -cp ramswap.jar ramswap.cli.ShellDocs OUTDIR</pre>
 *
 * <p>writes {@code OUTDIR/bash-completion/ramswap}, {@code OUTDIR/zsh/_ramswap} and
 * {@code OUTDIR/man/ramswap.1} with a page per subcommand ({@code ramswap-up.1}, ...).
 */
public final class ShellDocs {

    private static final Set<String> STANDARD_SECTIONS = Set.of(
            UsageMessageSpec.SECTION_KEY_HEADER_HEADING,
            UsageMessageSpec.SECTION_KEY_HEADER,
            UsageMessageSpec.SECTION_KEY_SYNOPSIS_HEADING,
            UsageMessageSpec.SECTION_KEY_SYNOPSIS,
            UsageMessageSpec.SECTION_KEY_DESCRIPTION_HEADING,
            UsageMessageSpec.SECTION_KEY_DESCRIPTION,
            UsageMessageSpec.SECTION_KEY_PARAMETER_LIST_HEADING,
            UsageMessageSpec.SECTION_KEY_AT_FILE_PARAMETER,
            UsageMessageSpec.SECTION_KEY_PARAMETER_LIST,
            UsageMessageSpec.SECTION_KEY_OPTION_LIST_HEADING,
            UsageMessageSpec.SECTION_KEY_OPTION_LIST,
            UsageMessageSpec.SECTION_KEY_END_OF_OPTIONS,
            UsageMessageSpec.SECTION_KEY_COMMAND_LIST_HEADING,
            UsageMessageSpec.SECTION_KEY_COMMAND_LIST,
            UsageMessageSpec.SECTION_KEY_EXIT_CODE_LIST_HEADING,
            UsageMessageSpec.SECTION_KEY_EXIT_CODE_LIST,
            UsageMessageSpec.SECTION_KEY_FOOTER_HEADING,
            UsageMessageSpec.SECTION_KEY_FOOTER);

    private ShellDocs() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: java -cp ramswap.jar ramswap.cli.ShellDocs OUTDIR");
            System.exit(RamswapException.USAGE);
        }
        write(Path.of(args[0]));
    }

    /** Writes the completion scripts and the man pages under {@code dir}. */
    static void write(Path dir) throws IOException {
        CommandLine cl = Main.commandLine();
        Path bash = dir.resolve("bash-completion/ramswap");
        Files.createDirectories(bash.getParent());
        String script = bash(cl);
        Files.writeString(bash, script, StandardCharsets.UTF_8);
        Path zsh = dir.resolve("zsh/_ramswap");
        Files.createDirectories(zsh.getParent());
        Files.writeString(zsh, zsh(script), StandardCharsets.UTF_8);
        Path man = dir.resolve("man");
        Files.createDirectories(man);
        Files.writeString(man.resolve("ramswap.1"), page(cl, version()), StandardCharsets.UTF_8);
        for (Map.Entry<String, CommandLine> sub : cl.getSubcommands().entrySet()) {
            if (!sub.getValue().getCommandSpec().usageMessage().hidden()
                    && !sub.getKey().equals("help")) {
                Files.writeString(
                        man.resolve("ramswap-" + sub.getKey() + ".1"),
                        page(sub.getValue(), version()),
                        StandardCharsets.UTF_8);
            }
        }
    }

    /** picocli's bash completion for every command and option; zsh runs it through bashcompinit. */
    private static String bash(CommandLine cl) {
        return AutoComplete.bash("ramswap", cl);
    }

    private static String zsh(String bashScript) {
        return "#compdef ramswap\n"
                + "# ramswap's completion for zsh: picocli's bash completion, run by zsh's bashcompinit\n"
                + "autoload -U +X bashcompinit && bashcompinit\n"
                // bash's compopt, which the script calls when it exists, has no zsh twin: one that does nothing
                + "(( $+functions[compopt] )) || compopt() { return 0 }\n"
                + bashScript.replaceFirst("(?m)^#!.*\n", "")
                + "\n_bash_complete -F _complete_ramswap -o default \"$@\"\n";
    }

    private static String version() {
        return new Main.Version().getVersion()[0];
    }

    // ================================================================ man pages

    /** One man page in roff: NAME, SYNOPSIS, DESCRIPTION, OPTIONS, COMMANDS, the extra sections, the footer. */
    static String page(CommandLine cl, String version) {
        CommandSpec spec = cl.getCommandSpec();
        String name = spec.qualifiedName("-");
        CommandLine.Help help = cl.getHelp();
        StringBuilder b = new StringBuilder();
        b.append(".\\\" made by ramswap.cli.ShellDocs from the command's own help; do not edit\n");
        b.append(".TH ")
                .append(name.toUpperCase(Locale.ROOT))
                .append(" 1 \"\" \"")
                .append(escape(version))
                .append("\" \"ramswap\"\n");
        List<String> description = new ArrayList<>(List.of(spec.usageMessage().description()));
        description.removeIf(String::isBlank);
        String summary = description.isEmpty() ? "" : firstSentence(description.get(0));
        b.append(".SH NAME\n")
                .append(name)
                .append(" \\- ")
                .append(escape(summary))
                .append('\n');
        b.append(".SH SYNOPSIS\n.nf\n")
                .append(lines(help.synopsis(0).stripTrailing()))
                .append("\n.fi\n");
        if (!description.isEmpty()) {
            b.append(".SH DESCRIPTION\n");
            for (String paragraph : description) {
                b.append(".PP\n").append(lines(paragraph)).append('\n');
            }
        }
        List<PositionalParamSpec> positionals =
                spec.positionalParameters().stream().filter(p -> !p.hidden()).toList();
        if (!positionals.isEmpty()) {
            b.append(".SH ARGUMENTS\n");
            for (PositionalParamSpec p : positionals) {
                b.append(".TP\n\\fI").append(escape(p.paramLabel())).append("\\fR\n");
                b.append(lines(String.join(" ", p.description()))).append('\n');
            }
        }
        List<OptionSpec> options =
                spec.options().stream().filter(o -> !o.hidden()).toList();
        if (!options.isEmpty()) {
            b.append(".SH OPTIONS\n");
            for (OptionSpec o : options) {
                b.append(".TP\n").append(optionHead(o)).append('\n');
                b.append(lines(String.join(" ", o.description()))).append('\n');
            }
        }
        List<Map.Entry<String, CommandLine>> subs = cl.getSubcommands().entrySet().stream()
                .filter(e -> !e.getValue().getCommandSpec().usageMessage().hidden())
                .toList();
        if (!subs.isEmpty()) {
            b.append(".SH COMMANDS\n");
            for (Map.Entry<String, CommandLine> e : subs) {
                String[] d = e.getValue().getCommandSpec().usageMessage().description();
                b.append(".TP\n\\fB").append(escape(e.getKey())).append("\\fR\n");
                b.append(lines(d.length == 0 ? "" : d[0])).append('\n');
            }
        }
        for (String key : cl.getHelpSectionKeys()) {
            if (STANDARD_SECTIONS.contains(key)) {
                continue;
            }
            CommandLine.IHelpSectionRenderer renderer = cl.getHelpSectionMap().get(key);
            if (renderer == null) {
                continue;
            }
            String text = renderer.render(help).strip();
            String heading = text.lines().findFirst().orElse(key).replaceAll(":$", "");
            String body = text.lines().skip(1).reduce((x, y) -> x + "\n" + y).orElse("");
            b.append(".SH ").append(escape(heading.toUpperCase(Locale.ROOT))).append('\n');
            b.append(".nf\n").append(lines(body)).append("\n.fi\n");
        }
        List<String> footer = new ArrayList<>(List.of(spec.usageMessage().footer()));
        footer.removeIf(String::isBlank);
        if (!footer.isEmpty()) {
            b.append(".SH NOTES\n");
            for (String paragraph : footer) {
                b.append(".PP\n").append(lines(paragraph)).append('\n');
            }
        }
        b.append(".SH SEE ALSO\n");
        b.append(
                spec.parent() == null
                        ? subs.stream()
                                .filter(e -> !e.getKey().equals("help"))
                                .map(e -> "\\fBramswap\\-" + escape(e.getKey()) + "\\fR(1)")
                                .reduce((x, y) -> x + ", " + y)
                                .orElse("")
                        : "\\fBramswap\\fR(1)");
        b.append("\n.PP\nThe README and docs/ of ramswap.\n");
        return b.toString();
    }

    private static String optionHead(OptionSpec o) {
        StringBuilder b = new StringBuilder();
        for (String n : o.names()) {
            if (b.length() > 0) {
                b.append(", ");
            }
            b.append("\\fB").append(escape(n)).append("\\fR");
        }
        if (o.arity().max() > 0) {
            b.append(" \\fI").append(escape(o.paramLabel())).append("\\fR");
        }
        return b.toString();
    }

    private static String firstSentence(String s) {
        int dot = s.indexOf(". ");
        int colon = s.indexOf(": ");
        int end = dot < 0 ? colon : colon < 0 ? dot : Math.min(dot, colon);
        return (end < 0 ? s : s.substring(0, end)).replaceAll("\\.$", "");
    }

    /** Text as roff lines: escaped, and no line starting with a control character. */
    private static String lines(String text) {
        StringBuilder b = new StringBuilder();
        for (String line : text.split("\n", -1)) {
            String l = escape(line);
            if (l.startsWith(".") || l.startsWith("'")) {
                l = "\\&" + l;
            }
            if (b.length() > 0) {
                b.append('\n');
            }
            b.append(l);
        }
        return b.toString();
    }

    private static String escape(String s) {
        return s.replace("\\", "\\e").replace("-", "\\-");
    }
}
