import com.hazelcast.config.Config;
import com.hazelcast.core.Hazelcast;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.map.IMap;
import java.util.Random;

public class HeapPerEntry {
    static long used() {
        for (int i = 0; i < 3; i++) { System.gc(); }
        Runtime r = Runtime.getRuntime();
        return r.totalMemory() - r.freeMemory();
    }
    public static void main(String[] a) throws Exception {
        int n = Integer.parseInt(a[0]);
        int[] sizes = {Integer.parseInt(a[1])};
        Config c = new Config();
        c.setClusterName("heap-measure-" + System.nanoTime());
        c.setProperty("hazelcast.phone.home.enabled", "false");
        c.setProperty("hazelcast.logging.type", "none");
        c.getNetworkConfig().setPort(6680).getInterfaces().setEnabled(true).addInterface("127.0.0.1");
        c.getNetworkConfig().getJoin().getMulticastConfig().setEnabled(false);
        c.getNetworkConfig().getJoin().getAutoDetectionConfig().setEnabled(false);
        c.getNetworkConfig().getJoin().getTcpIpConfig().setEnabled(true).addMember("127.0.0.1");
        HazelcastInstance hz = Hazelcast.newHazelcastInstance(c);
        Random rnd = new Random(1);
        long key = 0;
        for (int size : sizes) {
            IMap<Long, byte[]> m = hz.getMap("pages-" + size);
            long before = used();
            for (int i = 0; i < n; i++) {
                byte[] v = new byte[size];
                rnd.nextBytes(v);
                m.set(key++, v);
            }
            long after = used();
            long cost = m.getLocalMapStats().getOwnedEntryMemoryCost();
            System.out.printf("value %5d B: heap %6.1f B/entry (overhead %5.1f B), Hazelcast's cost %6.1f B/entry, %d entries%n",
                    size, (after - before) / (double) n, (after - before) / (double) n - size, cost / (double) n, n);
            m.destroy();
        }
        hz.shutdown();
    }
}
