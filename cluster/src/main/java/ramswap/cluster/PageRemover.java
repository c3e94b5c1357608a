package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.map.EntryProcessor;
import java.util.Map;

/**
 * Removes sealed pages on the member that owns them, answering per key whether a page was there.
 * Two uses: the sender's flusher deletes pages its store forgot ({@link #forgotten}; the sender
 * counts them from the answers), and orphans are freed ({@link #orphans}; counted on the owner,
 * in its {@link Lender}'s {@code orphan_pages_freed}). A fresh instance per use: Hazelcast sets
 * the owner in it when it runs on the caller's own member.
 *
 * <p>Hazelcast injects the owner's instance into an entry processor before it runs
 * ({@code managedContext.initialize} in the map's entry operations); the owner's lender is found
 * in that instance's user context, not in a static.
 */
final class PageRemover implements EntryProcessor<Long, byte[], Boolean>, HazelcastInstanceAware {

    private static final long serialVersionUID = 1L;

    private final boolean orphans;
    private transient HazelcastInstance owner;

    private PageRemover(boolean orphans) {
        this.orphans = orphans;
    }

    static PageRemover forgotten() {
        return new PageRemover(false);
    }

    static PageRemover orphans() {
        return new PageRemover(true);
    }

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcast) {
        this.owner = hazelcast;
    }

    @Override
    public Boolean process(Map.Entry<Long, byte[]> entry) {
        if (entry.getValue() == null) {
            return Boolean.FALSE;
        }
        entry.setValue(null);
        if (orphans) {
            Lender lender = owner == null ? null : Lender.of(owner);
            if (lender != null) {
                lender.orphanFreed();
            }
        }
        return Boolean.TRUE;
    }
}
