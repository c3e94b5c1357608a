package ramswap.cluster;

import com.hazelcast.cluster.Member;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.core.IExecutorService;
import com.hazelcast.map.EntryProcessor;
import com.hazelcast.map.IMap;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import ramswap.store.Counters;
import ramswap.store.Knobs;

/**
 * The costs behind the remote tier's choices, printed as a table (not asserted): two members in
 * this JVM on loopback, a lite sender and a lender, and a client as a borrower that lends nothing
 * is. Run with
 * {@code mvn -B test -pl fuse-swap,cluster -Dtest=RemoteTierBenchmark -Dsurefire.failIfNoSpecifiedTests=false -Dramswap.bench=true}.
 */
@EnabledIfSystemProperty(named = "ramswap.bench", matches = "true")
class RemoteTierBenchmark {

    static final int ROUNDS = 300;
    static final int WARMUP = 100;

    interface Op {
        void run(int round) throws Exception;
    }

    /** The entry-processor way to enforce a quota: the batch's values travel in the processor. */
    static final class QuotaPut implements EntryProcessor<Long, byte[], Boolean>, HazelcastInstanceAware {
        private static final long serialVersionUID = 1L;
        private final HashMap<Long, byte[]> values;
        private transient HazelcastInstance owner;

        QuotaPut(HashMap<Long, byte[]> values) {
            this.values = values;
        }

        @Override
        public void setHazelcastInstance(HazelcastInstance hazelcast) {
            owner = hazelcast;
        }

        @Override
        public Boolean process(Map.Entry<Long, byte[]> entry) {
            byte[] v = values.get(entry.getKey());
            Lender lender = owner == null ? null : Lender.of(owner);
            if (lender != null && !lender.admit(v.length)) {
                return Boolean.FALSE;
            }
            entry.setValue(v);
            return Boolean.TRUE;
        }
    }

