package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static ramswap.cluster.HazelcastRemoteTierIT.BASE_PORT;
import static ramswap.cluster.HazelcastRemoteTierIT.MIB;
import static ramswap.cluster.HazelcastRemoteTierIT.PAGE;
import static ramswap.cluster.HazelcastRemoteTierIT.awaitMembers;
import static ramswap.cluster.HazelcastRemoteTierIT.blocks;
import static ramswap.cluster.HazelcastRemoteTierIT.lender;
import static ramswap.cluster.HazelcastRemoteTierIT.sender;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.agrona.concurrent.AgentRunner;
import org.junit.jupiter.api.Test;
import ramswap.cluster.HazelcastRemoteTierIT.Node;
import ramswap.move.Moves;
import ramswap.move.Remotifier;
import ramswap.store.Counter;
import ramswap.store.FetchSlot;
import ramswap.store.IoResult;
import ramswap.store.Knob;
import ramswap.store.LocalPool;
import ramswap.store.SwapStore;
import ramswap.sys.Posix;

/**
 * Reads parked on their remote pages, answered through the Hazelcast tier by real members in
 * this JVM: a store whose pages went to a lender, read with a {@link FetchSlot}; the answer comes
 * on Hazelcast's thread with every byte right, a page whose copies are gone is answered EIO from
 * its copies' answers, and the tier's timer (an agent, as in the daemon) is what runs late binding
 * and deadlines.
 */
class ParkedFetchIT {

    private static final int BLOCKS = 256;

    @Test
    void shouldAnswerParkedReadsFromTheLendersAnswersAndFailMissingPagesWithEio() throws Exception {
        try (TestCluster cluster = new TestCluster(BASE_PORT);
                LocalPool pool = new LocalPool(Posix.load(), 64L << 20, 64L << 20, 0)) {
            Node lender = lender(cluster, 1, 16 * MIB);
            Node sender = sender(cluster, 0, 1, "1", true);
            awaitMembers(cluster, sender, 2);
            SwapStore store = new SwapStore((long) BLOCKS * PAGE, pool, sender.counters);
            store.useRemote(sender.tier, () -> 5_000);
            AgentRunner timer = TestCluster.startAgent(sender.tier.agents(), HazelcastRemoteTier.FetchTimer.class);
            try {
                byte[][] expected = new byte[BLOCKS][PAGE];
                Random r = new Random(17);
                for (int b = 0; b < BLOCKS; b++) {
                    for (int i = 0; i < PAGE; i += 64) {
                        expected[b][i] = (byte) r.nextInt(); // sparse bytes: compressible, never same-filled
                    }
                    assertEquals(IoResult.DONE, store.write(expected[b], 0, (long) b * PAGE, PAGE));
                }
                sender.knobs.set(Knob.PERS_REMOTIFY_ENABLE, 1);
                Remotifier remotifier = new Remotifier(new Moves(store), sender.knobs, PAGE + 64);
                TestCluster.await("every page on the lender", () -> {
                    remotifier.doWork();
                    return sender.counters.get(Counter.REMOTE_PERS_PAGES) == BLOCKS;
                });
                remotifier.onClose();

                BlockingQueue<Object[]> answers = new LinkedBlockingQueue<>();
                FetchSlot slot = new FetchSlot(0, store.compressedPageBytes(), (s, result) -> {
                    byte[] bytes = Arrays.copyOf(s.data(), s.length());
                    s.release(); // before the test hears of it: its next read takes this slot again
                    answers.add(new Object[] {result, bytes});
                });
                FetchSlot.Source source = () -> slot.claim(1) ? slot : null;
                byte[] dst = new byte[32 * PAGE];
                for (int first = 0; first < BLOCKS; first += 32) {
                    assertEquals(IoResult.PARKED, store.read(dst, 0, (long) first * PAGE, 32 * PAGE, source));
                    Object[] a = answers.poll(10, TimeUnit.SECONDS);
                    assertNotNull(a, "a parked read was never answered");
                    assertEquals(IoResult.DONE, a[0]);
                    byte[] got = (byte[]) a[1];
                    for (int i = 0; i < 32; i++) {
                        assertArrayEquals(
                                expected[first + i],
                                Arrays.copyOfRange(got, i * PAGE, (i + 1) * PAGE),
                                "block " + (first + i));
                    }
                }
                assertEquals(BLOCKS / 32, sender.counters.get(Counter.REMOTE_READS_PARKED));
                assertEquals(BLOCKS, sender.counters.get(Counter.REMOTE_PERS_PAGES_SUCC_GET));

                blocks(lender).clear(); // every copy gone: each page's copies answer missing
                assertEquals(IoResult.PARKED, store.read(dst, 0, 0, 4 * PAGE, source));
                Object[] a = answers.poll(10, TimeUnit.SECONDS);
                assertNotNull(a, "a read of missing pages was never answered");
                assertEquals(IoResult.REMOTE_FAILED, a[0]);
                assertEquals(4, sender.counters.get(Counter.REMOTE_GET_MISSING));
                assertEquals(1, sender.counters.get(Counter.REMOTE_FAILED_REQUESTS));
                assertTrue(slot.free());
                assertTrue(answers.isEmpty(), "one answer per read");
            } finally {
                timer.close();
            }
        }
    }
}
