package ramswap.cli;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.net.HttpURLConnection;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import javax.management.JMException;
import javax.management.MBeanServer;
import javax.management.ObjectName;
import ramswap.agent.PeriodicAgent;

/**
 * Where a node's {@link Metrics} go, each only when asked for: a file in node_exporter's
 * textfile-collector directory (--metrics-dir), replaced whole every {@value #FILE_INTERVAL_SECONDS}
 * s and removed at stop; a loopback HTTP port (--metrics-port) answered by one thread of the JDK's
 * server; and an MBean in the JVM's platform MBean server (--metrics-jmx). Every thread and class
 * they use starts at start, before swap is on: the port answers itself once.
 */
final class MetricsExport implements AutoCloseable {

    static final long FILE_INTERVAL_SECONDS = 5;
    private static final Duration SELF_ASK = Duration.ofSeconds(10);
    /** The longest a connection may take to send its request before the port closes it. */
    static final Duration MAX_REQUEST = Duration.ofSeconds(5);

    private static final String MAX_REQUEST_SECONDS_PROPERTY = "sun.net.httpserver.maxReqTime";

    private final HttpServer server;
    private final ObjectName bean;

    private MetricsExport(HttpServer server, ObjectName bean) {
        this.server = server;
        this.bean = bean;
    }

    /** What the export settings ask for: null for none. */
    static MetricsExport start(MetricsSettings settings, Metrics metrics, Starter agents) throws RamswapException {
        HttpServer server = null;
        ObjectName bean = null;
        try {
            if (settings.dir() != null) {
                TextFile file = new TextFile(
                        settings.dir().resolve(settings.fileName(metrics.cluster(), metrics.node())), metrics);
                file.write(); // now: a directory it cannot write to stops the start, with the reason
                agents.start(file);
            }
            if (settings.port() != null) {
                server = serve(settings.port(), metrics);
            }
            if (settings.jmx()) {
                bean = register(metrics);
            }
        } catch (RamswapException | RuntimeException e) {
            if (server != null) {
                server.stop(0);
            }
            throw e;
        }
        return new MetricsExport(server, bean);
    }

    /** Runs periodic agents; the daemon's {@code ramswap.agent.Agents} with its idle time. */
    interface Starter {
        void start(PeriodicAgent agent);
    }

    // ================================================================ the textfile collector's file

    /** Writes the file beside itself and renames it over the old one: a scrape reads one whole file or the other. */
    static final class TextFile extends PeriodicAgent {
        private final Path file;
        private final Path temporary;
        private final Metrics metrics;

        TextFile(Path file, Metrics metrics) {
            super(Duration.ofSeconds(FILE_INTERVAL_SECONDS));
            this.file = file;
            // node_exporter reads only *.prom: it never sees the file half-written
            this.temporary = file.resolveSibling("." + file.getFileName() + ".tmp");
            this.metrics = metrics;
        }

        void write() throws RamswapException {
            try {
                Files.write(temporary, metrics.render());
                Files.move(temporary, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AccessDeniedException e) {
                throw new RamswapException(
                        RamswapException.FAILED,
                        "--metrics-dir: cannot write " + e.getFile() + ": permission denied",
                        e);
            } catch (IOException e) {
                throw new RamswapException(
                        RamswapException.FAILED, "--metrics-dir: cannot write " + file + ": " + e, e);
            }
        }

        @Override
        protected void tick() {
            try {
                write();
            } catch (RamswapException e) {
                throw new IllegalStateException(e.getMessage(), e); // logged and counted in agent_errors
            }
        }

        @Override
        public void onClose() {
            try {
                Files.deleteIfExists(temporary);
                Files.deleteIfExists(file); // a stopped node publishes nothing, rather than its last figures forever
            } catch (IOException e) {
                System.getLogger(MetricsExport.class.getName())
                        .log(System.Logger.Level.WARNING, "cannot remove " + file + ": " + e);
            }
        }

        @Override
        public String roleName() {
            return "ramswap-metrics-file";
        }
    }

    // ================================================================ the port

    private static HttpServer serve(int port, Metrics metrics) throws RamswapException {
        // The dispatcher reads each request itself: a connection that never finishes its request
        // (a port scan, Hazelcast's join probing its neighbour ports) would hold every later scrape.
        // The JDK's server closes one that takes longer than this; read when its classes load, now.
        System.setProperty(MAX_REQUEST_SECONDS_PROPERTY, Long.toString(MAX_REQUEST.toSeconds()));
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 16);
        } catch (IOException e) {
            throw new RamswapException(
                    RamswapException.FAILED,
                    "--metrics-port " + port + ": cannot listen on 127.0.0.1: " + e.getMessage(),
                    e);
        }
        server.createContext("/", exchange -> answer(exchange, metrics));
        server.setExecutor(null); // its one dispatcher thread answers: no thread starts per scrape
        server.start();
        try {
            selfAsk(port); // loads every class a scrape needs now, before swap is on
        } catch (IOException e) {
            server.stop(0);
            throw new RamswapException(
                    RamswapException.FAILED, "--metrics-port " + port + ": the port does not answer: " + e, e);
        }
        return server;
    }

    private static void answer(HttpExchange exchange, Metrics metrics) throws IOException {
        try (exchange) {
            String path = exchange.getRequestURI().getPath();
            if (!"GET".equals(exchange.getRequestMethod()) && !"HEAD".equals(exchange.getRequestMethod())) {
                exchange.sendResponseHeaders(405, -1);
                return;
            }
            if (!path.equals("/metrics") && !path.equals("/")) {
                exchange.sendResponseHeaders(404, -1);
                return;
            }
            byte[] body = metrics.render();
            exchange.getResponseHeaders().set("Content-Type", Metrics.CONTENT_TYPE);
            boolean head = "HEAD".equals(exchange.getRequestMethod());
            exchange.sendResponseHeaders(200, head ? -1 : body.length);
            if (!head) {
                try (OutputStream out = exchange.getResponseBody()) {
                    out.write(body);
                }
            }
        }
    }

    private static void selfAsk(int port) throws IOException {
        HttpURLConnection c = (HttpURLConnection)
                URI.create("http://127.0.0.1:" + port + "/metrics").toURL().openConnection();
        c.setConnectTimeout((int) SELF_ASK.toMillis());
        c.setReadTimeout((int) SELF_ASK.toMillis());
        try (InputStream in = c.getInputStream()) {
            in.readAllBytes();
        } finally {
            c.disconnect();
        }
        if (c.getResponseCode() != 200) {
            throw new IOException("HTTP " + c.getResponseCode());
        }
    }

    // ================================================================ JMX

    private static ObjectName register(Metrics metrics) throws RamswapException {
        try {
            ObjectName name = new ObjectName(
                    "ramswap:type=Node,cluster=" + ObjectName.quote(metrics.cluster()) + ",node=" + metrics.node());
            MBeanServer server = ManagementFactory.getPlatformMBeanServer();
            server.registerMBean(new MetricsBean(metrics), name);
            return name;
        } catch (JMException e) {
            throw new RamswapException(RamswapException.FAILED, "--metrics-jmx: cannot register the MBean: " + e, e);
        }
    }

    @Override
    public void close() {
        if (server != null) {
            server.stop(0);
        }
        if (bean != null) {
            try {
                ManagementFactory.getPlatformMBeanServer().unregisterMBean(bean);
            } catch (JMException e) {
                // the JVM is stopping with the daemon; nothing reads it any more
            }
        }
    }
}
