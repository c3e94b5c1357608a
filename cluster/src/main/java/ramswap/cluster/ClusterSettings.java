package ramswap.cluster;

import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * How this node joins its cluster. Validated once, here, so that a bad value
 * is refused with a sentence before any thread or socket exists.
 *
 * @param clusterName  name shared by all nodes of one cluster, [A-Za-z0-9._-]{1,64}
 * @param nodeNumber   this node's number, 0..65535, unique in the cluster (RAMster's nodenum)
 * @param bindAddress  literal IPv4 address of one interface of this machine; the member listens only there
 * @param port         first port to try, 1024..65535; the next free one is taken if it is busy
 * @param members      addresses of other nodes to join, "host" or "host:port"
 * @param liteMember   true for a node that only borrows memory: it owns no partitions
 */
public record ClusterSettings(
        String clusterName, int nodeNumber, String bindAddress, int port, List<String> members, boolean liteMember) {

    public static final int DEFAULT_PORT = 5701;
    public static final int MAX_NODE_NUMBER = 65535;
    public static final int MIN_PORT = 1024;
    public static final int MAX_PORT = 65535;

    private static final Pattern CLUSTER_NAME = Pattern.compile("[A-Za-z0-9._-]{1,64}");
    // No leading zeros: "010" would read as octal to some tools and as decimal to others.
    private static final String OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
    private static final Pattern IPV4 = Pattern.compile(OCTET + "\\." + OCTET + "\\." + OCTET + "\\." + OCTET);
    private static final Pattern DOTTED_NUMBERS = Pattern.compile("[0-9.]+");
    private static final Pattern HOST_NAME = Pattern.compile(
            "(?=.{1,253}$)[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*");
    private static final Pattern HOST_AND_PORT = Pattern.compile("([^:]+)(?::([0-9]{1,5}))?");

    public ClusterSettings {
        clusterName = validClusterName(clusterName);
        if (nodeNumber < 0 || nodeNumber > MAX_NODE_NUMBER) {
            throw new IllegalArgumentException(
                    "node number " + nodeNumber + " is out of range: use a number from 0 to " + MAX_NODE_NUMBER);
        }
        bindAddress = validBindAddress(bindAddress);
        if (port < MIN_PORT || port > MAX_PORT) {
            throw new IllegalArgumentException(
                    "port " + port + " is out of range: use a port from " + MIN_PORT + " to " + MAX_PORT);
        }
        members = validMembers(members);
    }

    /** One data member alone on the loopback interface, on the default port. */
    public static ClusterSettings singleNode(String clusterName, int nodeNumber) {
        return new ClusterSettings(clusterName, nodeNumber, "127.0.0.1", DEFAULT_PORT, List.of("127.0.0.1"), false);
    }

    private static String validClusterName(String name) {
        if (name == null || name.isBlank()) {
            throw new IllegalArgumentException("cluster name is missing: give a name such as \"ramswap\"");
        }
        if (!CLUSTER_NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("cluster name \"" + name + "\" is not valid: use 1 to 64 letters,"
                    + " digits, dots, underscores or hyphens");
        }
        return name;
    }

    private static String validBindAddress(String address) {
        if (address == null || address.isBlank()) {
            throw new IllegalArgumentException("bind address is missing: give the IPv4 address of one interface"
                    + " of this machine, such as 192.168.1.10");
        }
        Matcher m = IPV4.matcher(address);
        if (!m.matches()) {
            throw new IllegalArgumentException("bind address \"" + address + "\" is not a literal IPv4 address:"
                    + " give one such as 192.168.1.10 (no host name, no port)");
        }
        int first = Integer.parseInt(m.group(1));
        if (address.equals("0.0.0.0") || first >= 224) {
            throw new IllegalArgumentException("bind address " + address + " is not the address of one interface:"
                    + " give the address the other nodes reach this machine at, such as 192.168.1.10");
        }
        return address;
    }

    private static List<String> validMembers(List<String> members) {
        if (members == null || members.isEmpty()) {
            throw new IllegalArgumentException("member list is empty: give at least one \"host\" or \"host:port\","
                    + " for example this node's own address");
        }
        List<String> valid = new ArrayList<>(members.size());
        for (String entry : members) {
            valid.add(validMember(entry));
        }
        return List.copyOf(valid);
    }

    private static String validMember(String entry) {
        if (entry == null || entry.isBlank()) {
            throw new IllegalArgumentException("member list has an empty entry: give \"host\" or \"host:port\"");
        }
        String trimmed = entry.trim();
        Matcher m = HOST_AND_PORT.matcher(trimmed);
        if (!m.matches()) {
            throw new IllegalArgumentException("member \"" + entry + "\" is not valid: give \"host\" or"
                    + " \"host:port\", such as 192.168.1.10 or 192.168.1.10:5701");
        }
        String host = m.group(1);
        boolean validHost = DOTTED_NUMBERS.matcher(host).matches()
                ? IPV4.matcher(host).matches()
                : HOST_NAME.matcher(host).matches();
        if (!validHost) {
            throw new IllegalArgumentException("member \"" + entry + "\" has no valid host: give an IPv4 address"
                    + " or a host name, such as 192.168.1.10 or node2.example");
        }
        if (m.group(2) != null) {
            int memberPort = Integer.parseInt(m.group(2));
            if (memberPort < MIN_PORT || memberPort > MAX_PORT) {
                throw new IllegalArgumentException("member \"" + entry + "\" has port " + memberPort
                        + " out of range: use a port from " + MIN_PORT + " to " + MAX_PORT);
            }
        }
        return trimmed;
    }
}
