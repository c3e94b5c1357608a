package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class BlockCodecTest {

    private final BlockCodec codec = new BlockCodec();

    @Nested
    class RoundTrip {
        @Test
        void shouldRestoreEveryKindOfPage() {
            Random r = new Random(Pages.seed("BlockCodec.roundTrip"));
            byte[] compressed = new byte[codec.maxCompressedLength()];
            byte[] out = new byte[BlockCodec.BLOCK_SIZE + 100];
            for (int i = 0; i < 5_000; i++) {
                byte[] page = Pages.anyKind(r);
                int n = codec.compress(page, 0, compressed);
                if (n == BlockCodec.BLOCK_SIZE) {
                    System.arraycopy(page, 0, compressed, 0, n); // the store keeps raw pages raw
                }
                int at = r.nextInt(100);
                assertTrue(codec.decompress(compressed, n, out, at));
                byte[] back = java.util.Arrays.copyOfRange(out, at, at + BlockCodec.BLOCK_SIZE);
                assertArrayEquals(page, back, "page " + i);
            }
        }

        @Test
        void shouldStoreIncompressiblePagesRaw() {
            Random r = new Random(Pages.seed("BlockCodec.raw"));
            byte[] compressed = new byte[codec.maxCompressedLength()];
            assertEquals(BlockCodec.BLOCK_SIZE, codec.compress(Pages.random(r, "random"), 0, compressed));
        }

        @Test
        void shouldCompressTextLikePagesBelowThreeQuarters() {
            Random r = new Random(Pages.seed("BlockCodec.text"));
            byte[] compressed = new byte[codec.maxCompressedLength()];
            int n = codec.compress(Pages.random(r, "text"), 0, compressed);
            assertTrue(n < BlockCodec.BLOCK_SIZE * 3 / 4, "text page compressed to " + n);
        }

        @Test
        void shouldReportCorruptInputInsteadOfThrowing() {
            byte[] garbage = new byte[200];
            new Random(1).nextBytes(garbage);
            assertFalse(codec.decompress(garbage, garbage.length, new byte[BlockCodec.BLOCK_SIZE], 0));
        }
    }

    @Nested
    class SameFilled {
        @Test
        void shouldFindAnyRepeatedWord() {
            Random r = new Random(Pages.seed("BlockCodec.sameFilled"));
            for (int i = 0; i < 1_000; i++) {
                long word = i == 0 ? 0 : r.nextLong();
                byte[] page = new byte[BlockCodec.BLOCK_SIZE + 16];
                BlockCodec.fill(page, 8, word);
                assertTrue(BlockCodec.isSameFilled(page, 8));
                assertEquals(word, BlockCodec.fillWord(page, 8));
            }
        }

        @Test
        void shouldRejectAPageWithOneDifferentByteAnywhere() {
            Random r = new Random(Pages.seed("BlockCodec.notSame"));
            for (int i = 0; i < 1_000; i++) {
                byte[] page = new byte[BlockCodec.BLOCK_SIZE];
                BlockCodec.fill(page, 0, r.nextLong());
                page[r.nextInt(page.length)] ^= (byte) (1 + r.nextInt(255));
                assertFalse(BlockCodec.isSameFilled(page, 0));
            }
        }

        @Test
        void shouldInternFillWordsAndGiveZeroIndexZero() {
            FillWords w = new FillWords(4);
            assertEquals(FillWords.ZERO_INDEX, w.indexOf(0L));
            int a = w.indexOf(0xAAL);
            assertEquals(a, w.indexOf(0xAAL));
            assertEquals(0xAAL, w.word(a));
            w.indexOf(1L);
            w.indexOf(2L);
            assertEquals(-1, w.indexOf(3L), "full table refuses new words");
        }
    }
}
