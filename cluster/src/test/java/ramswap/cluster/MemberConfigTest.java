package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.hazelcast.config.Config;
import com.hazelcast.config.EvictionPolicy;
import com.hazelcast.config.JoinConfig;
import com.hazelcast.config.MapConfig;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;

class MemberConfigTest {

    private static final ClusterSettings SETTINGS =
            new ClusterSettings("lab", 12, "10.1.2.3", 5801, List.of("10.1.2.4", "10.1.2.5:5802"), false);

    @Nested
    class Identity {

        @Test
        void shouldCarryClusterNameAndNodeNumberAttribute() {
            Config config = MemberConfig.build(SETTINGS, false);

            assertEquals("lab", config.getClusterName());
            assertEquals("12", config.getMemberAttributeConfig().getAttribute("ramswap.node"));
        }

        @Test
        void shouldStartAsLiteWhenAskedOrWhenSettingsSaySo() {
            assertTrue(MemberConfig.build(SETTINGS, true).isLiteMember());
            assertFalse(MemberConfig.build(SETTINGS, false).isLiteMember());
            ClusterSettings lite = new ClusterSettings("lab", 12, "10.1.2.3", 5801, List.of("10.1.2.4"), true);
            assertTrue(MemberConfig.build(lite, false).isLiteMember());
        }
    }

    @Nested
    class Network {

        @Test
        void shouldBindOnlyTheGivenAddressFromTheGivenPortUp() {
            Config config = MemberConfig.build(SETTINGS, false);

            assertTrue(config.getNetworkConfig().getInterfaces().isEnabled());
            assertEquals(
                    List.of("10.1.2.3"),
                    List.copyOf(config.getNetworkConfig().getInterfaces().getInterfaces()));
            assertEquals("false", config.getProperty("hazelcast.socket.bind.any"));
            assertEquals(5801, config.getNetworkConfig().getPort());
            assertTrue(config.getNetworkConfig().isPortAutoIncrement());
        }

        @Test
        void shouldJoinOnlyTheGivenMembersOverTcp() {
            JoinConfig join =
                    MemberConfig.build(SETTINGS, false).getNetworkConfig().getJoin();

            assertTrue(join.getTcpIpConfig().isEnabled());
            assertEquals(
                    List.of("10.1.2.4", "10.1.2.5:5802"), join.getTcpIpConfig().getMembers());
            assertFalse(join.getMulticastConfig().isEnabled());
            assertFalse(join.getAutoDetectionConfig().isEnabled());
        }

        @Test
        void shouldBoundTheJoinInTime() {
            Config config = MemberConfig.build(SETTINGS, false);

            assertEquals("10", config.getProperty("hazelcast.max.join.seconds"));
            assertEquals(2, config.getNetworkConfig().getJoin().getTcpIpConfig().getConnectionTimeoutSeconds());
        }
    }

    @Nested
    class Behaviour {

        @Test
        void shouldNeverPhoneHomeAndLeaveGracefullyWithinThirtySeconds() {
            Config config = MemberConfig.build(SETTINGS, false);

            assertEquals("false", config.getProperty("hazelcast.phone.home.enabled"));
            assertEquals("GRACEFUL", config.getProperty("hazelcast.shutdownhook.policy"));
            assertEquals("30", config.getProperty("hazelcast.graceful.shutdown.max.wait"));
            assertEquals("jdk", config.getProperty("hazelcast.logging.type"));
        }

        @Test
        void shouldKeepOneBackupOfStatsAndNeverEvictThem() {
            MapConfig stats = MemberConfig.build(SETTINGS, false).getMapConfig(StatsPublisher.MAP_NAME);

            assertEquals(1, stats.getBackupCount());
            assertEquals(EvictionPolicy.NONE, stats.getEvictionConfig().getEvictionPolicy());
        }
    }
}
