package ramswap.cluster;

import com.hazelcast.config.ExecutorConfig;
import com.hazelcast.core.HazelcastInstance;
import com.hazelcast.core.HazelcastInstanceAware;
import com.hazelcast.nio.ObjectDataInput;
import com.hazelcast.nio.ObjectDataOutput;
import com.hazelcast.nio.serialization.DataSerializable;
import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.Callable;

/**
 * One call to one lender for a batch of pages: store them, read them or free them, in the
 * lender's {@link LentPages}, on the lender's own thread of {@link #EXECUTOR_NAME}
 * ({@code IExecutorService#submitToMember}, from a member or a client alike). A call reads and
 * writes the lender's memory and nothing else: no second hop, no wait on another member.
 *
 * <p>A lender that lends offers its store to these calls with {@link #offer}; a member without
 * one answers every call refused.
 *
 * <p>Store: the pages are stored in order until the first the quota refuses; the answer's count
 * says how many, and those after it were not stored. Read: the answer holds each key's page, or
 * null for a key the lender does not hold. Free: the count of pages freed.
 */
public final class PageCall implements Callable<PageCall.Answer>, DataSerializable, HazelcastInstanceAware {

    /** The executor page calls run on: two threads per member, made when first used. */
    public static final String EXECUTOR_NAME = "ramswap-pages";

    static final String USER_CONTEXT_KEY = "ramswap.lent-pages";
    private static final int EXECUTOR_THREADS = 2;
    private static final int EXECUTOR_QUEUE = 1024;

    enum Op {
        STORE,
        READ,
        FREE,
        /** keys[0] a node, keys[1] the low 8 bits of the incarnation to keep, or -1 for none. */
        DROP_NODE,
        /** keys[0] a node: the keys of its pages held. */
        LIST_NODE
    }

    private Op op;
    private long[] keys;
    /** STORE only: the sealed pages, one per key. */
    private byte[][] pages;

    private transient HazelcastInstance member;

    /** For Hazelcast's deserialization. */
    public PageCall() {}

    private PageCall(Op op, long[] keys, byte[][] pages) {
        this.op = op;
        this.keys = Objects.requireNonNull(keys, "keys");
        this.pages = pages;
    }

    public static PageCall store(long[] keys, byte[][] pages) {
        if (pages.length != keys.length) {
            throw new IllegalArgumentException(keys.length + " keys for " + pages.length + " pages");
        }
        return new PageCall(Op.STORE, keys, pages);
    }

    public static PageCall read(long[] keys) {
        return new PageCall(Op.READ, keys, null);
    }

    public static PageCall free(long[] keys) {
        return new PageCall(Op.FREE, keys, null);
    }

    /**
     * Frees every page of {@code node} on the lender, but those of the incarnation whose low 8 bits
     * are {@code keepIncarnation} (-1: keep none): a node that starts again drops its earlier lives'.
     */
    public static PageCall dropNode(int node, int keepIncarnation) {
        return new PageCall(Op.DROP_NODE, new long[] {node, keepIncarnation}, null);
    }

    /** Lists the keys of {@code node}'s pages on the lender ({@link Answer#keys()}). */
    public static PageCall listNode(int node) {
        return new PageCall(Op.LIST_NODE, new long[] {node}, null);
    }

    /** The executor configuration every member gets. */
    static ExecutorConfig executorConfig() {
        return new ExecutorConfig(EXECUTOR_NAME)
                .setPoolSize(EXECUTOR_THREADS)
                .setQueueCapacity(EXECUTOR_QUEUE)
                .setStatisticsEnabled(false);
    }

    /** Serves page calls on {@code hazelcast}'s member from {@code store}; false if it already served another. */
    public static boolean offer(HazelcastInstance hazelcast, LentPages store) {
        return hazelcast.getUserContext().putIfAbsent(USER_CONTEXT_KEY, store) == null;
    }

    /** Stops serving page calls from {@code store}; calls after this are answered refused. */
    public static void withdraw(HazelcastInstance hazelcast, LentPages store) {
        hazelcast.getUserContext().remove(USER_CONTEXT_KEY, store);
    }

