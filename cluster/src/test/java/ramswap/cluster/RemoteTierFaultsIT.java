package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ramswap.cluster.HazelcastRemoteTierIT.BASE_PORT;
import static ramswap.cluster.HazelcastRemoteTierIT.awaitMembers;
import static ramswap.cluster.HazelcastRemoteTierIT.batch;
import static ramswap.cluster.HazelcastRemoteTierIT.blocks;
import static ramswap.cluster.HazelcastRemoteTierIT.lender;
import static ramswap.cluster.HazelcastRemoteTierIT.pages;
import static ramswap.cluster.HazelcastRemoteTierIT.send;
import static ramswap.cluster.HazelcastRemoteTierIT.sender;

import com.hazelcast.map.EntryProcessor;
import java.time.Duration;
import java.util.Arrays;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import ramswap.cluster.HazelcastRemoteTierIT.Node;
import ramswap.store.Counter;
import ramswap.store.Knob;
import ramswap.store.RemoteTier;
import ramswap.store.RemoteTier.Batch;
import ramswap.store.RemoteTier.Sent;

/** The tier when a lender stalls and when a restart's sweep is slow: no healthy page is lost or refused. */
class RemoteTierFaultsIT {

    static final CountDownLatch RELEASE = new CountDownLatch(1);
    static final CountDownLatch RELEASE_LATE = new CountDownLatch(1);
    /** A permit each time a {@link Stall} holds its partition thread. */
    static final java.util.concurrent.Semaphore STALLING = new java.util.concurrent.Semaphore(0);

    /** Holds the partition thread of its key until RELEASE (at most 20 s): a lender that stopped answering. */
    static final class Stall implements EntryProcessor<Long, byte[], Boolean> {
        private static final long serialVersionUID = 1L;
        private final boolean late;

        Stall() {
            this(false);
        }

        Stall(boolean late) {
            this.late = late;
        }

