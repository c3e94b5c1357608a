package ramswap.cli;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where a daemon publishes its metrics (docs/metrics.md): nothing by default.
 *
 * @param dir  --metrics-dir: node_exporter's textfile-collector directory, or null
 * @param port --metrics-port: a port on 127.0.0.1 answering {@code GET /metrics}, or null
 * @param jmx  --metrics-jmx: an MBean in the JVM's platform MBean server, and Hazelcast's own
 */
record MetricsSettings(Path dir, Integer port, boolean jmx) {

    static final MetricsSettings NONE = new MetricsSettings(null, null, false);

    MetricsSettings {
        if (port != null && (port < 1 || port > 65535)) {
            throw new IllegalArgumentException("--metrics-port must be between 1 and 65535, got " + port);
        }
        if (dir != null) {
            dir = dir.toAbsolutePath().normalize();
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("--metrics-dir " + dir
                        + (Files.exists(dir)
                                ? " is not a directory"
                                : " does not exist; give node_exporter's --collector.textfile.directory, or make it"));
            }
        }
    }

    /** The file a node writes in {@link #dir}: one per cluster and node, so that nodes sharing a machine each have theirs. */
    String fileName(String cluster, int node) {
        return "ramswap-" + cluster.replaceAll("[^A-Za-z0-9_.-]", "_") + "-node" + node + ".prom";
    }
}
