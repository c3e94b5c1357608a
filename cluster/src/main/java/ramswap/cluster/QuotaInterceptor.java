package ramswap.cluster;

import com.hazelcast.map.MapInterceptor;

/**
 * Refuses, on the member that owns the key, a page put past that member's lend quota: Hazelcast
 * runs {@code interceptPut} on the owner, before the entry is stored, also for each entry of a
 * {@code putAll}/{@code setAll}. Throwing there fails the sender's put (see
 * {@link LendRefusedException}).
 *
 * <p>Interceptors are registered for the whole map and copied to every member. Each lender
 * registers its own; only the original, on its own member (Hazelcast does not serialize an
 * operation it runs locally), holds the lender. The copies on other members hold none and let
 * every put through, so a member is checked by its own quota alone and no static registry is
 * needed. Injection ({@code HazelcastInstanceAware}) is not relied on: Hazelcast applies it to entry
 * processors and tasks it runs, and nothing says it does to the interceptor copies it keeps.
 */
final class QuotaInterceptor implements MapInterceptor {

    private static final long serialVersionUID = 1L;

    private final long id;
    private final transient Lender lender;

    QuotaInterceptor(Lender lender, long id) {
        this.lender = lender;
        this.id = id;
    }

    @Override
    public Object interceptPut(Object oldValue, Object newValue) {
        Lender l = lender;
        if (l != null && newValue instanceof byte[] page && !l.admit(page.length)) {
            throw l.refusal();
        }
        return null; // unchanged
    }

    @Override
    public void afterPut(Object value) {}

    @Override
    public Object interceptGet(Object value) {
        return null; // unchanged
    }

    @Override
    public void afterGet(Object value) {}

    @Override
    public Object interceptRemove(Object removedValue) {
        return null; // unchanged
    }

    @Override
    public void afterRemove(Object oldValue) {
        Lender l = lender;
        if (l != null && oldValue instanceof byte[] page) {
            l.released(page.length);
        }
    }

    // Hazelcast names an interceptor by class and hash code: one id per lender keeps them apart.
    @Override
    public int hashCode() {
        return Long.hashCode(id);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuotaInterceptor q && q.id == id;
    }
}
