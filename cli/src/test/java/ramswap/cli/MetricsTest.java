package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.internal.json.Json;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.Latencies;

/** The names and units Prometheus sees, and the MBean JMX sees; docs/metrics.md lists the rules. */
class MetricsTest {

    private final Counters counters = new Counters();
    private final Knobs knobs = new Knobs();
    private final Latencies fetches = new Latencies();

    private Metrics metrics(String cluster) {
        return new Metrics(cluster, 7, counters, knobs, () -> {}, fetches, new Latencies(), new Latencies());
    }

    @Test
    void shouldNameEveryCounterAndKnobOnceByPrometheusConventions() {
        Set<String> names = new HashSet<>();
        for (Counter c : Counter.values()) {
            String n = Metrics.name(c);
            assertTrue(n.matches("ramswap_[a-z0-9_]+"), n);
            assertEquals(!c.isGauge(), n.endsWith("_total"), n);
            assertTrue(names.add(n), "twice: " + n);
        }
        for (Knob k : Knob.values()) {
            assertTrue(names.add(Metrics.name(k)), "twice: " + Metrics.name(k));
        }
        assertEquals("ramswap_pages_written_total", Metrics.name(Counter.PAGES_WRITTEN));
        assertEquals("ramswap_remote_pers_compressed_bytes", Metrics.name(Counter.REMOTE_PERS_ZBYTES));
        assertEquals("ramswap_remote_fetch_p99_seconds", Metrics.name(Counter.REMOTE_FETCH_P99_US));
        assertEquals("ramswap_knob_remote_timeout_seconds", Metrics.name(Knob.REMOTE_TIMEOUT_MS));
        assertEquals("ramswap_knob_selfshrink_interval_seconds", Metrics.name(Knob.SELFSHRINK_INTERVAL));
    }

    @Test
    void shouldWriteBaseUnitsCumulativeBucketsAndEscapedLabels() {
        counters.set(Counter.REMOTE_FETCH_P50_US, 1_500);
        counters.add(Counter.PAGES_WRITTEN, 42);
        fetches.recordMicros(80);
        fetches.recordMicros(3_000);
        fetches.recordMicros(3_000);
        String text = new String(metrics("a\"b\\c").render(), StandardCharsets.UTF_8);
        String labels = "cluster=\"a\\\"b\\\\c\",node=\"7\"";
        assertTrue(text.contains("ramswap_pages_written_total{" + labels + "} 42\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_p50_seconds{" + labels + "} 0.0015\n"), text);
        assertTrue(text.contains("ramswap_knob_remote_timeout_seconds{" + labels + "} 30.0\n"), text);
        assertTrue(text.contains("# TYPE ramswap_remote_fetch_seconds histogram\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_seconds_bucket{le=\"0.00005\"," + labels + "} 0\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_seconds_bucket{le=\"0.0001\"," + labels + "} 1\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_seconds_bucket{le=\"0.0025\"," + labels + "} 1\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_seconds_bucket{le=\"0.005\"," + labels + "} 3\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_seconds_bucket{le=\"+Inf\"," + labels + "} 3\n"), text);
        assertTrue(text.contains("ramswap_remote_fetch_seconds_count{" + labels + "} 3\n"), text);
        for (String line : text.split("\n")) {
            assertTrue(
                    line.startsWith("# HELP ramswap_")
                            || line.startsWith("# TYPE ramswap_")
                            || line.matches("ramswap_[a-z0-9_]+\\{.*\\} -?[0-9.E+-]+"),
                    line);
        }
    }

    /** Every metric the Grafana dashboard in dist/grafana names is one the daemon writes, and the file is JSON. */
    @Test
    void shouldWriteEveryMetricTheDashboardNames() throws Exception {
        String dashboard = Files.readString(Path.of("..", "dist", "grafana", "ramswap-dashboard.json"));
        assertTrue(Json.parse(dashboard).isObject());
        Set<String> written = new HashSet<>();
        for (String line : new String(metrics("any").render(), StandardCharsets.UTF_8).split("\n")) {
            if (!line.startsWith("#")) {
                written.add(line.substring(0, line.indexOf('{')));
            }
        }
        Matcher m = Pattern.compile("ramswap_[a-z0-9_]+").matcher(dashboard);
        int named = 0;
        while (m.find()) {
            named++;
            assertTrue(written.contains(m.group()), "the dashboard names " + m.group() + ", which no node writes");
        }
        assertTrue(named > 20, "the dashboard names only " + named + " metrics");
    }

    @Test
    void shouldShowTheCountersAndKnobsAsAnMBeanInThePlatformServer() throws Exception {
        counters.add(Counter.PAGES_READ, 5);
        MBeanServer server = ManagementFactory.getPlatformMBeanServer();
        ObjectName name = new ObjectName("ramswap:type=Node,cluster=\"metrics-test\",node=7");
        server.registerMBean(new MetricsBean(metrics("metrics-test")), name);
        try {
            assertEquals(5L, server.getAttribute(name, "pages_read"));
            assertEquals(30_000L, server.getAttribute(name, "remote_timeout_ms"));
            assertEquals(
                    Counter.values().length + Knob.values().length,
                    server.getMBeanInfo(name).getAttributes().length);
        } finally {
            server.unregisterMBean(name);
        }
    }
}