    @Override
    public void setHazelcastInstance(HazelcastInstance hazelcastInstance) {
        this.member = hazelcastInstance;
    }

    @Override
    public Answer call() {
        Object o = member.getUserContext().get(USER_CONTEXT_KEY);
        return o instanceof LentPages store ? answer(store) : Answer.REFUSED;
    }

    /** This call answered from {@code store}. */
    Answer answer(LentPages store) {
        switch (op) {
            case STORE -> {
                int stored = 0;
                while (stored < keys.length && store.put(keys[stored], pages[stored], 0, pages[stored].length)) {
                    stored++;
                }
                if (stored < keys.length) {
                    store.refused(keys.length - stored);
                }
                return new Answer(stored, null);
            }
            case READ -> {
                byte[][] found = new byte[keys.length][];
                for (int i = 0; i < keys.length; i++) {
                    found[i] = store.get(keys[i]); // of the page's length: no buffer per call
                }
                return new Answer(keys.length, found);
            }
            case FREE -> {
                int freed = 0;
                for (long key : keys) {
                    if (store.remove(key)) {
                        freed++;
                    }
                }
                return new Answer(freed, null);
            }
            case LIST_NODE -> {
                int node = (int) keys[0];
                org.agrona.collections.LongArrayList held = new org.agrona.collections.LongArrayList();
                store.forEachKey(k -> {
                    if (RemoteKey.node(k) == node) {
                        held.addLong(k);
                    }
                });
                Answer a = new Answer(held.size(), null);
                a.keys = held.toLongArray();
                return a;
            }
            case DROP_NODE -> {
                int node = (int) keys[0];
                int keep = (int) keys[1];
                int dropped = store.removeIf(k -> RemoteKey.node(k) == node && RemoteKey.incarnation(k) != keep);
                store.dropped(dropped);
                return new Answer(dropped, null);
            }
        }
        throw new IllegalStateException("no page call " + op);
    }

    @Override
    public void writeData(ObjectDataOutput out) throws IOException {
        out.writeByte(op.ordinal());
        out.writeLongArray(keys);
        if (op == Op.STORE) {
            for (byte[] page : pages) {
                out.writeByteArray(page);
            }
        }
    }

    @Override
    public void readData(ObjectDataInput in) throws IOException {
        op = Op.values()[in.readByte()];
        keys = in.readLongArray();
        if (op == Op.STORE) {
            pages = new byte[keys.length][];
            for (int i = 0; i < keys.length; i++) {
                pages[i] = in.readByteArray();
            }
        }
    }

    /**
     * A lender's answer: {@code count} pages stored, read or freed, and for a read each page or
     * null; {@link #refused()} when the member has no store.
     */
    public static final class Answer implements DataSerializable {

        static final Answer REFUSED = new Answer(-1, null);

        private int count;
        private byte[][] pages;
        /** For a list: the keys held. */
        private long[] keys;

        /** For Hazelcast's deserialization. */
        public Answer() {}

        Answer(int count, byte[][] pages) {
            this.count = count;
            this.pages = pages;
        }

        /** The member lends nothing: it has no store for pages. */
        public boolean refused() {
            return count < 0;
        }

        public int count() {
            return count;
        }

        /** For a list: the keys of the node's pages held, in no order. */
        public long[] keys() {
            return keys;
        }

        /** For a read: the page of each key, in the call's order, null where the lender holds none. */
        public byte[] page(int i) {
            return pages[i];
        }

        @Override
        public void writeData(ObjectDataOutput out) throws IOException {
            out.writeInt(count);
            out.writeBoolean(pages != null);
            if (pages != null) {
                out.writeInt(pages.length);
                for (byte[] page : pages) {
                    out.writeByteArray(page);
                }
            }
            out.writeLongArray(keys);
        }

        @Override
        public void readData(ObjectDataInput in) throws IOException {
            count = in.readInt();
            if (in.readBoolean()) {
                pages = new byte[in.readInt()][];
                for (int i = 0; i < pages.length; i++) {
                    pages[i] = in.readByteArray();
                }
            }
            keys = in.readLongArray();
        }
    }
}
