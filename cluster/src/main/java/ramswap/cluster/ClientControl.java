package ramswap.cluster;

import com.hazelcast.map.IMap;
import com.hazelcast.topic.ITopic;
import java.io.Serializable;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

/**
 * {@link ControlCall}s for a client node, which no executor can target: {@link ClusterControl}
 * publishes a {@link Request} on the topic {@value #TOPIC}, the client daemon whose node it names
 * answers it against its own knobs and counters, and puts the answer in the IMap {@value #ANSWERS}
 * (for {@link #ANSWER_TTL_SECONDS} s) under the request's id, where the caller polls for it. A lost
 * message is a call without an answer, as for a member that does not answer.
 */
public final class ClientControl implements AutoCloseable {

    public static final String TOPIC = "ramswap-control";
    public static final String ANSWERS = "ramswap-control-answers";
    static final int ANSWER_TTL_SECONDS = 30;
    private static final System.Logger LOG = System.getLogger(ClientControl.class.getName());

    /** One call for one node. */
    record Request(String id, int node, ControlCall call) implements Serializable {
        private static final long serialVersionUID = 1L;
    }

    private final ClusterClient client;
    private final ITopic<Request> topic;
    private final UUID registration;

    private ClientControl(ClusterClient client, NodeControls controls) {
        this.client = client;
        this.topic = client.hazelcast().getTopic(TOPIC);
        IMap<String, ControlAnswer> answers = client.hazelcast().getMap(ANSWERS);
        int node = client.nodeNumber();
        this.registration = topic.addMessageListener(message -> {
            Request r = message.getMessageObject();
            if (r.node() != node) {
                return;
            }
            ControlAnswer answer;
            try {
                answer = r.call().answer(node, controls);
            } catch (RuntimeException e) {
                answer = ControlAnswer.refused(node, r.call().name(), "failed: " + e.getMessage());
            }
            // not waited for: this runs on the client's one event thread
            answers.setAsync(r.id(), answer, ANSWER_TTL_SECONDS, TimeUnit.SECONDS)
                    .whenComplete((v, failure) -> {
                        if (failure != null) {
                            LOG.log(System.Logger.Level.DEBUG, "answering control call " + r.id() + " failed", failure);
                        }
                    });
        });
    }

    /** Answers the calls for {@code client}'s node with {@code controls} until closed. */
    public static ClientControl listen(ClusterClient client, NodeControls controls) {
        return new ClientControl(
                Objects.requireNonNull(client, "client"), Objects.requireNonNull(controls, "controls"));
    }

    @Override
    public void close() {
        try {
            topic.removeMessageListener(registration);
        } catch (RuntimeException e) { // the client is stopping
            LOG.log(
                    System.Logger.Level.DEBUG,
                    "removing node " + client.nodeNumber() + "'s control listener failed",
                    e);
        }
    }
}
