package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/** What up refuses before it starts anything (checked on the configuration, so that no test can start a daemon by mistake). */
class UpOptionsTest {

    private static final long SIZE = 512L << 20;
    private static final long CAPACITY = DaemonConfig.capacityFor(SIZE);

    private static DaemonConfig config(long poolMax, boolean overcommit) {
        return new DaemonConfig(
                Path.of("/run/ramswap-unused"),
                SIZE,
                1,
                100,
                poolMax,
                CAPACITY,
                1L << 20,
                overcommit,
                true,
                null,
                Path.of("/run/ramswap-unused.log"),
                0,
                true,
                null,
                true,
                false,
                null);
    }

    @Test
    void shouldRefuseAPoolLimitBelowWhatTheSwapAreaMayNeedWithoutOvercommit() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> config(8L << 20, false));
        assertTrue(e.getMessage().startsWith("--pool-max 8.0 MiB is less than"), e.getMessage());
        assertTrue(e.getMessage().contains("--pool-overcommit"), e.getMessage());
        assertTrue(e.getMessage().contains("retries the refused swap writes without end"), e.getMessage());
    }

    @Test
    void shouldTakeASmallPoolLimitWithOvercommitAndLetTheKnobFollowTheSameRule() {
        assertNull(config(8L << 20, true).poolLimitRefusal(1L << 20));
        DaemonConfig strict = config(CAPACITY, false);
        assertTrue(strict.poolLimitRefusal(256L << 20) != null, "the knob cannot lower it either");
        assertNull(strict.poolLimitRefusal(CAPACITY));
        assertEquals(CAPACITY, strict.poolLimitBytes());
    }
}
