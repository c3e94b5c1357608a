package ramswap.fuse;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.condition.EnabledIf;
import org.junit.jupiter.api.io.TempDir;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.LocalPool;
import ramswap.store.SwapStore;
import ramswap.sys.Posix;

/** Runs on a real FUSE mount: needs /dev/fuse, libfuse 3 and root (CI has all three). */
@EnabledIf("ramswap.fuse.SwapFileSystemIT#fuseAvailable")
class SwapFileSystemIT {

    private static final int PAGE = 4096;
    private static final long SIZE = 32L << 20;
    private final Posix posix = Posix.load();

    @TempDir
    Path tmp;

    private LocalPool pool;
    private SwapStore store;
    private Knobs knobs;
    private SwapFileSystem fs;
    private FuseMount mount;
    private volatile Thread servingThread;

    static boolean fuseAvailable() {
        return Files.exists(Path.of("/dev/fuse"))
                && Posix.load().geteuid() == 0
                && (Files.exists(Path.of("/usr/lib/x86_64-linux-gnu/libfuse3.so.3"))
                        || Files.exists(Path.of("/lib/x86_64-linux-gnu/libfuse3.so.3")));
    }

    @BeforeEach
    void mount() throws IOException {
        pool = new LocalPool(posix, SIZE + (64L << 20), SIZE + (64L << 20), 0);
        store = new SwapStore(SIZE, pool, new Counters());
        knobs = new Knobs();
        fs = new SwapFileSystem(store, knobs, () -> {
            servingThread = Thread.currentThread(); // the status file is read on the thread that serves the mount
            return "state: test\n";
        });
        mount = FuseMount.mount(fs, tmp.resolve("mnt"));
    }

    @AfterEach
    void unmount() throws IOException {
        try {
            mount.close();
        } finally {
            pool.close();
        }
        assertTrue(!MountTable.isMountPoint(tmp.resolve("mnt")), "mount left behind");
    }

    @Nested
    class SwapFile {
        @Test
        void shouldMatchAPlainFileThroughThousandsOfRandomReadsWritesAndPunches() throws IOException {
            long seed = Long.getLong("ramswap.seed", System.nanoTime());
            System.out.println("SwapFileSystemIT seed=" + seed);
            Random r = new Random(seed);
            Path refPath = tmp.resolve("reference");
            int ref = open(refPath, Posix.O_RDWR | Posix.O_CREAT);
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            try {
                byte[] zeros = new byte[1 << 20];
                for (long at = 0; at < SIZE; at += zeros.length) {
                    assertEquals(zeros.length, posix.pwrite(ref, zeros, zeros.length, at));
                }
                int writes = 0;
                int reads = 0;
                int punches = 0;
                for (int op = 0; op < 4000; op++) {
                    long offset = r.nextBoolean()
                            ? (long) r.nextInt((int) (SIZE / PAGE)) * PAGE
                            : (long) (r.nextDouble() * SIZE);
                    int length =
                            (int) Math.min(SIZE - offset, 1 + r.nextInt(r.nextInt(4) == 0 ? 128 * 1024 : 3 * PAGE));
                    switch (r.nextInt(10)) {
                        case 0, 1, 2, 3 -> {
                            byte[] data = content(r, length);
                            assertEquals(
                                    length, posix.pwrite(swp, data, length, offset), "write " + offset + "+" + length);
                            assertEquals(length, posix.pwrite(ref, data, length, offset));
                            writes++;
                        }
                        case 4, 5, 6, 7 -> {
                            byte[] a = new byte[length];
                            byte[] b = new byte[length];
                            assertEquals(length, posix.pread(swp, a, length, offset), "read " + offset + "+" + length);
                            assertEquals(length, posix.pread(ref, b, length, offset));
                            assertArrayEquals(
                                    b,
                                    a,
                                    "op " + op + ": read " + offset + "+" + length + " differs (seed " + seed + ")");
                            reads++;
                        }
                        default -> {
                            int mode = Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE;
                            assertEquals(
                                    0,
                                    posix.fallocate(swp, mode, offset, length),
                                    "punch: " + Posix.describe(Posix.lastErrno()));
                            assertEquals(0, posix.fallocate(ref, mode, offset, length));
                            punches++;
                        }
                    }
                }
                byte[] a = new byte[1 << 20];
                byte[] b = new byte[1 << 20];
                for (long at = 0; at < SIZE; at += a.length) {
                    posix.pread(swp, a, a.length, at);
                    posix.pread(ref, b, b.length, at);
                    assertArrayEquals(b, a, "final compare at " + at);
                }
                System.out.printf(
                        "SwapFileSystemIT: %d writes, %d reads, %d punches; stored_pages=%d pers_zbytes=%d%n",
                        writes,
                        reads,
                        punches,
                        store.counters().get(Counter.STORED_PAGES),
                        store.counters().get(Counter.PERS_ZBYTES));
            } finally {
                posix.close(swp);
                posix.close(ref);
            }
        }

