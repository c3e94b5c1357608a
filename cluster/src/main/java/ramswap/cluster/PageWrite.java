package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.map.IMap;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * One call to a lender with the copies of a batch it is to hold: run on the member that owns the
 * keys' partitions ({@link #EXECUTOR_NAME}), it stores them there with one {@code setAll}, through
 * the lender's quota ({@link QuotaInterceptor}): a refusal fails the call with a
 * {@link LendRefusedException}, as it failed the put. From a client, {@code setAllAsync} is one
 * invocation per partition the batch touches (up to 64); this is one (docs/decisions.md, "One call
 * per lender for a read's pages and a batch's copies").
 */
public final class PageWrite implements Callable<Boolean>, DataSerializable, HazelcastInstanceAware {

    /** The members' executor that runs these calls, apart from the reads' so that a read never queues behind a batch. */
    public static final String EXECUTOR_NAME = "ramswap-page-writes";
    /** Its threads: a borrower keeps at most four batches in flight, each one call per lender. */
    static final int THREADS = 2;

    static final int QUEUE = 1024;

    private long[] keys;
    private byte[][] pages;
    private transient HazelcastInstance member;

    /** For deserialization only. */
    public PageWrite() {}

    PageWrite(Map<Long, byte[]> copies) {
        this.keys = new long[copies.size()];
        this.pages = new byte[copies.size()][];
        int i = 0;
        for (Map.Entry<Long, byte[]> e : copies.entrySet()) {
            keys[i] = e.getKey();
            pages[i++] = e.getValue();
        }
    }

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcast) {
        this.member = hazelcast;
    }

    @Override
    public Boolean call() {
        Map<Long, byte[]> copies = new HashMap<>(keys.length * 2);
        for (int i = 0; i < keys.length; i++) {
            copies.put(keys[i], pages[i]);
        }
        IMap<Long, byte[]> map = member.getMap(HazelcastRemoteTier.MAP_NAME);
        map.setAll(copies);
        return Boolean.TRUE;
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
        out.writeLongArray(keys);
        for (byte[] p : pages) {
            out.writeByteArray(p);
        }
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
        keys = in.readLongArray();
        pages = new byte[keys.length][];
        for (int i = 0; i < pages.length; i++) {
            pages[i] = in.readByteArray();
        }
    }
}
