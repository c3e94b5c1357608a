package ramswap.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Nested;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ClusterSettingsTest {

    private static ClusterSettings settings(
            String clusterName, int nodeNumber, String bindAddress, int port, List<String> members) {
        return new ClusterSettings(clusterName, nodeNumber, bindAddress, port, members, false);
    }

    private static String refusal(Runnable construction) {
        return assertThrows(IllegalArgumentException.class, construction::run).getMessage();
    }

    @Nested
    class SingleNode {

        @Test
        void shouldListenOnLoopbackPort5701AsDataMember() {
            ClusterSettings s = ClusterSettings.singleNode("ramswap", 3);

            assertEquals("ramswap", s.clusterName());
            assertEquals(3, s.nodeNumber());
            assertEquals("127.0.0.1", s.bindAddress());
            assertEquals(5701, s.port());
            assertEquals(List.of("127.0.0.1"), s.members());
            assertFalse(s.liteMember());
        }
    }

    @Nested
    class ClusterName {

        @ParameterizedTest
        @ValueSource(strings = {"a", "ramswap", "lab-1.rack_2"})
        void shouldAcceptLettersDigitsDotsUnderscoresAndHyphens(String name) {
            assertEquals(name, ClusterSettings.singleNode(name, 1).clusterName());
        }

        @Test
        void shouldAccept64Characters() {
            String name = "n".repeat(64);
            assertEquals(name, ClusterSettings.singleNode(name, 1).clusterName());
        }

        @Test
        void shouldRefuse65Characters() {
            String message = refusal(() -> ClusterSettings.singleNode("n".repeat(65), 1));
            assertTrue(message.contains("use 1 to 64 letters"), message);
        }

        @ParameterizedTest
        @ValueSource(strings = {"", " ", "  \t"})
        void shouldRefuseBlankName(String name) {
            assertTrue(refusal(() -> ClusterSettings.singleNode(name, 1)).contains("cluster name is missing"));
        }

        @Test
        void shouldRefuseMissingName() {
            assertTrue(refusal(() -> ClusterSettings.singleNode(null, 1)).contains("cluster name is missing"));
        }

        @ParameterizedTest
        @ValueSource(strings = {"ram swap", "ram/swap", "élan", "a:b"})
        void shouldRefuseOtherCharacters(String name) {
            String message = refusal(() -> ClusterSettings.singleNode(name, 1));
            assertTrue(message.contains("\"" + name + "\" is not valid"), message);
            assertTrue(message.contains("1 to 64 letters, digits, dots, underscores or hyphens"), message);
        }
    }

    @Nested
    class NodeNumber {

        @ParameterizedTest
        @ValueSource(ints = {0, 1, 65535})
        void shouldAcceptZeroTo65535(int number) {
            assertEquals(number, ClusterSettings.singleNode("ramswap", number).nodeNumber());
        }

        @ParameterizedTest
        @ValueSource(ints = {-1, 65536, Integer.MIN_VALUE})
        void shouldRefuseNumberOutOfRange(int number) {
            assertEquals(
                    "node number " + number + " is out of range: use a number from 0 to 65535",
                    refusal(() -> ClusterSettings.singleNode("ramswap", number)));
        }
    }

    @Nested
    class BindAddress {

        @ParameterizedTest
        @ValueSource(strings = {"127.0.0.1", "192.168.1.10", "10.0.0.255", "223.255.255.254"})
        void shouldAcceptLiteralIpv4(String address) {
            assertEquals(
                    address,
                    settings("ramswap", 1, address, 5701, List.of("127.0.0.1")).bindAddress());
        }

        @ParameterizedTest
        @ValueSource(
                strings = {
                    "localhost",
                    "node1.example",
                    "::1",
                    "192.168.1",
                    "192.168.1.256",
                    "192.168.01.10",
                    "192.168.1.10:5701",
                    " 127.0.0.1"
                })
        void shouldRefuseAnythingButLiteralIpv4(String address) {
            String message = refusal(() -> settings("ramswap", 1, address, 5701, List.of("127.0.0.1")));
            assertTrue(message.contains("is not a literal IPv4 address"), message);
        }

        @ParameterizedTest
        @ValueSource(strings = {"0.0.0.0", "224.0.0.1", "255.255.255.255"})
        void shouldRefuseWildcardAndMulticastAddresses(String address) {
            String message = refusal(() -> settings("ramswap", 1, address, 5701, List.of("127.0.0.1")));
            assertTrue(message.contains("is not the address of one interface"), message);
        }

        @Test
        void shouldRefuseMissingAddress() {
            String message = refusal(() -> settings("ramswap", 1, null, 5701, List.of("127.0.0.1")));
            assertTrue(message.startsWith("bind address is missing"), message);
        }
    }

    @Nested
    class Port {

        @ParameterizedTest
        @ValueSource(ints = {1024, 5701, 65535})
        void shouldAccept1024To65535(int port) {
            assertEquals(
                    port,
                    settings("ramswap", 1, "127.0.0.1", port, List.of("127.0.0.1"))
                            .port());
        }

        @ParameterizedTest
        @ValueSource(ints = {0, 80, 1023, 65536, -5701})
        void shouldRefusePrivilegedOrImpossiblePorts(int port) {
            assertEquals(
                    "port " + port + " is out of range: use a port from 1024 to 65535",
                    refusal(() -> settings("ramswap", 1, "127.0.0.1", port, List.of("127.0.0.1"))));
        }
    }

    @Nested
    class Members {

        @Test
        void shouldAcceptHostsWithAndWithoutPortAndTrimThem() {
            ClusterSettings s = settings(
                    "ramswap",
                    1,
                    "127.0.0.1",
                    5701,
                    List.of("127.0.0.1", " 192.168.1.10:5702 ", "node2", "node3.lab.example:6000"));

            assertEquals(List.of("127.0.0.1", "192.168.1.10:5702", "node2", "node3.lab.example:6000"), s.members());
        }

        @Test
        void shouldKeepAnImmutableCopy() {
            List<String> given = new ArrayList<>(List.of("127.0.0.1"));
            ClusterSettings s = settings("ramswap", 1, "127.0.0.1", 5701, given);
            given.add("10.0.0.1");

            assertEquals(List.of("127.0.0.1"), s.members());
            assertThrows(UnsupportedOperationException.class, () -> s.members().add("10.0.0.2"));
        }

        @Test
        void shouldRefuseEmptyOrMissingList() {
            assertTrue(refusal(() -> settings("ramswap", 1, "127.0.0.1", 5701, List.of()))
                    .startsWith("member list is empty"));
            assertTrue(refusal(() -> settings("ramswap", 1, "127.0.0.1", 5701, null))
                    .startsWith("member list is empty"));
        }

        @Test
        void shouldRefuseBlankOrMissingEntry() {
            assertTrue(refusal(() -> settings("ramswap", 1, "127.0.0.1", 5701, List.of("127.0.0.1", " ")))
                    .startsWith("member list has an empty entry"));
            assertTrue(refusal(() -> settings("ramswap", 1, "127.0.0.1", 5701, Arrays.asList("127.0.0.1", null)))
                    .startsWith("member list has an empty entry"));
        }

        @ParameterizedTest
        @ValueSource(
                strings = {
                    "192.168.1.300",
                    "node_2",
                    "-node",
                    "node..lab",
                    "host:port:1",
                    "10.0.0.1:",
                    ":5701",
                    "10.0.0.1:abc",
                    "[::1]:5701"
                })
        void shouldRefuseMalformedEntries(String entry) {
            String message = refusal(() -> settings("ramswap", 1, "127.0.0.1", 5701, List.of(entry)));
            assertTrue(message.startsWith("member \"" + entry + "\""), message);
        }

        @ParameterizedTest
        @ValueSource(strings = {"10.0.0.1:80", "10.0.0.1:70000", "node2:0"})
        void shouldRefusePortOutOfRange(String entry) {
            String message = refusal(() -> settings("ramswap", 1, "127.0.0.1", 5701, List.of(entry)));
            assertTrue(message.contains("out of range: use a port from 1024 to 65535"), message);
        }
    }
}