        /**
         * Garbage made while serving means young collections, and each is a safepoint: it stops the
         * serving thread until every thread of the JVM gets there, which a thread waiting in reclaim
         * on a swap write cannot (docs/memory-pressure.md). Counted by the JVM's per-thread
         * allocation counter, in bytes, through the real mount.
         */
        @Test
        void shouldServeReadsWritesAndPunchesWithoutAllocating() throws IOException {
            com.sun.management.ThreadMXBean threads =
                    (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
            assertTrue(
                    threads.isThreadAllocatedMemorySupported() && threads.isThreadAllocatedMemoryEnabled(),
                    "the JVM counts allocation per thread");
            servingThread = null;
            Files.readString(mount.dir().resolve(SwapFileSystem.STATUS));
            Thread server = servingThread;
            assertTrue(server != null && server.isAlive(), "the thread serving this mount");
            Random r = new Random(7);
            byte[][] pages = {content(r, 32 * PAGE), content(r, 32 * PAGE), new byte[32 * PAGE]};
            byte[] back = new byte[32 * PAGE];
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            try {
                int requests = 3000;
                for (int round = 0; round < 3; round++) { // warm-up: the thread's buffer, class loading, the JIT
                    serve(swp, r, pages, back, requests);
                }
                long before = threads.getThreadAllocatedBytes(server.getId());
                serve(swp, r, pages, back, requests);
                long after = threads.getThreadAllocatedBytes(server.getId());
                assertTrue(
                        before >= 0 && after >= 0,
                        "the serving thread's allocation was counted (" + before + ", " + after + ")");
                long allocated = after - before;
                System.out.printf(
                        "SwapFileSystemIT: %d bytes allocated by the serving thread over %d requests%n",
                        allocated, 3L * requests);
                // a stray object or two (a lazily built one, a resize) is tolerated; a per-request one is not
                assertTrue(
                        allocated < 3L * requests,
                        allocated + " bytes allocated by the serving thread over " + 3L * requests + " requests");
            } finally {
                posix.close(swp);
            }
        }

        private void serve(int swp, Random r, byte[][] pages, byte[] back, int requests) {
            for (int i = 0; i < requests; i++) {
                long offset = (long) r.nextInt((int) (SIZE / PAGE) - 32) * PAGE;
                byte[] page = pages[i % pages.length];
                assertEquals(page.length, posix.pwrite(swp, page, page.length, offset));
                assertEquals(back.length, posix.pread(swp, back, back.length, offset));
                assertEquals(
                        0, posix.fallocate(swp, Posix.FALLOC_FL_PUNCH_HOLE | Posix.FALLOC_FL_KEEP_SIZE, offset, PAGE));
            }
        }

        @Test
        void shouldRefuseAWritePastTheEndAndChangeNothing() throws IOException {
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            try {
                byte[] ones = new byte[2 * PAGE];
                java.util.Arrays.fill(ones, (byte) 1);
                assertEquals(-1, posix.pwrite(swp, ones, ones.length, SIZE - PAGE));
                assertEquals(28 /* ENOSPC */, Posix.lastErrno());
                byte[] back = new byte[PAGE];
                assertEquals(PAGE, posix.pread(swp, back, PAGE, SIZE - PAGE));
                assertArrayEquals(new byte[PAGE], back);
                assertEquals(0, posix.pread(swp, back, PAGE, SIZE), "read at the end is EOF");
                assertEquals(-1, posix.fallocate(swp, 0, 0, PAGE), "plain allocation is refused");
                assertEquals(95 /* EOPNOTSUPP */, Posix.lastErrno());
            } finally {
                posix.close(swp);
            }
        }

        @Test
        void shouldFailAWriteThePoolCannotHoldWhole() throws IOException {
            pool.setLimitBytes(LocalPool.SLAB_BYTES); // one slab: 64 incompressible pages
            Random r = new Random(11);
            byte[] first = new byte[60 * PAGE];
            r.nextBytes(first);
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            try {
                // a page at a time: FUSE splits a larger direct write where the user's buffer crosses pages, and
                // the pieces' part-covered blocks would take slots of other size classes
                for (int p = 0; p < 60; p++) {
                    byte[] page = java.util.Arrays.copyOfRange(first, p * PAGE, (p + 1) * PAGE);
                    assertEquals(PAGE, posix.pwrite(swp, page, PAGE, (long) p * PAGE));
                }
                byte[] request = new byte[8 * PAGE];
                r.nextBytes(request);
                // blocks 56..63: the first four replace stored ones, the last four need slots the pool does not have
                assertEquals(
                        -1,
                        posix.pwrite(swp, request, request.length, 56L * PAGE),
                        "a write the pool cannot hold whole");
                assertEquals(28 /* ENOSPC */, Posix.lastErrno());
                byte[] back = new byte[64 * PAGE];
                assertEquals(back.length, posix.pread(swp, back, back.length, 0));
                assertArrayEquals(
                        first, java.util.Arrays.copyOf(back, first.length), "the refused write changed stored blocks");
                assertArrayEquals(
                        new byte[4 * PAGE],
                        java.util.Arrays.copyOfRange(back, first.length, back.length),
                        "the refused write stored some of its blocks");
                assertEquals(1, store.counters().get(Counter.POOL_LIMIT_HIT));
            } finally {
                posix.close(swp);
            }
        }

        @Test
        void shouldZeroARangeWithZeroRange() throws IOException {
            Random r = new Random(13);
            byte[] data = new byte[8 * PAGE];
            r.nextBytes(data);
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            try {
                assertEquals(data.length, posix.pwrite(swp, data, data.length, 0));
                assertEquals(
                        0,
                        posix.fallocate(
                                swp, Posix.FALLOC_FL_ZERO_RANGE | Posix.FALLOC_FL_KEEP_SIZE, PAGE + 100, 3 * PAGE),
                        "zero range: " + Posix.describe(Posix.lastErrno()));
                assertEquals(
                        0,
                        posix.fallocate(swp, Posix.FALLOC_FL_ZERO_RANGE, 6L * PAGE, PAGE),
                        "zero range inside the size");
                java.util.Arrays.fill(data, PAGE + 100, 4 * PAGE + 100, (byte) 0);
                java.util.Arrays.fill(data, 6 * PAGE, 7 * PAGE, (byte) 0);
                byte[] back = new byte[data.length];
                assertEquals(back.length, posix.pread(swp, back, back.length, 0));
                assertArrayEquals(data, back);
                assertEquals(
                        -1,
                        posix.fallocate(swp, Posix.FALLOC_FL_ZERO_RANGE, SIZE - PAGE, 2 * PAGE),
                        "zeroing past the end grows nothing");
                assertEquals(28 /* ENOSPC */, Posix.lastErrno());
            } finally {
                posix.close(swp);
            }
        }

        @Test
        void shouldAnswerEioForABlockWhoseStoredBytesAreDamaged() throws IOException {
            byte[] text = new byte[PAGE];
            for (int i = 0; i < PAGE; i++) {
                text[i] = (byte) ("ramswap keeps pages\n".charAt(i % 20));
            }
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            try {
                assertEquals(PAGE, posix.pwrite(swp, text, PAGE, 0));
                assertEquals(1, store.counters().get(Counter.PERS_ZPAGES), "one page in the pool");
                // the first allocation of a new pool: slab 0, slot 0 (handle 0)
                for (int i = 0; i < 32; i += 4) {
                    ramswap.sys.OffHeap.putInt(pool.address(0) + i, 0xFFFF_FFFF);
                }
                byte[] back = new byte[PAGE];
                assertEquals(-1, posix.pread(swp, back, PAGE, 0));
                assertEquals(5 /* EIO */, Posix.lastErrno());
                assertEquals(1, store.counters().get(Counter.CORRUPT_READS));
            } finally {
                posix.close(swp);
            }
        }

        @Test
        void shouldRefuseRequestsLargerThanFuseSendsInsteadOfTruncatingTheirSize() {
            long huge = (1L << 32)
                    + PAGE; // (int) of it is 4096: a size cast to int would write one page and answer success
            assertEquals(-22 /* EINVAL */, fs.writeSwap(0, huge, 0));
            assertEquals(-22 /* EINVAL */, fs.writeSwap(0, SwapStore.MAX_REQUEST_BYTES + 1L, 0));
            assertEquals(-22 /* EINVAL */, fs.readSwap(0, SwapStore.MAX_REQUEST_BYTES + 1L, 0));
            assertEquals(0, store.counters().get(Counter.PAGES_WRITTEN));
        }

        @Test
        void shouldReportItsSizeAndRefuseResizing() throws IOException {
            assertEquals(SIZE, Files.size(mount.swapFile()));
            int swp = open(mount.swapFile(), Posix.O_RDWR);
            posix.close(swp);
            assertThrows(IOException.class, () -> {
                try (var ch =
                        java.nio.channels.FileChannel.open(mount.swapFile(), java.nio.file.StandardOpenOption.WRITE)) {
                    ch.truncate(PAGE);
                }
            });
        }
    }

