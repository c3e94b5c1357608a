package ramswap.e2e;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ThreadLocalRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.api.parallel.ResourceAccessMode;
import org.junit.jupiter.api.parallel.ResourceLock;

/**
 * A daemon's metrics as Prometheus reads them: a node started with {@code --metrics-dir} and
 * {@code --metrics-port} serves a workload written straight into its swap file ({@code --no-swapon}),
 * and both outputs are parsed by the Prometheus project's own Python parser (Debian's
 * {@code python3-prometheus-client}). Every counter and knob of the mount must be there, under its
 * Prometheus name, with the value the mount shows; the histograms must have counted the requests.
 */
@EnabledIf("ramswap.e2e.MetricsIT#canRun")
@ResourceLock(value = Locks.CPU, mode = ResourceAccessMode.READ)
class MetricsIT {

    private static final Path PYTHON = Path.of("/usr/bin/python3");
    private static final int PAGES = 2048;
    /** Prints each sample as name, labels (k=v, sorted, comma-joined) and value, tab-separated; fails on any parse error. */
    private static final String PARSE = """
            import sys
            from prometheus_client.parser import text_string_to_metric_families
            for family in text_string_to_metric_families(sys.stdin.read()):
                for s in family.samples:
                    labels = ','.join(k + '=' + v for k, v in sorted(s.labels.items()))
                    print(family.type + '\\t' + s.name + '\\t' + labels + '\\t' + repr(float(s.value)))
            """;

    static boolean canRun() {
        return Host.canSwap()
                && Host.exec(
                                        Duration.ofSeconds(30),
                                        Map.of(),
                                        List.of(PYTHON.toString(), "-c", "import prometheus_client"))
                                .exitCode()
                        == 0;
    }

    /** One parsed sample. */
    record Sample(String type, String name, String labels, double value) {}

    @Test
    void shouldPublishEveryCounterAndKnobWithTheMountsValueInBothOutputs(@TempDir Path dir) throws Exception {
        String tag = Host.tag("mt");
        // ranges no other IT uses; the metrics port apart from the member's, whose joins probe the ports after it
        int port = 17000 + ThreadLocalRandom.current().nextInt(900);
        int metricsPort = 18000 + ThreadLocalRandom.current().nextInt(1000);
        try (Node node = Node.up(
                tag,
                0,
                "--size",
                "64M",
                "--no-swapon",
                "--port",
                Integer.toString(port),
                "--metrics-dir",
                dir.toString(),
                "--metrics-port",
                Integer.toString(metricsPort))) {
            Path file = dir.resolve("ramswap-" + tag + "-node0.prom");
            assertTrue(Files.exists(file), "no " + file + " at start: " + list(dir));

            PageDriver pages = new PageDriver(node.mount.resolve("swapfile"), 11);
            pages.write(0, PAGES);
            PageDriver.Check check = pages.verify(0, PAGES);
            assertEquals(0, check.mismatches() + check.failedReads(), "the workload read back wrong pages");

            // the port: rendered when asked, between two looks at the mount
            compare(node, tag, () -> parse(scrape(node, metricsPort)), "port");
            // the file: written every 5 s, so its figures are those of some moment after the workload
            Map<String, Long> settled = Host.counters(node.mount);
            FileTime written = Files.getLastModifiedTime(file);
            Host.await("the metrics file rewritten", Duration.ofSeconds(30), null, () -> {
                try {
                    return Files.getLastModifiedTime(file).compareTo(written) > 0;
                } catch (IOException e) {
                    return false;
                }
            });
            assertTrue(settled.get("pages_written") >= PAGES);
            compare(node, tag, () -> parse(Files.readString(file)), "file");

            List<Sample> samples = parse(scrape(node, metricsPort));
            assertEquals(
                    value(samples, "ramswap_request_serve_seconds_count", labels(tag, "op=write")),
                    value(samples, "ramswap_request_serve_seconds_bucket", labels(tag, "le=+Inf", "op=write")),
                    "the +Inf bucket holds every write");
            assertTrue(
                    value(samples, "ramswap_request_serve_seconds_count", labels(tag, "op=write")) >= PAGES / 32.0,
                    "the serving threads' write times counted the workload's writes");
            assertTrue(value(samples, "ramswap_request_serve_seconds_count", labels(tag, "op=read")) >= PAGES / 32.0);
            assertEquals("histogram", type(samples, "ramswap_remote_fetch_seconds_count"));
            assertEquals("counter", type(samples, "ramswap_pages_written_total"));
            assertEquals("gauge", type(samples, "ramswap_stored_pages"));
        }
        assertFalse(
                Files.exists(dir.resolve("ramswap-" + tag + "-node0.prom")),
                "the file outlived its node: " + list(dir));
    }

    private interface Read {
        List<Sample> get() throws Exception;
    }

