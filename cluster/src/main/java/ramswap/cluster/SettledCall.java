package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import java.io.Serializable;
import java.util.concurrent.Callable;

/**
 * Asks a member whether the partitions have settled as it sees them ({@code isLocalMemberSafe}: no
 * migration in flight there or on the master, its backups in sync), for a client, which cannot ask
 * itself. Runs on {@link NodeControls#EXECUTOR_NAME}.
 */
final class SettledCall implements Callable<Boolean>, Serializable, HazelcastInstanceAware {

    private static final long serialVersionUID = 1L;

    private transient HazelcastInstance member;

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
        this.member = hazelcastInstance;
    }

    @Override
    public Boolean call() {
        return member.getPartitionService().isLocalMemberSafe();
    }
}