    @Nested
    class ControlFiles {
        /** A file read in pieces reads one snapshot: a figure that grows a digit in between must not show as "0\n66746". */
        @Test
        void shouldReadOneSnapshotOfAFileReadInPieces() throws IOException {
            Path file = tmp.resolve("mnt/stats/" + Counter.PAGES_WRITTEN.fileName());
            try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(file)) {
                java.nio.ByteBuffer first = java.nio.ByteBuffer.allocate(1);
                assertEquals(1, ch.read(first, 0));
                store.counters().add(Counter.PAGES_WRITTEN, 1_266_746); // "0\n" becomes "1266746\n" meanwhile
                java.nio.ByteBuffer rest = java.nio.ByteBuffer.allocate(64);
                int n = ch.read(rest, 1);
                assertEquals(
                        "0\n",
                        new String(first.array(), 0, 1, US_ASCII)
                                + new String(rest.array(), 0, Math.max(0, n), US_ASCII));
                java.nio.ByteBuffer again = java.nio.ByteBuffer.allocate(64);
                int m = ch.read(again, 0);
                assertEquals(
                        "1266746\n",
                        new String(again.array(), 0, m, US_ASCII),
                        "a read from offset 0 takes a new snapshot");
            }
            assertEquals("1266746\n", Files.readString(file));
        }

