package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class BlockTableTest {

    @Nested
    class Encoding {
        @Test
        void shouldRoundTripEveryFieldForRandomEntries() {
            Random r = new Random(Pages.seed("BlockTable.encoding"));
            for (int i = 0; i < 100_000; i++) {
                int state = r.nextInt(4);
                int length = r.nextInt(4097);
                long handle = r.nextLong() & BlockTable.HANDLE_MASK;
                long e = BlockTable.entry(state, length, handle);
                assertEquals(state, BlockTable.state(e));
                assertEquals(length, BlockTable.length(e));
                assertEquals(handle, BlockTable.handle(e));
            }
        }

        @Test
        void shouldRoundTripTheExtremes() {
            long e = BlockTable.entry(BlockTable.STATE_REMOTE, 4096, BlockTable.HANDLE_MASK);
            assertEquals(BlockTable.STATE_REMOTE, BlockTable.state(e));
            assertEquals(4096, BlockTable.length(e));
            assertEquals(BlockTable.HANDLE_MASK, BlockTable.handle(e));
            assertEquals(BlockTable.STATE_EMPTY, BlockTable.state(BlockTable.EMPTY));
        }

        @Test
        void shouldRefuseFieldsThatDoNotFit() {
            assertThrows(IllegalArgumentException.class, () -> BlockTable.entry(4, 0, 0));
            assertThrows(IllegalArgumentException.class, () -> BlockTable.entry(1, 8192, 0));
            assertThrows(IllegalArgumentException.class, () -> BlockTable.entry(1, 0, 1L << 48));
            assertThrows(IllegalArgumentException.class, () -> BlockTable.entry(1, -1, 0));
        }
    }

    @Nested
    class Locking {
        @Test
        void shouldHandOutTheOldEntryOnExchange() {
            BlockTable t = new BlockTable(4);
            long a = BlockTable.entry(BlockTable.STATE_LOCAL, 100, 7);
            assertEquals(BlockTable.EMPTY, t.exchange(2, a));
            assertEquals(a, t.exchange(2, BlockTable.EMPTY));
            assertEquals(BlockTable.EMPTY, t.peek(2));
        }

        @Test
        void shouldNotLoseUpdatesWhenThreadsShareABlock() throws InterruptedException {
            BlockTable t = new BlockTable(1);
            int threads = 4;
            int rounds = 20_000;
            AtomicInteger errors = new AtomicInteger();
            Thread[] ts = new Thread[threads];
            for (int i = 0; i < threads; i++) {
                ts[i] = new Thread(
                        () -> {
                            for (int n = 0; n < rounds; n++) {
                                long e = t.lock(0);
                                long count = BlockTable.handle(e);
                                t.publish(0, BlockTable.entry(BlockTable.STATE_LOCAL, 1, count + 1));
                            }
                        },
                        "table-test-" + i);
                ts[i].setUncaughtExceptionHandler((th, ex) -> errors.incrementAndGet());
                ts[i].start();
            }
            for (Thread th : ts) {
                th.join(60_000);
            }
            assertEquals(0, errors.get());
            assertEquals((long) threads * rounds, BlockTable.handle(t.peek(0)));
        }
    }
}
