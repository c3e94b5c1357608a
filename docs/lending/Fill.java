import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.util.Random;

public class Fill {
    public static void main(String[] a) throws Exception {
        Config c = new Config();
        c.setClusterName("heap-fill-" + System.nanoTime());
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.logging.type", "none");
        c.getNetworkConfig().setPort(6690).getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        c.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
        c.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
        c.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).addMember("127.0.0.1");
        HazelcastInstance hz = Hazelcast.newHazelcastInstance(c);
        IMap<Long, byte[]> m = hz.getMap("pages");
        Random rnd = new Random(1);
        long max = Runtime.getRuntime().maxMemory();
        long n = 0;
        long t0 = System.nanoTime();
        long last = t0;
        try {
            while (true) {
                byte[] v = new byte[4124];
                rnd.nextBytes(v);
                m.set(n++, v);
                if (n % 2000 == 0) {
                    long now = System.nanoTime();
                    System.out.printf("%6.1f%% of heap in entries: %.0f puts/s%n", 100.0 * n * 4267 / max, 2000 / ((now - last) / 1e9));
                    last = now;
                }
            }
        } catch (OutOfMemoryError e) {
            System.out.printf("OOM at %d entries = %.1f%% of heap%n", n, 100.0 * n * 4267 / max);
        }
        Runtime.getRuntime().halt(0);
    }
}