    @Test
    void printCosts() throws Exception {
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
            IMap<Long, byte[]> quota = sender.hazelcast().getMap(HazelcastRemoteTier.MAP_NAME);
            IMap<Long, byte[]> plain = sender.hazelcast().getMap("bench-plain");
            IMap<Long, byte[]> ep = sender.hazelcast().getMap("bench-ep");
            Random random = new Random(1);
            byte[] page = new byte[4096 + PageSeal.OVERHEAD];
            random.nextBytes(page);

            List<String> rows = new ArrayList<>();
            rows.add(row(
                    "put 64 x 4 KiB, setAllAsync, no interceptor",
                    measure(r -> plain.setAllAsync(batch(placer, target, page, 64))
                            .toCompletableFuture()
                            .get())));
            rows.add(row(
                    "put 64 x 4 KiB, setAllAsync, quota interceptor",
                    measure(r -> quota.setAllAsync(batch(placer, target, page, 64))
                            .toCompletableFuture()
                            .get())));
            rows.add(row("put 64 x 4 KiB, submitToKeys, quota entry processor", measure(r -> {
                HashMap<Long, byte[]> b = batch(placer, target, page, 64);
                ep.submitToKeys(b.keySet(), new QuotaPut(b))
                        .toCompletableFuture()
                        .get();
            })));
            rows.add(row(
                    "put 1 x 4 KiB, setAsync, quota interceptor",
                    measure(r -> quota.setAsync(placer.firstKey(placer.nextHandleOwnedBy(target)), page)
                            .toCompletableFuture()
                            .get())));
            rows.add(row("put 1 x 4 KiB, submitToKey, quota entry processor", measure(r -> {
                HashMap<Long, byte[]> b = batch(placer, target, page, 1);
                Long k = b.keySet().iterator().next();
                ep.submitToKey(k, new QuotaPut(b)).toCompletableFuture().get();
            })));

            // the same from a client, as a borrower that lends nothing sends and reads: its setAll is one
            // operation per partition touched, a lite member's one per member
            ClusterClient client =
                    cluster.own(ClusterClient.connect(cluster.settings(5, true), Duration.ofSeconds(30)));
            IMap<Long, byte[]> viaClient = client.hazelcast().getMap(HazelcastRemoteTier.MAP_NAME);
            rows.add(row(
                    "client: put 64 x 4 KiB, setAllAsync, quota interceptor",
                    measure(r -> viaClient
                            .setAllAsync(batch(placer, target, page, 64))
                            .toCompletableFuture()
                            .get())));

            List<Long> stored = new ArrayList<>(quota.keySet());
            // one call per lender (issue 17): what a batch of reads costs by each way of asking one member for it, from
            // a member and from a client; the lender's own memory stands in for its page store
            Member lenderOnMember = sender.hazelcast().getCluster().getMembers().stream()
                    .filter(m -> m.getUuid().equals(target))
                    .findFirst()
                    .orElseThrow();
            Member lenderOnClient = client.hazelcast().getCluster().getMembers().stream()
                    .filter(m -> m.getUuid().equals(target))
                    .findFirst()
                    .orElseThrow();
            LOCAL_PAGES.clear();
            for (Long k : stored) {
                LOCAL_PAGES.put(k, page);
            }
            IExecutorService onMember = sender.hazelcast().getExecutorService(CALLS);
            IExecutorService onClient = client.hazelcast().getExecutorService(CALLS);
            IExecutorService readsOnMember = sender.hazelcast().getExecutorService(CALLS);
            IExecutorService readsOnClient = client.hazelcast().getExecutorService(CALLS);
            IMap<Long, byte[]> quotaOnClient = viaClient;
            List<String> calls = new ArrayList<>();
            for (int n : new int[] {1, 8, 32}) {
                for (boolean fromClient : new boolean[] {false, true}) {
                    String who = fromClient ? "client: " : "member: ";
                    IMap<Long, byte[]> m = fromClient ? quotaOnClient : quota;
                    IExecutorService x = fromClient ? onClient : onMember;
                    Member to = fromClient ? lenderOnClient : lenderOnMember;
                    calls.add(row(
                            who + "get " + n + ", pipelined getAsync", measure(r -> getPipelined(m, stored, n, r))));
                    calls.add(row(
                            who + "get " + n + ", submitToKeys, read-only processor",
                            measure(r -> m.submitToKeys(keys(stored, n, r), new PageReader())
                                    .toCompletableFuture()
                                    .get(5, TimeUnit.SECONDS))));
                    IExecutorService reads = fromClient ? readsOnClient : readsOnMember;
                    calls.add(row(
                            who + "get " + n + ", submitToMember, getAll there",
                            measure(r -> reads.submitToMember(new MapRead(keyArray(stored, n, r)), to)
                                    .get(5, TimeUnit.SECONDS))));
                    calls.add(row(
                            who + "get " + n + ", submitToMember, its own memory",
                            measure(r -> x.submitToMember(new LocalRead(keyArray(stored, n, r)), to)
                                    .get(5, TimeUnit.SECONDS))));
                }
            }
            IExecutorService writesOnMember = sender.hazelcast().getExecutorService(CALLS);
            IExecutorService writesOnClient = client.hazelcast().getExecutorService(CALLS);
            for (boolean fromClient : new boolean[] {false, true}) {
                String who = fromClient ? "client: " : "member: ";
                IMap<Long, byte[]> m = fromClient ? quotaOnClient : quota;
                IExecutorService x = fromClient ? writesOnClient : writesOnMember;
                Member to = fromClient ? lenderOnClient : lenderOnMember;
                calls.add(row(
                        who + "put 64, setAllAsync, quota interceptor",
                        measure(r -> m.setAllAsync(batch(placer, target, page, 64))
                                .toCompletableFuture()
                                .get(5, TimeUnit.SECONDS))));
                calls.add(row(
                        who + "put 64, submitToMember, setAll there",
                        measure(r -> x.submitToMember(new MapWrite(batch(placer, target, page, 64)), to)
                                .get(5, TimeUnit.SECONDS))));
            }
            System.out.println();
            System.out.printf(
                    "%-55s %9s %9s %9s%n",
                    "one call per lender (2 members and a client, one JVM)", "p50 us", "p99 us", "max us");
            calls.forEach(System.out::println);
            System.out.println(residentMemory());
            if (Boolean.getBoolean("ramswap.bench.callsOnly")) {
                lender.close();
                return;
            }
            for (int n : new int[] {1, 32}) {
                rows.add(row(
                        "client: get " + n + ", pipelined getAsync",
                        measure(r -> getPipelined(viaClient, stored, n, r))));
                rows.add(row(
                        "get " + n + ", pipelined getAsync" + (n == 1 ? " (chosen)" : ""),
                        measure(r -> getPipelined(quota, stored, n, r))));
                rows.add(row("get " + n + ", getAll on the caller's thread", measure(r -> {
                    Set<Long> keys = new HashSet<>();
                    for (int k = 0; k < n; k++) {
                        keys.add(stored.get((r * n + k) % stored.size()));
                    }
                    quota.getAll(keys);
                })));
                rows.add(row("get " + n + ", getAll on another thread" + (n > 1 ? " (chosen)" : ""), measure(r -> {
                    Set<Long> keys = new HashSet<>();
                    for (int k = 0; k < n; k++) {
                        keys.add(stored.get((r * n + k) % stored.size()));
                    }
                    CompletableFuture.supplyAsync(() -> quota.getAll(keys)).get(5, TimeUnit.SECONDS);
                })));
                rows.add(row("get " + n + ", submitToKeys, read-only processor", measure(r -> {
                    Set<Long> keys = new HashSet<>();
                    for (int k = 0; k < n; k++) {
                        keys.add(stored.get((r * n + k) % stored.size()));
                    }
                    quota.submitToKeys(keys, new PageReader())
                            .toCompletableFuture()
                            .get(5, TimeUnit.SECONDS);
                })));
            }

            int del = HazelcastRemoteTier.FLUSH_BATCH;
            List<Long> all = new ArrayList<>(quota.keySet());
            int[] next = {0};
            int deleteRounds = Math.min(ROUNDS, all.size() / del / 2 - WARMUP / 4);
            rows.add(row(
                    "delete " + del + ", submitToKeys, remover processor",
                    measure(Math.max(10, deleteRounds / 2), r -> {
                        Set<Long> keys = new HashSet<>(all.subList(next[0], next[0] + del));
                        next[0] += del;
                        quota.submitToKeys(keys, PageRemover.forgotten())
                                .toCompletableFuture()
                                .get();
                    })));
            rows.add(row("delete " + del + ", pipelined deleteAsync", measure(Math.max(10, deleteRounds / 2), r -> {
                @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type
                CompletableFuture<Boolean>[] f = new CompletableFuture[del];
                for (int k = 0; k < del; k++) {
                    f[k] = quota.deleteAsync(all.get(next[0] + k)).toCompletableFuture();
                }
                next[0] += del;
                for (CompletableFuture<Boolean> x : f) {
                    x.get();
                }
            })));

            System.out.println();
            System.out.printf(
                    "%-55s %9s %9s %9s%n",
                    "operation (2 members and a client, one JVM, loopback)", "p50 us", "p99 us", "max us");
            rows.forEach(System.out::println);
            System.out.println(residentMemory());
            lender.close();
        }
    }

    /** The executor the call rows run on; a member makes it when first asked. */
    static final String CALLS = "ramswap-bench-calls";

    /** The pages of the lender's own memory: the stand-in for a page store outside the map. */
    static final Map<Long, byte[]> LOCAL_PAGES = new java.util.concurrent.ConcurrentHashMap<>();

    static Set<Long> keys(List<Long> stored, int n, int r) {
        Set<Long> keys = new HashSet<>();
        for (int k = 0; k < n; k++) {
            keys.add(stored.get((r * n + k) % stored.size()));
        }
        return keys;
    }

    static long[] keyArray(List<Long> stored, int n, int r) {
        long[] keys = new long[n];
        for (int k = 0; k < n; k++) {
            keys[k] = stored.get((r * n + k) % stored.size());
        }
        return keys;
    }

    /** One call to a member: its map's getAll of the keys (it owns them), the pages in the keys' order, null where missing. */
    static final class MapRead
            implements java.util.concurrent.Callable<MapRead.Pages>, DataSerializable, HazelcastInstanceAware {

        private long[] keys;
        private transient HazelcastInstance member;

        /** For deserialization only. */
        public MapRead() {}

        MapRead(long[] keys) {
            this.keys = keys;
        }

        @Override
        public void setHazelcastInstance(HazelcastInstance hazelcast) {
            this.member = hazelcast;
        }

        @Override
        public Pages call() {
            Set<Long> set = new HashSet<>(keys.length * 2);
            for (long k : keys) {
                set.add(k);
            }
            IMap<Long, byte[]> map = member.getMap(HazelcastRemoteTier.MAP_NAME);
            Map<Long, byte[]> got = map.getAll(set);
            byte[][] pages = new byte[keys.length][];
            for (int i = 0; i < keys.length; i++) {
                pages[i] = got.get(keys[i]);
            }
            return new Pages(pages);
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeLongArray(keys);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            keys = in.readLongArray();
        }

        /** The answer: the sealed pages in the keys' order, null where a key is missing. */
        public static final class Pages implements DataSerializable {
            private byte[][] pages;

            /** For deserialization only. */
            public Pages() {}

            Pages(byte[][] pages) {
                this.pages = pages;
            }

            byte[] page(int i) {
                return pages[i];
            }

            @Override
            public void writeData(ObjectDataOutput out) throws IOException {
                out.writeInt(pages.length);
                for (byte[] p : pages) {
                    out.writeByteArray(p);
                }
            }

            @Override
            public void readData(ObjectDataInput in) throws IOException {
                pages = new byte[in.readInt()][];
                for (int i = 0; i < pages.length; i++) {
                    pages[i] = in.readByteArray();
                }
            }
        }
    }

    /** One call to a member: its map's setAll of a batch's copies (it owns their keys), through its quota interceptor. */
    static final class MapWrite
            implements java.util.concurrent.Callable<Boolean>, DataSerializable, HazelcastInstanceAware {

        private long[] keys;
        private byte[][] pages;
        private transient HazelcastInstance member;

        /** For deserialization only. */
        public MapWrite() {}

        MapWrite(Map<Long, byte[]> copies) {
            this.keys = new long[copies.size()];
            this.pages = new byte[copies.size()][];
            int i = 0;
            for (Map.Entry<Long, byte[]> e : copies.entrySet()) {
                keys[i] = e.getKey();
                pages[i++] = e.getValue();
            }
        }

        @Override
        public void setHazelcastInstance(HazelcastInstance hazelcast) {
            this.member = hazelcast;
        }

        @Override
        public Boolean call() {
            Map<Long, byte[]> copies = new HashMap<>(keys.length * 2);
            for (int i = 0; i < keys.length; i++) {
                copies.put(keys[i], pages[i]);
            }
            IMap<Long, byte[]> map = member.getMap(HazelcastRemoteTier.MAP_NAME);
            map.setAll(copies);
            return Boolean.TRUE;
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeLongArray(keys);
            for (byte[] p : pages) {
                out.writeByteArray(p);
            }
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            keys = in.readLongArray();
            pages = new byte[keys.length][];
            for (int i = 0; i < pages.length; i++) {
                pages[i] = in.readByteArray();
            }
        }
    }

    /** One call to a member: the pages from its own memory, in the keys' order. */
    static final class LocalRead implements java.util.concurrent.Callable<byte[][]>, java.io.Serializable {
        private static final long serialVersionUID = 1L;
        private final long[] keys;

        LocalRead(long[] keys) {
            this.keys = keys;
        }

        @Override
        public byte[][] call() {
            byte[][] pages = new byte[keys.length][];
            for (int i = 0; i < keys.length; i++) {
                pages[i] = LOCAL_PAGES.get(keys[i]);
            }
            return pages;
        }
    }

    /** This JVM's resident memory (both members, the client and the stored pages), from /proc. */
    static String residentMemory() throws java.io.IOException {
        long rss = 0;
        long hwm = 0;
        for (String line : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
            String[] f = line.split("\\s+");
            if (f[0].equals("VmRSS:")) {
                rss = Long.parseLong(f[1]);
            } else if (f[0].equals("VmHWM:")) {
                hwm = Long.parseLong(f[1]);
            }
        }
        return String.format(
                "resident memory of this JVM (2 members, a client, the pages): %.1f MiB, peak %.1f MiB",
                rss / 1024.0, hwm / 1024.0);
    }

    /** Round {@code r}'s {@code n} keys of {@code stored}, each asked with getAsync at once, then all waited for. */
    static void getPipelined(IMap<Long, byte[]> map, List<Long> stored, int n, int r) throws Exception {
        @SuppressWarnings({"unchecked", "rawtypes"}) // an array of a generic type
        CompletableFuture<byte[]>[] f = new CompletableFuture[n];
        for (int k = 0; k < n; k++) {
            f[k] = map.getAsync(stored.get((r * n + k) % stored.size())).toCompletableFuture();
        }
        for (CompletableFuture<byte[]> x : f) {
            x.get(5, TimeUnit.SECONDS);
        }
    }

    static HashMap<Long, byte[]> batch(KeyPlacer placer, UUID target, byte[] page, int n) {
        HashMap<Long, byte[]> b = new HashMap<>();
        for (int k = 0; k < n; k++) {
            b.put(placer.firstKey(placer.nextHandleOwnedBy(target)), page);
        }
        return b;
    }

    static long[] measure(Op op) throws Exception {
        return measure(ROUNDS, op);
    }

    static long[] measure(int rounds, Op op) throws Exception {
        int warmup = Math.min(WARMUP, rounds / 2);
        long[] t = new long[rounds];
        for (int r = 0; r < warmup + rounds; r++) {
            long start = System.nanoTime();
            op.run(r);
            if (r >= warmup) {
                t[r - warmup] = System.nanoTime() - start;
            }
        }
        Arrays.sort(t);
        return new long[] {t[rounds / 2] / 1000, t[(int) (rounds * 0.99)] / 1000, t[rounds - 1] / 1000};
    }

    static String row(String name, long[] p) {
        return String.format("%-55s %9d %9d %9d", name, p[0], p[1], p[2]);
    }

    /** Reads a page on its owner without changing it: a fetch by entry processor, measured against getAll. */
    static final class PageReader
            implements com.hazelcast.map.EntryProcessor<Long, byte[], byte[]>, com.hazelcast.core.ReadOnly {
        private static final long serialVersionUID = 1L;

        @Override
        public byte[] process(Map.Entry<Long, byte[]> entry) {
            return entry.getValue();
        }

        @Override
        public com.hazelcast.map.EntryProcessor<Long, byte[], byte[]> getBackupProcessor() {
            return null;
        }
    }
}
