package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CopyPlacesTest {

    @Test
    void shouldNameTheLendersOfEachRunAndDropARunWithItsLastPage() {
        CopyPlaces places = new CopyPlaces();
        long a = places.take(64);
        long b = places.take(64);
        places.placed(a, 40, 1, 2); // lender 1 took a prefix of the batch
        places.placed(a + 40, 24, 3, 2); // the rest went to the next target
        places.placed(b, 64, 2, CopyPlaces.NONE);
        assertEquals(1, places.first(a));
        assertEquals(2, places.second(a + 39));
        assertEquals(3, places.first(a + 40));
        assertEquals(2, places.first(b + 63));
        assertEquals(CopyPlaces.NONE, places.second(b));
        assertTrue(places.on(a + 3, 2));
        assertFalse(places.on(a + 3, 3));
        assertEquals(CopyPlaces.NONE, places.first(b + 64), "not taken");
        assertEquals(128, places.pages());
        assertEquals(3, places.runs());
        for (long h = a; h < a + 40; h++) {
            places.forgot(h);
        }
        assertEquals(2, places.runs(), "the first run went with its last page");
        assertEquals(CopyPlaces.NONE, places.first(a));
        assertEquals(3, places.first(a + 40));
        assertFalse(places.forgot(a), "a handle of no run any more");
    }

    @Test
    void shouldForgetAHandleOnceHoweverOftenItIsForgotten() {
        CopyPlaces places = new CopyPlaces();
        long a = places.take(70);
        places.placed(a, 70, 1, 2);
        assertEquals(
                CopyPlaces.RUN_BYTES + 16 + 2 * CopyPlaces.CHUNK_BYTES,
                places.bytes(),
                "a word of bits per 64 pages, and the two chunks of 64 handles the run spans");
        assertTrue(places.forgot(a + 65));
        assertFalse(places.placed(a + 65));
        assertTrue(places.placed(a + 64));
        for (int i = 0; i < 10; i++) {
            assertFalse(places.forgot(a + 65), "forgotten already: the store forgot it and the sweep found it");
        }
        assertEquals(69, places.pages());
        for (long h = a; h < a + 69; h++) {
            if (h != a + 65) {
                assertTrue(places.forgot(h));
            }
        }
        assertEquals(1, places.runs(), "one page of the run is still away");
        assertEquals(1, places.first(a + 69));
        assertEquals(2, places.second(a + 69));
        assertTrue(places.forgot(a + 69));
        assertEquals(0, places.runs());
        assertEquals(0, places.bytes());
        assertFalse(places.placed(a + 69));
    }

    @Test
    void shouldFindPagesOfARunThatSpansManyChunksBesideShortOnes() {
        CopyPlaces places = new CopyPlaces();
        long a = places.take(3);
        long b = places.take(300); // 64-handle chunks 0 to 4
        long c = places.take(1);
        places.placed(b, 300, 4, 5);
        places.placed(a, 3, 1, CopyPlaces.NONE);
        places.placed(c, 1, 2, 3);
        assertEquals(1, places.first(a + 2));
        assertEquals(4, places.first(b));
        assertEquals(5, places.second(b + 150));
        assertEquals(4, places.first(b + 299));
        assertEquals(2, places.first(c));
        assertEquals(CopyPlaces.NONE, places.first(c + 1), "never placed");
        assertThrows(IllegalArgumentException.class, () -> places.placed(b + 100, 1, 1, 2), "inside the long run");
        for (long h = b; h < b + 300; h++) {
            assertTrue(places.forgot(h));
        }
        assertEquals(2, places.runs());
        assertEquals(CopyPlaces.NONE, places.first(b + 150));
        assertEquals(1, places.first(a));
        assertEquals(3, places.second(c), "the short runs in the long one's first and last chunks stay");
    }

    @Test
    void shouldRefuseRunsItCannotKeepStraight() {
        CopyPlaces places = new CopyPlaces();
        long a = places.take(10);
        assertThrows(IllegalArgumentException.class, () -> places.placed(a, 11, 1, 2), "not taken");
        assertThrows(IllegalArgumentException.class, () -> places.placed(a, 5, 1, 1), "both copies on one lender");
        assertThrows(IllegalArgumentException.class, () -> places.placed(a, 5, CopyPlaces.NONE, 2));
        places.placed(a + 2, 4, 1, 2);
        assertThrows(IllegalArgumentException.class, () -> places.placed(a, 3, 1, 2), "overlaps");
        assertThrows(IllegalArgumentException.class, () -> places.placed(a + 5, 3, 1, 2), "overlaps");
        places.placed(a, 2, 1, 2);
        places.placed(a + 6, 4, 1, 2);
        assertEquals(10, places.pages());
        assertThrows(IllegalStateException.class, () -> places.take(0));
    }

    @Test
    void shouldMatchAPlainMapThroughRandomSendsAndForgets() {
        Random r = new Random(9);
        CopyPlaces places = new CopyPlaces();
        Map<Long, int[]> model = new HashMap<>();
        List<Long> live = new ArrayList<>();
        for (int op = 0; op < 20_000; op++) {
            if (r.nextInt(3) > 0 || live.isEmpty()) {
                int n = 1 + r.nextInt(64);
                long start = places.take(n);
                int split = 1 + r.nextInt(n);
                int first = r.nextInt(5);
                int second = r.nextBoolean() ? (first + 1 + r.nextInt(4)) % 5 : CopyPlaces.NONE;
                places.placed(start, split, first, second);
                if (split < n) {
                    places.placed(start + split, n - split, (first + 1) % 5, CopyPlaces.NONE);
                }
                for (int k = 0; k < n; k++) {
                    model.put(
                            start + k,
                            k < split ? new int[] {first, second} : new int[] {(first + 1) % 5, CopyPlaces.NONE});
                    live.add(start + k);
                }
            } else {
                for (int i = 1 + r.nextInt(32); i > 0 && !live.isEmpty(); i--) {
                    long h = live.remove(r.nextInt(live.size()));
                    int[] want = model.remove(h);
                    assertEquals(want[0], places.first(h));
                    assertEquals(want[1], places.second(h));
                    assertTrue(places.forgot(h));
                    assertFalse(places.forgot(h), "a second forgetting changes nothing");
                }
            }
            assertEquals(model.size(), places.pages());
        }
        for (long h : live) {
            int[] want = model.get(h);
            assertEquals(want[0], places.first(h), "handle " + h);
            assertEquals(want[1], places.second(h), "handle " + h);
            places.forgot(h);
        }
        assertEquals(0, places.runs());
        assertEquals(0, places.bytes());
    }
}
