package ramswap.store;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class KnobsTest {

    @Test
    void shouldStoreTheValueItsListenerAppliedLastWhenTwoSetsRace() throws Exception {
        Knobs knobs = new Knobs();
        AtomicLong applied = new AtomicLong();
        CountDownLatch secondDone = new CountDownLatch(1);
        CountDownLatch firstInListener = new CountDownLatch(1);
        knobs.onChange(Knob.SELFSHRINK_INTERVAL, v -> {
            if (v == 10) {
                firstInListener.countDown();
                try {
                    // the first set lingers in its listener: a second set must not slip in between listener and store
                    secondDone.await(300, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
            applied.set(v);
        });
        Thread first = new Thread(() -> knobs.set(Knob.SELFSHRINK_INTERVAL, 10));
        first.start();
        assertTrue(firstInListener.await(5, TimeUnit.SECONDS), "the first set is in its listener");
        Thread second = new Thread(() -> {
            knobs.set(Knob.SELFSHRINK_INTERVAL, 20);
            secondDone.countDown();
        });
        second.start();
        first.join(5000);
        second.join(5000);
        assertEquals(
                applied.get(), knobs.get(Knob.SELFSHRINK_INTERVAL), "stored value differs from the one applied last");
    }

    @Test
    void shouldKeepTheOldValueWhenTheListenerRefuses() {
        Knobs knobs = new Knobs();
        knobs.onChange(Knob.FRONTSWAP_INERTIA, v -> {
            if (v > 5) {
                throw new IllegalArgumentException("frontswap_inertia: too high");
            }
        });
        assertNull(knobs.set(Knob.FRONTSWAP_INERTIA, 4));
        assertNotNull(knobs.set(Knob.FRONTSWAP_INERTIA, 9));
        assertEquals(4, knobs.get(Knob.FRONTSWAP_INERTIA));
        assertNotNull(knobs.set(Knob.FRONTSWAP_INERTIA, "x"));
    }
}
