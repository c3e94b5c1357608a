package ramswap.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HashMap;
import java.util.Map;
import org.junit.jupiter.api.Test;
import ramswap.cluster.NodeInfo;

/** The copies column of {@code ramswap nodes}: full only once partitions settled and nothing is short or lost. */
class NodesCommandTest {

    private static NodeInfo node(long oneCopy, long toRepair, long lost, Long settled) {
        Map<String, Long> stats = new HashMap<>(Map.of(
                "remote_pers_pages",
                100L,
                "remote_pages_one_copy",
                oneCopy,
                "remote_pages_to_replace",
                toRepair,
                "remote_pages_lost",
                lost));
        if (settled != null) {
            stats.put("remote_partitions_settled", settled);
        }
        return new NodeInfo(7, "127.0.0.1:5701", "borrower", -1, stats);
    }

    @Test
    void shouldSayFullOnlyOncePartitionsSettledAndNothingIsShort() {
        assertEquals("full", NodesCommand.redundancy(node(0, 0, 0, 1L)));
        assertEquals("full", NodesCommand.redundancy(node(0, 0, 0, null)), "a node that does not publish the gauge");
        assertEquals("DEGRADED: partitions settling", NodesCommand.redundancy(node(0, 0, 0, 0L)));
        assertEquals(
                "DEGRADED: 2 with one copy, 3 to repair, partitions settling",
                NodesCommand.redundancy(node(2, 3, 0, 0L)));
    }

    @Test
    void shouldPutLostPagesFirst() {
        assertEquals("LOST 1", NodesCommand.redundancy(node(0, 0, 1, 1L)));
        assertEquals("LOST 1, DEGRADED: 4 to repair", NodesCommand.redundancy(node(0, 4, 1, 1L)));
    }
}
