package ramswap.cluster;

import com.hazelcast.core.ReadOnly;
import com.hazelcast.map.EntryProcessor;
import java.util.Map;

/**
 * Reads a sealed page on the member that owns it, without changing it: the fetch of a request's
 * pages as one asynchronous operation per owner ({@code submitToKeys}). Unlike a {@code getAll},
 * waiting for it holds no thread of the tier's, so a lender that stopped answering delays only
 * the requests for its own pages.
 */
final class PageReader implements EntryProcessor<Long, byte[], byte[]>, ReadOnly {

    private static final long serialVersionUID = 1L;

    static final PageReader INSTANCE = new PageReader();

    @Override
    public byte[] process(Map.Entry<Long, byte[]> entry) {
        return entry.getValue();
    }

    @Override
    public EntryProcessor<Long, byte[], byte[]> getBackupProcessor() {
        return null; // reads change nothing: no backup to run
    }
}
