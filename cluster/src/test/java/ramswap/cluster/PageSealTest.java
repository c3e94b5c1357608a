package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PageSealTest {

    private static final SecureRandom RANDOM = new SecureRandom();
    private final PageSeal seal = new PageSeal("cluster-a", 3, 7, RANDOM);
    private final byte[] page = page(new Random(1));

    private static byte[] page(Random r) {
        byte[] p = new byte[1234];
        r.nextBytes(p);
        return p;
    }

    @Test
    void shouldOpenWhatItSealedForTheSameBlockAndGeneration() {
        byte[] sealed = seal.seal(page, 0, page.length, 42, 5);
        assertEquals(page.length + PageSeal.OVERHEAD, sealed.length);
        byte[] out = new byte[page.length + 10];
        assertEquals(page.length, seal.open(sealed, sealed.length, 42, 5, out, 10));
        assertArrayEquals(page, Arrays.copyOfRange(out, 10, 10 + page.length));
    }

    @Test
    void shouldNeverSealOnePageTheSameWayTwice() {
        assertFalse(Arrays.equals(seal.seal(page, 0, page.length, 42, 5), seal.seal(page, 0, page.length, 42, 5)));
    }

    @Test
    void shouldRefuseAPageAlteredAnywhere() {
        byte[] sealed = seal.seal(page, 0, page.length, 42, 5);
        byte[] out = new byte[page.length];
        for (int at : new int[] {0, PageSeal.NONCE_BYTES, sealed.length / 2, sealed.length - 1}) {
            byte[] altered = sealed.clone();
            altered[at] ^= 1;
            assertEquals(-1, seal.open(altered, altered.length, 42, 5, out, 0), "a flipped bit at " + at);
        }
        assertEquals(-1, seal.open(sealed, sealed.length - 1, 42, 5, out, 0), "a truncated page");
        assertEquals(-1, seal.open(sealed, PageSeal.OVERHEAD - 1, 42, 5, out, 0), "too short to be sealed");
    }

    @Test
    void shouldRefuseAPageOfAnotherBlockGenerationNodeIncarnationClusterOrKey() {
        byte[] sealed = seal.seal(page, 0, page.length, 42, 5);
        byte[] out = new byte[page.length];
        assertEquals(-1, seal.open(sealed, sealed.length, 43, 5, out, 0), "misplaced");
        assertEquals(-1, seal.open(sealed, sealed.length, 42, 4, out, 0), "stale or resurrected");
        assertEquals(
                -1,
                new PageSeal("cluster-a", 3, 7, RANDOM).open(sealed, sealed.length, 42, 5, out, 0),
                "another daemon's key");
    }
}
