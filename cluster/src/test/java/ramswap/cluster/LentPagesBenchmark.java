package ramswap.cluster;

import com.hazelcast.map.IMap;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import ramswap.store.BlockCodec;
import ramswap.store.Counters;
import ramswap.store.Knobs;
import ramswap.sys.Posix;

/**
 * What a lender spends per page it holds, printed as a table (not asserted): the same sealed pages
 * in today's IMap on a lender member (sent from a lite member on loopback, 64 per setAll, through
 * the quota interceptor) and in {@link LentPages}, against the compressed bytes of the pages, the
 * most any store could do without (zram keeps about that). Both in this JVM, one after the other;
 * its heap after a full collection and its resident memory are read before and after each. Run with
 * {@code mvn -B test -pl fuse-swap,cluster -Dtest=LentPagesBenchmark -Dsurefire.failIfNoSpecifiedTests=false -Dramswap.bench=true}
 * ({@code -Dramswap.bench.pages=N}, default 200,000).
 */
@EnabledIfSystemProperty(named = "ramswap.bench", matches = "true")
class LentPagesBenchmark {

    private static final int BATCH = 64;

    @Test
    void printCostPerPage() throws Exception {
        int n = Integer.getInteger("ramswap.bench.pages", 200_000);
        byte[][] sealed = pages(n, new Random(1));
        long compressed = 0;
        long sealedBytes = 0;
        for (byte[] p : sealed) {
            compressed += p.length - PageSeal.OVERHEAD;
            sealedBytes += p.length;
        }
        List<String> rows = new ArrayList<>();

        try (TestCluster cluster = new TestCluster(FreePorts.base())) {
            ClusterMember lenderMember = cluster.start(1);
            ClusterMember sender = cluster.startLite(0);
            TestCluster.await(
                    "two members",
                    () -> sender.memberCount() == 2
                            && sender.hazelcast().getPartitionService().isClusterSafe());
            Lender lender = new Lender(lenderMember, Long.MAX_VALUE / 2, new Knobs(), new Counters());
            UUID target = lenderMember.hazelcast().getCluster().getLocalMember().getUuid();
            KeyPlacer placer = new KeyPlacer(sender.hazelcast().getPartitionService(), 0, 1);
            IMap<Long, byte[]> map = sender.hazelcast().getMap(HazelcastRemoteTier.MAP_NAME);
            Sample before = Sample.now();
            long[] batchNanos = new long[(n + BATCH - 1) / BATCH];
            for (int b = 0; b * BATCH < n; b++) {
                HashMap<Long, byte[]> batch = new HashMap<>();
                for (int i = b * BATCH; i < Math.min(n, (b + 1) * BATCH); i++) {
                    batch.put(placer.firstKey(placer.nextHandleOwnedBy(target)), sealed[i]);
                }
                long t0 = System.nanoTime();
                map.setAll(batch);
                batchNanos[b] = System.nanoTime() - t0;
            }
            Sample after = Sample.now();
            long entryCost = lenderMember
                    .hazelcast()
                    .getMap(HazelcastRemoteTier.MAP_NAME)
                    .getLocalMapStats()
                    .getOwnedEntryMemoryCost();
            rows.add(row(
                    "IMap on a lender member (today)",
                    n,
                    after.heap - before.heap,
                    0,
                    after.rss - before.rss,
                    compressed,
                    batchNanos,
                    "Hazelcast's own estimate " + mib(entryCost) + " MiB"));
            map.destroy();
            lender.close();
        }

        Sample before = Sample.now();
        long[] batchNanos = new long[(n + BATCH - 1) / BATCH];
        long quota = Math.max(sealedBytes * 2, 64L << 20);
        try (LentPages store = new LentPages(Posix.load(), quota, false)) {
            for (int b = 0; b * BATCH < n; b++) {
                long t0 = System.nanoTime();
                for (int i = b * BATCH; i < Math.min(n, (b + 1) * BATCH); i++) {
                    if (!store.put(RemoteKey.of(5, 1, i), sealed[i], 0, sealed[i].length)) {
                        throw new AssertionError("refused at page " + i);
                    }
                }
                batchNanos[b] = System.nanoTime() - t0;
            }
            Sample after = Sample.now();
            rows.add(row(
                    "LentPages (off the heap)",
                    n,
                    after.heap - before.heap,
                    store.mappedBytes(),
                    after.rss - before.rss,
                    compressed,
                    batchNanos,
                    "index " + mib(store.indexBytes()) + " MiB = "
                            + String.format("%.1f", (double) store.indexBytes() / n) + " B/page; slabs "
                            + mib(store.mappedBytes()) + " MiB for " + mib(store.pageBytes()) + " MiB sealed"));
        }

        System.out.printf(
                "%n%,d pages, sealed %s MiB (compressed %s MiB, %.0f B/page mean; the sealing adds %d B)%n",
                n, mib(sealedBytes), mib(compressed), (double) compressed / n, PageSeal.OVERHEAD);
        System.out.printf(
                "%-32s | %8s | %8s | %9s | %7s | %9s | %9s | %s%n",
                "store",
                "heap MiB",
                "off MiB",
                "RSS+ MiB",
                "B/page",
                "x compr.",
                "RSS+ x c.",
                "put 64 p50/p99 us; notes");
        rows.forEach(System.out::println);
        System.out.printf(
                "heap MiB: live after full collections; off MiB: slabs mapped; RSS+: this JVM's resident memory"
                        + " grown meanwhile; B/page and x compr.: (heap + off) per page and against the compressed"
                        + " bytes; now resident %s MiB (peak %s)%n",
                mib(Sample.now().rss), mib(peakRss()));
    }

