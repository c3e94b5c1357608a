package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;

/** The man pages and the completion name every command and option of the model (DebianPackageIT types and formats them). */
class ShellDocsTest {

    @Test
    void shouldWriteAPagePerCommandWithEveryOptionAndCompleteEveryCommand(@TempDir Path dir) throws Exception {
        ShellDocs.write(dir);
        String bash = Files.readString(dir.resolve("bash-completion/ramswap"));
        String zsh = Files.readString(dir.resolve("zsh/_ramswap"));
        assertTrue(zsh.startsWith("#compdef ramswap\n"), zsh.lines().findFirst().orElse(""));
        String main = Files.readString(dir.resolve("man/ramswap.1"));
        for (var e : Main.commandLine().getSubcommands().entrySet()) {
            if (e.getKey().equals("help")) {
                continue;
            }
            String command = e.getKey();
            assertTrue(bash.contains("_picocli_ramswap_" + command + "()"), "no completion for " + command);
            assertTrue(main.contains("\\fB" + command + "\\fR"), "ramswap(1) does not list " + command);
            String page = Files.readString(dir.resolve("man/ramswap-" + command + ".1"));
            CommandLine cl = e.getValue();
            for (OptionSpec o : cl.getCommandSpec().options()) {
                if (!o.hidden()) {
                    String name = o.longestName().replace("-", "\\-");
                    assertTrue(page.contains("\\fB" + name + "\\fR"), "ramswap-" + command + "(1) lacks " + name);
                    assertTrue(bash.contains("'" + o.longestName() + "'"), "no completion of " + o.longestName());
                }
            }
            for (String line : page.split("\n")) {
                assertTrue(!line.startsWith(".") || line.matches("\\.(\\\\\"|TH|SH|PP|TP|nf|fi)( .*)?"), line);
            }
        }
    }
}
