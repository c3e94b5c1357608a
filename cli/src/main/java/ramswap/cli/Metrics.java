package ramswap.cli;

import java.nio.charset.StandardCharsets;
import java.util.List;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.Latencies;

/**
 * One node's counters, knobs and latencies in Prometheus's text format (0.0.4), named by its
 * conventions: {@code ramswap_} and the name the mount's {@code stats} file gives, {@code _total}
 * on a count of events, base units ({@code _us} and {@code _ms} become {@code _seconds}, a
 * compressed size {@code _compressed_bytes}), knobs as {@code ramswap_knob_*}, and the labels
 * {@code cluster} and {@code node} on every sample. Rendered when asked, never by a serving thread.
 */
final class Metrics {

    static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

    /** The latency histograms' bucket bounds in microseconds: 50 µs to 60 s. */
    private static final long[] BOUNDS_MICROS = {
        50,
        100,
        250,
        500,
        1_000,
        2_500,
        5_000,
        10_000,
        25_000,
        50_000,
        100_000,
        250_000,
        500_000,
        1_000_000,
        2_500_000,
        10_000_000,
        30_000_000,
        60_000_000
    };

    private static final String[] LE =
            java.util.Arrays.stream(BOUNDS_MICROS).mapToObj(Metrics::seconds).toArray(String[]::new);

    /** A latency histogram of the node: its metric name, its help, and its series by label. */
    private record Timed(String name, String help, String label, List<Series> series) {}

    /** One series of a histogram: the label's value ("read"), or null for a histogram without one. */
    private record Series(String value, Latencies times) {}

    private final String cluster;
    private final int node;
    private final String labels;
    private final Counters counters;
    private final Knobs knobs;
    private final Runnable refresh;
    private final List<Timed> timed;
    /** Each bound's cumulative count, and the total last (the +Inf bucket). */
    private final long[] counts = new long[BOUNDS_MICROS.length + 1];

    private final StringBuilder text = new StringBuilder(32 * 1024);

    /**
     * @param refresh run before each rendering, to bring the gauges the store keeps elsewhere
     *                (the pool's size, the fetch percentiles) into {@code counters}
     * @param fetches every remote fetch's time
     * @param reads   the serving threads' time on each read of the swap file
     * @param writes  and on each write
     */
    Metrics(
            String cluster,
            int node,
            Counters counters,
            Knobs knobs,
            Runnable refresh,
            Latencies fetches,
            Latencies reads,
            Latencies writes) {
        this.cluster = cluster;
        this.node = node;
        this.labels = "cluster=\"" + escapeLabel(cluster) + "\",node=\"" + node + "\"";
        this.counters = counters;
        this.knobs = knobs;
        this.refresh = refresh;
        this.timed = List.of(
                new Timed(
                        "ramswap_remote_fetch_seconds",
                        "time from asking for a request's remote pages to having them, since start",
                        "",
                        List.of(new Series(null, fetches))),
                new Timed(
                        "ramswap_request_serve_seconds",
                        "a serving thread's time on a request to the swap file, reply included"
                                + " (a parked read's: until it parked), since start",
                        "op",
                        List.of(new Series("read", reads), new Series("write", writes))));
    }

    /** The whole exposition, as it stands now. */
    synchronized byte[] render() {
        refresh.run();
        StringBuilder b = text;
        b.setLength(0);
        for (Counter c : Counter.values()) {
            String name = name(c);
            head(b, name, c.description(), c.isGauge() ? "gauge" : "counter");
            sample(b, name, "", value(counters.get(c), scale(c.fileName())));
        }
        for (Knob k : Knob.values()) {
            String name = name(k);
            head(b, name, "knob " + k.fileName() + ": " + k.description(), "gauge");
            sample(b, name, "", value(knobs.get(k), scale(k.fileName())));
        }
        for (Timed t : timed) {
            head(b, t.name(), t.help(), "histogram");
            for (Series s : t.series()) {
                String label = s.value() == null ? "" : t.label() + "=\"" + escapeLabel(s.value()) + "\",";
                double sumMicros = s.times().cumulative(BOUNDS_MICROS, counts);
                long total = counts[BOUNDS_MICROS.length];
                for (int i = 0; i < BOUNDS_MICROS.length; i++) {
                    sample(b, t.name() + "_bucket", label + "le=\"" + LE[i] + "\",", Long.toString(counts[i]));
                }
                sample(b, t.name() + "_bucket", label + "le=\"+Inf\",", Long.toString(total));
                sample(b, t.name() + "_sum", label, Double.toString(sumMicros / 1e6));
                sample(b, t.name() + "_count", label, Long.toString(total));
            }
        }
        return b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** The cluster's name, as the {@code cluster} label gives it. */
    String cluster() {
        return cluster;
    }

    /** The node's number, as the {@code node} label gives it. */
    int node() {
        return node;
    }

    Counters counters() {
        return counters;
    }

    Knobs knobs() {
        return knobs;
    }

    /** Brings the gauges the store keeps elsewhere into the counters. */
    void refresh() {
        refresh.run();
    }

    /** The metric a counter is published as: its {@code stats} name by the rules above. */
    static String name(Counter c) {
        return "ramswap_" + baseUnits(c.fileName()) + (c.isGauge() ? "" : "_total");
    }

    /** The metric a knob is published as. */
    static String name(Knob k) {
        String n = baseUnits(k.fileName());
        return "ramswap_knob_" + (k == Knob.SELFSHRINK_INTERVAL ? n + "_seconds" : n);
    }

    private static String baseUnits(String fileName) {
        String n = fileName.replace("zbytes", "compressed_bytes");
        if (n.endsWith("_us") || n.endsWith("_ms")) {
            n = n.substring(0, n.length() - 3) + "_seconds";
        }
        return n;
    }

    /** What a figure named {@code fileName} is multiplied by to be in base units. */
    private static double scale(String fileName) {
        return fileName.endsWith("_us") ? 1e-6 : fileName.endsWith("_ms") ? 1e-3 : 1;
    }

    private static String value(long v, double scale) {
        return scale == 1 ? Long.toString(v) : Double.toString(v * scale);
    }

    private static String seconds(long micros) {
        return java.math.BigDecimal.valueOf(micros)
                .movePointLeft(6)
                .stripTrailingZeros()
                .toPlainString();
    }

    private static void head(StringBuilder b, String name, String help, String type) {
        b.append("# HELP ").append(name).append(' ').append(escapeHelp(help)).append('\n');
        b.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void sample(StringBuilder b, String name, String extraLabels, String value) {
        b.append(name)
                .append('{')
                .append(extraLabels)
                .append(labels)
                .append("} ")
                .append(value)
                .append('\n');
    }

    private static String escapeHelp(String s) {
        return s.replace("\\", "\\\\").replace("\n", "\\n");
    }

    private static String escapeLabel(String s) {
        return escapeHelp(s).replace("\"", "\\\"");
    }
}
