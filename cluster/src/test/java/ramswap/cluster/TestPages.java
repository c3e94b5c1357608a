package ramswap.cluster;

import java.util.Random;
import ramswap.store.RemoteTier.Batch;

/** Batches of pages for the remote tier's tests. */
final class TestPages {

    static final int PAGE = 4096;

    private TestPages() {}

    /** {@code count} pages of random length and content, blocks 100.., generations 7... */
    static Batch batch(int count, long seed) {
        Random random = new Random(seed);
        Batch b = new Batch(count, PAGE);
        for (int k = 0; k < count; k++) {
            b.blocks[k] = 100 + k;
            b.generations[k] = 7 + k;
            b.lengths[k] = 1 + random.nextInt(PAGE);
            random.nextBytes(b.pages[k]);
        }
        b.count = count;
        return b;
    }

    static byte[][] pages(int count) {
        return new byte[count][PAGE];
    }
}