        @Override
        public Boolean process(Map.Entry<Long, byte[]> entry) {
            STALLING.release();
            try {
                (late ? RELEASE_LATE : RELEASE).await(20, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            return Boolean.TRUE;
        }
    }

    @Test
    void shouldServeAHealthyLendersPagesWhileAnotherLenderStalls() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT + 40)) {
            Node slow = lender(cluster, 1, 16L << 20);
            lender(cluster, 2, 16L << 20); // the healthy one
            Node sender = sender(cluster, 0, 1, "1", true);
            awaitMembers(cluster, sender, 3);
            Batch onSlow = batch(2, 1);
            Sent s1 = send(sender, onSlow);
            assertEquals(null, sender.knobs.set(Knob.REMOTE_TARGET_NODENUM, "2"));
            Batch onHealthy = batch(4, 2);
            Sent s2 = send(sender, onHealthy);
            long slowKey = RemoteKey.of(0, 1, s1.handles[0]);
            blocks(slow).submitToKey(slowKey, new Stall()); // slow's partition thread for that key now waits
            assertTrue(STALLING.tryAcquire(10, TimeUnit.SECONDS), "the stall holds the partition thread");
            Thread[] readers = new Thread[20]; // more readers than the FUSE threads of a daemon
            for (int i = 0; i < readers.length; i++) {
                readers[i] = new Thread(() -> sender.tier.fetch(
                        2,
                        onSlow.blocks,
                        onSlow.generations,
                        s1.handles,
                        pages(2),
                        new int[2],
                        300)); // each gives up after 300 ms
                readers[i].start();
            }
            for (Thread t : readers) {
                t.join();
            }
            int[] lengths = new int[4];
            long t0 = System.nanoTime();
            sender.tier.fetch(4, onHealthy.blocks, onHealthy.generations, s2.handles, pages(4), lengths, 2_000);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            RELEASE.countDown();
            int[] want = Arrays.copyOf(onHealthy.lengths, 4);
            System.out.println("healthy lender's pages: " + Arrays.toString(lengths) + " after " + ms + " ms; want "
                    + Arrays.toString(want));
            assertEquals(
                    Arrays.toString(want),
                    Arrays.toString(lengths),
                    "pages on the healthy lender came back although the other lender stalled");
        }
    }

    /**
     * Late binding: a page whose first copy sits behind a stalled partition thread is read from its
     * second copy soon after late_bind_ms, long before the remote timeout.
     */
    @Test
    void shouldReadTheSecondCopyWhenTheFirstIsLate() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT + 80)) {
            Node slow = lender(cluster, 1, 16L << 20);
            lender(cluster, 2, 16L << 20);
            Node sender = sender(cluster, 0, 1, "1,2", true);
            awaitMembers(cluster, sender, 3);
            Batch b = batch(4, 3);
            Sent sent = send(sender, b);
            KeyPlacer placer = new KeyPlacer(sender.member.hazelcast().getPartitionService(), 0, 1);
            for (long h : sent.handles) {
                assertTrue(KeyPlacer.twoCopies(h));
            }
            blocks(slow)
                    .submitToKey(placer.firstKey(sent.handles[0]), new Stall(true)); // the first copy of page 0 is late
            assertTrue(STALLING.tryAcquire(10, TimeUnit.SECONDS), "the stall holds the partition thread");
            assertEquals(null, sender.knobs.set(Knob.LATE_BIND_MS, "20"));
            int[] lengths = new int[4];
            long t0 = System.nanoTime();
            sender.tier.fetch(4, b.blocks, b.generations, sent.handles, pages(4), lengths, 10_000);
            long ms = (System.nanoTime() - t0) / 1_000_000;
            RELEASE_LATE.countDown();
            System.out.println("a late first copy: pages back after " + ms + " ms (late_bind_ms 20, timeout 10000), "
                    + sender.count(Counter.REMOTE_READS_SECOND_COPY) + " from a second copy");
            assertEquals(Arrays.toString(Arrays.copyOf(b.lengths, 4)), Arrays.toString(lengths));
            assertTrue(ms < 5_000, "the read waited for the stalled copy: " + ms + " ms");
            assertTrue(sender.count(Counter.REMOTE_READS_SECOND_COPY) >= 1);
        }
    }

    @Test
    void shouldSendNothingUntilTheStartSweepIsDoneSoThatItDeletesNoPageOfTheNewLife() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT + 60)) {
            lender(cluster, 1, 64L << 20);
            Node sender = sender(cluster, 0, 1, "1", true);
            awaitMembers(cluster, sender, 2);
            for (int i = 0; i < 4; i++) {
                send(sender, batch(64, 100 + i)); // the earlier life's pages
            }
            int lost = 0;
            int sent = 0;
            for (int round = 0; round < 10; round++) {
                long incarnation = 10L + round;
                // a sweep slower than its bound (Duration.ZERO stands in for 10 s against a slow or migrating cluster)
                HazelcastRemoteTier reborn = cluster.own(HazelcastRemoteTier.start(
                        sender.member, sender.knobs, sender.counters, incarnation, Duration.ZERO));
                // the sweep goes on in the background: nothing may be sent before it ends
                TestCluster.await("the start sweep done", reborn::canSend);
                Batch b = batch(64, round);
                Sent s = reborn.send(b).get(5, TimeUnit.SECONDS);
                // a sweep still running would delete the new life's pages: give it the time to, if there were one
                Thread.sleep(500);
                int[] lengths = new int[64];
                reborn.fetch(64, b.blocks, b.generations, s.handles, pages(64), lengths, 5_000);
                for (int k = 0; k < 64; k++) {
                    if (s.handles[k] >= 0) {
                        sent++;
                        if (lengths[k] == RemoteTier.MISSING) {
                            lost++;
                        }
                    }
                }
                // this round's pages are the next round's "earlier life"
            }
            System.out.println("pages sent right after a start whose sweep went on in the background: " + sent
                    + ", lost: " + lost);
            assertEquals(640, sent, "every batch was sent once the sweep was done");
            assertEquals(0, lost, "pages the new life sent were deleted by its own start sweep");
        }
    }
}