    /**
     * What one batch costs by each way of asking one lender, p50/p99/max in microseconds: today's IMap
     * calls against one {@link PageCall} on the lender's {@link LentPages}, from a lite member and from
     * a client, the pages sealed blocks (4,124 bytes).
     */
    @Test
    void printCostPerCall() throws Exception {
        try (TestCluster cluster = new TestCluster(FreePorts.base());
                LentPages store = new LentPages(Posix.load(), 1L << 30, false)) {
            ClusterMember lenderMember = cluster.start(1);
            ClusterMember sender = cluster.startLite(0);
            TestCluster.await(
                    "two members",
                    () -> sender.memberCount() == 2
                            && sender.hazelcast().getPartitionService().isClusterSafe());
            Lender lender = new Lender(lenderMember, Long.MAX_VALUE / 2, new Knobs(), new Counters());
            PageCall.offer(lenderMember.hazelcast(), store);
            ClusterClient client =
                    cluster.own(ClusterClient.connect(cluster.settings(5, true), java.time.Duration.ofSeconds(30)));
            UUID target = lenderMember.hazelcast().getCluster().getLocalMember().getUuid();
            KeyPlacer placer = new KeyPlacer(sender.hazelcast().getPartitionService(), 0, 1);
            byte[] page = new byte[BlockCodec.BLOCK_SIZE + PageSeal.OVERHEAD];
            new Random(2).nextBytes(page);

            List<String> rows = new ArrayList<>();
            for (boolean viaClient : new boolean[] {false, true}) {
                com.hazelcast.core.HazelcastInstance from = viaClient ? client.hazelcast() : sender.hazelcast();
                String who = viaClient ? "client" : "member";
                IMap<Long, byte[]> map = from.getMap(HazelcastRemoteTier.MAP_NAME);
                com.hazelcast.cluster.Member lenderSeen = from.getCluster().getMembers().stream()
                        .filter(m -> m.getUuid().equals(target))
                        .findFirst()
                        .orElseThrow();
                com.hazelcast.core.IExecutorService calls = from.getExecutorService(PageCall.EXECUTOR_NAME);
                rows.add(RemoteTierBenchmark.row(
                        who + ": store 64, IMap setAll (today)",
                        RemoteTierBenchmark.measure(
                                r -> map.setAll(RemoteTierBenchmark.batch(placer, target, page, 64)))));
                long[] next = {viaClient ? 1L << 32 : 0};
                rows.add(RemoteTierBenchmark.row(who + ": store 64, one PageCall", RemoteTierBenchmark.measure(r -> {
                    long[] keys = new long[64];
                    byte[][] pages = new byte[64][];
                    for (int k = 0; k < 64; k++) {
                        keys[k] = next[0]++;
                        pages[k] = page;
                    }
                    if (calls.submitToMember(PageCall.store(keys, pages), lenderSeen)
                                    .get(30, TimeUnit.SECONDS)
                                    .count()
                            != 64) {
                        throw new AssertionError("the lender refused");
                    }
                })));
                List<Long> inMap = new ArrayList<>(map.keySet());
                for (int n : new int[] {1, 8, 32}) {
                    rows.add(RemoteTierBenchmark.row(
                            who + ": read " + n + ", getAsync per page (today)",
                            RemoteTierBenchmark.measure(r -> RemoteTierBenchmark.getPipelined(map, inMap, n, r))));
                    long stored = next[0] - (viaClient ? 1L << 32 : 0);
                    long first = viaClient ? 1L << 32 : 0;
                    rows.add(RemoteTierBenchmark.row(
                            who + ": read " + n + ", one PageCall", RemoteTierBenchmark.measure(r -> {
                                long[] keys = new long[n];
                                for (int k = 0; k < n; k++) {
                                    keys[k] = first + (r * (long) n + k) % stored;
                                }
                                PageCall.Answer a = calls.submitToMember(PageCall.read(keys), lenderSeen)
                                        .get(30, TimeUnit.SECONDS);
                                if (a.page(n - 1) == null) {
                                    throw new AssertionError("a page stored is missing");
                                }
                            })));
                }
            }
            System.out.printf("%n%-55s %9s %9s %9s%n", "one batch to one lender (us)", "p50", "p99", "max");
            rows.forEach(System.out::println);
            System.out.printf(
                    "lender store: %,d pages in %s MiB of slabs, index %s MiB; IMap: %,d entries; this JVM"
                            + " (2 members, a client, both stores) resident %s MiB (peak %s)%n",
                    store.pages(),
                    mib(store.mappedBytes()),
                    mib(store.indexBytes()),
                    lenderMember
                            .hazelcast()
                            .getMap(HazelcastRemoteTier.MAP_NAME)
                            .size(),
                    mib(Sample.now().rss),
                    mib(peakRss()));
            lender.close();
        }
    }

