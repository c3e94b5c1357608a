package ramswap.cluster;

import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.map.IMap;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import java.io.IOException;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * One call to a lender for several pages of a read: run on the member that owns the keys'
 * partitions ({@link #EXECUTOR_NAME}), it reads them there with one {@code getAll} and answers the
 * sealed pages in the keys' order (null: missing). A borrower asks each lender that holds pages
 * of a parked read once, where one {@code getAsync} per page costs about one partition operation
 * each (docs/decisions.md, "One call per lender for a read's pages").
 */
public final class PageRead implements Callable<PageRead.Pages>, DataSerializable, HazelcastInstanceAware {

    /** The members' executor that runs these calls. */
    public static final String EXECUTOR_NAME = "ramswap-pages";
    /**
     * Its threads: each call waits there for its {@code getAll}. A borrower parks at most 16 reads
     * at once, so four threads keep four borrowers' reads going on two cores, and the queue holds
     * the rest.
     */
    static final int THREADS = 4;

    static final int QUEUE = 1024;

    private long[] keys;
    private transient HazelcastInstance member;

    /** For deserialization only. */
    public PageRead() {}

    PageRead(long[] keys) {
        this.keys = keys;
    }

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcast) {
        this.member = hazelcast;
    }

    @Override
    public Pages call() {
        Set<Long> set = new HashSet<>(keys.length * 2);
        for (long k : keys) {
            set.add(k);
        }
        IMap<Long, byte[]> map = member.getMap(HazelcastRemoteTier.MAP_NAME);
        Map<Long, byte[]> got = map.getAll(set);
        byte[][] pages = new byte[keys.length][];
        for (int i = 0; i < keys.length; i++) {
            pages[i] = got.get(keys[i]);
        }
        return new Pages(pages);
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
        out.writeLongArray(keys);
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
        keys = in.readLongArray();
    }

    /** The answer: the sealed pages in the keys' order, null where a key is missing. */
    public static final class Pages implements DataSerializable {
        private byte[][] pages;

        /** For deserialization only. */
        public Pages() {}

        Pages(byte[][] pages) {
            this.pages = pages;
        }

        byte[] page(int i) {
            return pages[i];
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeInt(pages.length);
            for (byte[] p : pages) {
                out.writeByteArray(p);
            }
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            pages = new byte[in.readInt()][];
            for (int i = 0; i < pages.length; i++) {
                pages[i] = in.readByteArray();
            }
        }
    }
}
