package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;

/** The reserve in a JVM started with the daemon's own options, and in one without the reclaim policy. */
class MetaspaceReserveTest {

    /** Run in a forked JVM: commits the reserve and prints whether it stayed committed. */
    public static void main(String[] args) {
        MetaspaceReserve.Result r = MetaspaceReserve.commit().orElseThrow();
        System.out.println("held=" + r.held() + " classes=" + r.classes() + " " + r.describe());
    }

    @Test
    void shouldStayCommittedAndFreeUnderTheDaemonsOptions() throws Exception {
        UpCommand up = new UpCommand();
        new CommandLine(up).parseArgs("--size", "64M", "--mount", "/nonexistent/ramswap-metaspace-test");
        List<String> options = new ArrayList<>(UpCommand.jvmOptions(up.config()));
        options.removeIf(o -> o.startsWith("-Xm") || o.equals("-XX:+AlwaysPreTouch")); // a small heap will do
        String out = fork(options);
        assertTrue(out.contains("held=true"), out);
    }

    @Test
    void shouldBeUncommittedAgainWithoutTheReclaimPolicy() throws Exception {
        // what the option buys: the JVM's default gives the chunks back to the kernel at the collection
        String out = fork(List.of("-XX:+UseSerialGC", "-XX:MetaspaceReclaimPolicy=balanced"));
        assertFalse(out.contains("held=true"), out);
        assertTrue(out.contains("held=false"), out);
    }

    @Test
    void shouldWriteAClassFileTheJvmDefines() {
        byte[] bytes = MetaspaceReserve.classFile("ramswap/reserve/Probe", 3);
        Class<?> c = new ClassLoader(null) {
            Class<?> define() {
                return defineClass("ramswap.reserve.Probe", bytes, 0, bytes.length);
            }
        }.define();
        assertEquals(3, c.getDeclaredMethods().length);
        assertEquals("ramswap.reserve.Probe", c.getName());
    }

    private static String fork(List<String> options) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(options);
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(MetaspaceReserveTest.class.getName());
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        try {
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the forked JVM ran for a minute");
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), out);
            return out;
        } finally {
            p.destroyForcibly();
        }
    }
}
