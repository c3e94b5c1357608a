package ramswap.fuse;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.OptionalLong;
import org.junit.jupiter.api.Test;

class MountTableTest {

    private static final String RAMSWAP_LINE =
            "412 29 0:58 / /run/ramswap\\040x rw,nosuid,nodev,relatime shared:230 - fuse.ramswap ramswap:4242 rw,user_id=0,group_id=0,allow_other";

    @Test
    void shouldReadTypeSourceAndConnectionOfAMount() {
        MountTable.Entry e = MountTable.parse(RAMSWAP_LINE, "/run/ramswap x");
        assertEquals(MountTable.RAMSWAP_TYPE, e.type());
        assertEquals("ramswap:4242", e.source());
        assertEquals(58, e.deviceMinor());
    }

    @Test
    void shouldNameTheDaemonOfARamswapMountOnly() {
        assertEquals(
                OptionalLong.of(4242),
                MountTable.parse(RAMSWAP_LINE, "/run/ramswap x").daemonPid());
        assertEquals(
                MountTable.sourceFor(4242),
                MountTable.parse(RAMSWAP_LINE, "/run/ramswap x").source());
        String tmpfs = "413 29 0:59 / /mnt rw,relatime shared:231 - tmpfs ramswap:4242 rw,size=1024k";
        assertTrue(MountTable.parse(tmpfs, "/mnt").daemonPid().isEmpty(), "only ramswap's type names a daemon");
        String older = "414 29 0:60 / /run/ramswap rw,relatime shared:232 - fuse.ramswap ramswap rw,user_id=0";
        assertTrue(
                MountTable.parse(older, "/run/ramswap").daemonPid().isEmpty(), "a mount of an older daemon names none");
    }

    @Test
    void shouldIgnoreOtherMountPoints() {
        assertNull(MountTable.parse(RAMSWAP_LINE, "/run/ramswap"));
    }
}