    /**
     * Every counter of the mount is in {@code read}'s samples with the cluster's and node's labels
     * and a value between two looks at the mount around it (some gauges move on their own, such as
     * the resident size); a few tries, since such a gauge may move twice in between. Every knob has
     * the value of its file.
     */
    private static void compare(Node node, String cluster, Read read, String what) throws Exception {
        String labels = labels(cluster);
        AssertionError last = null;
        for (int attempt = 0; attempt < 5; attempt++) {
            Map<String, Long> before = Host.counters(node.mount);
            List<Sample> samples = read.get();
            Map<String, Long> after = Host.counters(node.mount);
            try {
                assertFalse(before.isEmpty());
                for (Map.Entry<String, Long> e : before.entrySet()) {
                    String name = e.getKey();
                    double got = value(samples, prometheusName(name, samples), labels);
                    double scale = name.endsWith("_us") ? 1e-6 : 1;
                    double low = Math.min(e.getValue(), after.get(name)) * scale;
                    double high = Math.max(e.getValue(), after.get(name)) * scale;
                    assertTrue(
                            got >= low - 1e-9 && got <= high + 1e-9,
                            what + ": " + name + " is " + got + ", the mount showed " + low + ".." + high);
                }
                for (Map.Entry<String, String> k : knobs(node.mount).entrySet()) {
                    String name = k.getKey().replace("_ms", "_seconds")
                            + (k.getKey().equals("selfshrink_interval") ? "_seconds" : "");
                    double scale = k.getKey().endsWith("_ms") ? 1e-3 : 1;
                    String text = k.getValue().split(",")[0]; // the target list's value is its first node
                    assertEquals(
                            Long.parseLong(text.equals("-1") || text.isEmpty() ? "-1" : text) * scale,
                            value(samples, "ramswap_knob_" + name, labels),
                            1e-9,
                            what + ": knob " + k.getKey());
                }
                return;
            } catch (AssertionError e) {
                last = e;
            }
        }
        throw last;
    }

    /**
     * The Prometheus name of the counter {@code stat} of the mount, by the rules docs/metrics.md gives: base units,
     * and {@code _total} on a count of events, which the parsed type says.
     */
    private static String prometheusName(String stat, List<Sample> samples) {
        String base = "ramswap_" + stat.replace("zbytes", "compressed_bytes").replaceFirst("_us$", "_seconds");
        for (Sample s : samples) {
            if (s.name().equals(base + "_total") && s.type().equals("counter")) {
                return base + "_total";
            }
        }
        return base;
    }

    private static Map<String, String> knobs(Path mount) throws IOException {
        Map<String, String> m = new HashMap<>();
        try (var files = Files.list(mount.resolve("ramster"))) {
            for (Path p : files.toList()) {
                String text = Files.readString(p).strip();
                if (text.matches("-?[0-9]+(,[0-9]+)*")) {
                    m.put(p.getFileName().toString(), text);
                }
            }
        }
        return m;
    }

    /** A sample's labels as {@link #PARSE} prints them: the node's and {@code more} ("op=read"), sorted. */
    private static String labels(String cluster, String... more) {
        List<String> all = new ArrayList<>(List.of("cluster=" + cluster, "node=0"));
        all.addAll(List.of(more));
        java.util.Collections.sort(all);
        return String.join(",", all);
    }

    private static double value(List<Sample> samples, String name, String labels) {
        List<String> seen = new ArrayList<>();
        for (Sample s : samples) {
            if (s.name().equals(name)) {
                if (s.labels().equals(labels)) {
                    return s.value();
                }
                seen.add(s.labels());
            }
        }
        throw new AssertionError("no sample " + name + "{" + labels + "}; with other labels: " + seen);
    }

    private static String type(List<Sample> samples, String name) {
        return samples.stream()
                .filter(s -> s.name().equals(name))
                .findFirst()
                .orElseThrow(() -> new AssertionError("no sample " + name))
                .type();
    }

    /** The port's answer; one that does not come within 30 s fails, with the daemon's Java threads (where its answer is stuck). */
    private static String scrape(Node node, int port) throws IOException, InterruptedException {
        HttpClient client =
                HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
        HttpResponse<String> r;
        try {
            r = client.send(
                    HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/metrics"))
                            .timeout(Duration.ofSeconds(30))
                            .build(),
                    HttpResponse.BodyHandlers.ofString());
        } catch (java.net.http.HttpTimeoutException e) {
            Host.Run threads = Host.exec(
                    Duration.ofSeconds(60), Map.of(), List.of("jcmd", Long.toString(node.pid()), "Thread.print"));
            throw new AssertionError(
                    "no answer from the metrics port within 30 s; the daemon's threads:\n" + threads.output(), e);
        }
        assertEquals(200, r.statusCode());
        assertTrue(
                r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"),
                r.headers().toString());
        return r.body();
    }

    /** The text parsed by Prometheus's Python parser, which fails on anything it does not accept. */
    private static List<Sample> parse(String text) throws IOException {
        Path in = Files.createTempFile("ramswap-metrics", ".prom");
        try {
            Files.writeString(in, text);
            Host.Run r = Host.exec(
                    Duration.ofSeconds(60),
                    Map.of(),
                    List.of("sh", "-c", "exec \"$0\" -c \"$1\" < \"$2\"", PYTHON.toString(), PARSE, in.toString()),
                    () -> {},
                    false);
            assertEquals(0, r.exitCode(), "Prometheus's parser refused the text:\n" + r.output());
            List<Sample> samples = new ArrayList<>();
            for (String line : r.output().split("\n")) {
                String[] f = line.split("\t", -1);
                if (f.length == 4) {
                    samples.add(new Sample(f[0], f[1], f[2], Double.parseDouble(f[3])));
                }
            }
            assertTrue(samples.size() > 50, "parsed only " + samples.size() + " samples:\n" + r.output());
            return samples;
        } finally {
            Files.delete(in);
        }
    }

    private static String list(Path dir) throws IOException {
        try (var files = Files.list(dir)) {
            return files.map(p -> p.getFileName().toString()).toList().toString();
        }
    }
}