        @Test
        void shouldReadAndSetAKnobLikeSysfs() throws IOException {
            Path knob = tmp.resolve("mnt/ramster/selfshrink_interval");
            assertEquals("5\n", Files.readString(knob));
            Files.writeString(knob, "10\n");
            assertEquals("10\n", Files.readString(knob));
            assertEquals(10, knobs.get(Knob.SELFSHRINK_INTERVAL));
        }

        @Test
        void shouldRefuseABadKnobValueWithEinvalAndKeepTheOldOne() {
            Path knob = tmp.resolve("mnt/ramster/frontswap_hysteresis");
            IOException e = assertThrows(IOException.class, () -> Files.writeString(knob, "many\n"));
            assertTrue(e.getMessage().contains("Invalid argument"), e.getMessage());
            assertThrows(IOException.class, () -> Files.writeString(knob, "0\n"));
            assertEquals(20, knobs.get(Knob.FRONTSWAP_HYSTERESIS));
        }

        @Test
        void shouldServeEveryCounterReadOnly() throws IOException {
            for (Counter c : Counter.values()) {
                assertEquals("0\n", Files.readString(tmp.resolve("mnt/stats/" + c.fileName())), c.fileName());
            }
            assertThrows(
                    AccessDeniedException.class, () -> Files.writeString(tmp.resolve("mnt/stats/pers_zpages"), "5"));
            assertEquals("state: test\n", Files.readString(tmp.resolve("mnt/status")));
        }

        @Test
        void shouldListTheRamsterNames() throws IOException {
            try (var s = Files.list(tmp.resolve("mnt/ramster"))) {
                assertEquals(Knob.values().length, s.count());
            }
            assertTrue(Files.exists(tmp.resolve("mnt/stats/remote_target_nodenum")) == false);
            assertTrue(Files.exists(tmp.resolve("mnt/ramster/remote_target_nodenum")));
        }

        @Test
        void shouldAnswerNamesThatAreNotThereAndNamesUnderAFile() throws IOException {
            assertThrows(java.nio.file.NoSuchFileException.class, () -> Files.readString(tmp.resolve("mnt/nothing")));
            assertThrows(
                    java.nio.file.NoSuchFileException.class,
                    () -> Files.readString(tmp.resolve("mnt/ramster/nothing")));
            // a name under the swap file: ENOTDIR from the lookup
            java.nio.file.FileSystemException under = assertThrows(
                    java.nio.file.FileSystemException.class,
                    () -> Files.readString(tmp.resolve("mnt/" + SwapFileSystem.SWAPFILE + "/x")));
            assertTrue(
                    String.valueOf(under.getReason()).contains("Not a directory"), "ENOTDIR, got " + under.getReason());
            try (var s = Files.list(tmp.resolve("mnt"))) {
                assertEquals(
                        List.of(
                                SwapFileSystem.KNOB_DIR,
                                SwapFileSystem.COUNTER_DIR,
                                SwapFileSystem.STATUS,
                                SwapFileSystem.SWAPFILE),
                        s.map(p -> p.getFileName().toString()).sorted().toList());
            }
        }
    }

