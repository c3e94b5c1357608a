package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class NodeRoleTest {

    @Test
    void shouldNameEachRoleByWhatTheNodeDoes() {
        assertEquals("borrows", new NodeRole(0, true).name());
        assertEquals("lends+borrows", new NodeRole(1L << 30, true).name());
        assertEquals("lends", new NodeRole(1L << 30, false).name());
    }

    @Test
    void shouldMakeANodeThatLendsNothingALiteMember() {
        assertTrue(new NodeRole(0, true).liteMember());
        assertFalse(new NodeRole(4096, true).liteMember());
    }

    @Test
    void shouldRefuseANodeWithoutSwapThatLendsNothing() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new NodeRole(0, false));
        assertTrue(e.getMessage().startsWith("--no-swap needs --lend SIZE"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new NodeRole(-1, true));
    }
}