    /** Pages of the mix: each a random run of 256 to 4,095 bytes (the rest repeats), compressed and sealed-sized. */
    static byte[][] pages(int n, Random random) {
        BlockCodec codec = new BlockCodec();
        byte[] block = new byte[BlockCodec.BLOCK_SIZE];
        byte[] out = new byte[codec.maxCompressedLength()];
        byte[][] sealed = new byte[n][];
        for (int i = 0; i < n; i++) {
            int run = 256 + random.nextInt(BlockCodec.BLOCK_SIZE - 256);
            random.nextBytes(block);
            Arrays.fill(block, run, block.length, (byte) i);
            int length = codec.compress(block, 0, out);
            length = length <= 0 || length >= BlockCodec.BLOCK_SIZE ? BlockCodec.BLOCK_SIZE : length;
            sealed[i] = new byte[length + PageSeal.OVERHEAD];
            random.nextBytes(sealed[i]); // ciphertext looks random
        }
        return sealed;
    }

    private static String row(
            String store, int n, long heap, long offHeap, long rss, long compressed, long[] nanos, String notes) {
        long[] sorted = nanos.clone();
        Arrays.sort(sorted);
        long cost = Math.max(heap, 0) + offHeap;
        return String.format(
                "%-32s | %8s | %8s | %9s | %7.0f | %9.2f | %9.2f | %d/%d; %s",
                store,
                mib(heap),
                mib(offHeap),
                mib(rss),
                (double) cost / n,
                (double) cost / compressed,
                (double) rss / compressed,
                sorted[sorted.length / 2] / 1000,
                sorted[sorted.length * 99 / 100] / 1000,
                notes);
    }

    private static String mib(long bytes) {
        return String.format("%.1f", bytes / 1048576.0);
    }

    private static long peakRss() throws java.io.IOException {
        for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
            if (line.startsWith("VmHWM:")) {
                return Long.parseLong(line.split("\\s+")[1]) * 1024;
            }
        }
        return -1;
    }

    /** Heap in use after full collections, and this process's resident memory. */
    private record Sample(long heap, long rss) {
        static Sample now() throws Exception {
            MemoryMXBean memory = ManagementFactory.getMemoryMXBean();
            for (int i = 0; i < 3; i++) {
                System.gc();
                Thread.sleep(100);
            }
            long heap = memory.getHeapMemoryUsage().getUsed();
            long rss = 0;
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = Long.parseLong(line.split("\\s+")[1]) * 1024;
                }
            }
            return new Sample(heap, rss);
        }
    }
}
