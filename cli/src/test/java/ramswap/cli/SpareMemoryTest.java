package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import org.junit.jupiter.api.Test;

class SpareMemoryTest {

    @Test
    void shouldReadMemAvailableInBytes() {
        assertEquals(2048L * 1024, SpareMemory.memAvailable(List.of("MemTotal:  4096 kB", "MemAvailable:    2048 kB")));
        assertThrows(IllegalStateException.class, () -> SpareMemory.memAvailable(List.of("MemTotal: 1 kB")));
    }

    @Test
    void shouldReadTheSomeAvg10OfMemoryPressure() {
        List<String> psi = List.of(
                "some avg10=12.50 avg60=3.00 avg300=1.00 total=123", "full avg10=1.00 avg60=0.00 avg300=0.00 total=5");
        assertEquals(12.5, SpareMemory.someAvg10(psi));
        assertThrows(IllegalStateException.class, () -> SpareMemory.someAvg10(List.of("full avg10=1.00")));
    }
}