    /** A store with remote blocks is served by several threads: a fixed set, started at mount, ended at close. */
    @Nested
    class SeveralServingThreads {
        private static final int THREADS = 4;
        private static final int CLIENTS = 12;

        @Test
        void shouldServeABurstWithTheThreadsStartedAtMountAndNoOther() throws Exception {
            SwapFileSystem several = new SwapFileSystem(store, knobs, () -> "state: test\n");
            Map<Long, String> atMount;
            Map<Long, String> afterBurst;
            long[] taken;
            Map<Long, String> others = servingThreads(); // the one of this class's own mount
            try (FuseMount m = FuseMount.mount(several, tmp.resolve("several"), THREADS)) {
                atMount = servingThreads();
                atMount.keySet().removeAll(others.keySet());
                assertEquals(THREADS, atMount.size(), "serving threads at mount: " + atMount);
                // more clients at once than threads, for longer than libfuse's loop would keep a thread idle
                ExecutorService clients = Executors.newFixedThreadPool(CLIENTS);
                try {
                    List<Future<Integer>> done = new ArrayList<>();
                    for (int c = 0; c < CLIENTS; c++) {
                        int client = c;
                        done.add(clients.submit(() -> burst(m.swapFile(), client)));
                    }
                    for (Future<Integer> f : done) {
                        assertEquals(400, f.get(2, TimeUnit.MINUTES), "every block of a client read back intact");
                    }
                } finally {
                    clients.shutdownNow();
                }
                afterBurst = servingThreads();
                afterBurst.keySet().removeAll(others.keySet());
                taken = m.requestsTakenByEachThread();
            }
            assertEquals(atMount, afterBurst, "the same serving threads before and after the burst, no other");
            assertEquals(THREADS, taken.length);
            for (long t : taken) {
                assertTrue(t > 0, "every serving thread took requests: " + java.util.Arrays.toString(taken));
            }
            Map<Long, String> left = servingThreads();
            left.keySet().removeAll(others.keySet());
            assertEquals(Map.of(), left, "no serving thread outlives its mount");
        }

        /** Writes and reads back 400 blocks of this client's own range; returns how many came back intact. */
        private int burst(Path swapFile, int client) throws IOException {
            int fd = open(swapFile, Posix.O_RDWR);
            try {
                Random r = new Random(client);
                byte[] back = new byte[PAGE];
                int intact = 0;
                long base = (long) client * 512 * PAGE;
                for (int i = 0; i < 400; i++) {
                    byte[] page = content(r, PAGE);
                    long at = base + (long) (i % 512) * PAGE;
                    assertEquals(PAGE, posix.pwrite(fd, page, PAGE, at));
                    assertEquals(PAGE, posix.pread(fd, back, PAGE, at));
                    intact += java.util.Arrays.equals(page, back) ? 1 : 0;
                }
                return intact;
            } finally {
                posix.close(fd);
            }
        }

        /** This JVM's threads named as serving threads, by thread id (from /proc: what the kernel sees). */
        private Map<Long, String> servingThreads() throws IOException {
            Map<Long, String> found = new TreeMap<>();
            try (var tasks = Files.newDirectoryStream(Path.of("/proc/self/task"))) {
                for (Path t : tasks) {
                    String comm;
                    try {
                        comm = Files.readString(t.resolve("comm")).strip();
                    } catch (IOException ended) { // a thread that ended while listed
                        continue;
                    }
                    if (comm.startsWith(FuseMount.SERVING_THREAD_PREFIX)) {
                        found.put(Long.parseLong(t.getFileName().toString()), comm);
                    }
                }
            }
            return found;
        }
    }

    private byte[] content(Random r, int length) {
        byte[] data = new byte[length];
        switch (r.nextInt(3)) {
            case 0 -> {}
            case 1 -> r.nextBytes(data);
            default -> {
                for (int i = 0; i < length; i++) {
                    data[i] = (byte) ("ramswap keeps pages\n".charAt((i + length) % 20));
                }
            }
        }
        return data;
    }

    private int open(Path p, int flags) throws IOException {
        int fd = posix.open(p.toString(), flags, 0600);
        if (fd < 0) {
            throw new IOException("open " + p + ": " + Posix.describe(Posix.lastErrno()));
        }
        return fd;
    }
}
