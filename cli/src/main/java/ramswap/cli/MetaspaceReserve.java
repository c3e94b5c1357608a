package ramswap.cli;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryUsage;

/**
 * Commits metaspace ahead of need, before swap is on, so that no thread, the serving one least of
 * all, commits it while swap is live.
 *
 * <p>The JVM keeps class metadata, and each method's invocation counters and profile, in
 * metaspace, which it commits in 64 KiB steps as it fills. A method run for the first time while
 * swap is live allocates there, on whichever thread runs it; when the chunk at hand is used up,
 * that thread maps the next step ({@code mmap}, with the process's {@code mmap_lock} held for
 * writing) and, under the on-fault lock, faults its pages in: in a memory cgroup the daemon
 * shares with its swappers, that fault reclaims, writes swap to this daemon and waits for it. The
 * shared-cgroup test caught the serving thread doing exactly that (HostPressureIT, 2 suites in 9).
 *
 * <p>So the daemon loads throwaway classes in a loader of its own until both parts of metaspace
 * (class space and the rest) have their reserve committed and free, then drops the loader and collects: the
 * classes are unloaded and their chunks go back to the JVM's free lists, committed and resident
 * (under {@code mlockall(MCL_FUTURE)}, mapped memory is populated at once). With
 * {@code -XX:MetaspaceReclaimPolicy=none} the JVM never uncommits free chunks, so later
 * allocations are carved from them without a system call or a fault.
 */
final class MetaspaceReserve {

    /**
     * Non-class metaspace (methods, counters, profiles) left committed and free: the shared-cgroup
     * test committed about 3 MiB more after going live. The JVM commits new chunks whole, 4 MiB at
     * a time, so what is left free is this or up to 4 MiB more.
     */
    static final long NON_CLASS_FREE_BYTES = 6L << 20;
    /** Class space (the classes' own structures) left committed and free. */
    static final long CLASS_FREE_BYTES = 1L << 20;
    /** Bounds the loading: each class takes 0.5-10 KiB, so this is far above what the reserve needs. */
    private static final int MAX_CLASSES = 20_000;
    /** Static native methods in a class meant for non-class space: no code to verify, no vtable entry. */
    private static final int METHODS = 64;

    private MetaspaceReserve() {}

    /** What {@link #commit} did: the free committed bytes of each part before the loading and after the collection. */
    record Result(
            int classes, long nonClassFreeBefore, long nonClassFreeAfter, long classFreeBefore, long classFreeAfter) {

        String describe() {
            return "metaspace reserve: " + Sizes.human(nonClassFreeAfter) + " free and committed (was "
                    + Sizes.human(nonClassFreeBefore) + "), class space " + Sizes.human(classFreeAfter) + " (was "
                    + Sizes.human(classFreeBefore) + "), after " + classes + " throwaway classes";
        }

        /**
         * True when the collection gave the chunks back committed, as {@code MetaspaceReclaimPolicy=none}
         * promises; the JVM's default policy leaves some 100-200 KiB, the reserve a little under or over its size.
         */
        boolean held() {
            return nonClassFreeAfter >= NON_CLASS_FREE_BYTES / 2 && classFreeAfter >= CLASS_FREE_BYTES / 2;
        }
    }

    /** Commits the reserve, then frees it; empty when this JVM has no metaspace pools to read. */
    static java.util.Optional<Result> commit() {
        MemoryPoolMXBean all = pool("Metaspace");
        MemoryPoolMXBean classes = pool("Compressed Class Space");
        if (all == null || classes == null) {
            return java.util.Optional.empty();
        }
        long nonClassFreeBefore = nonClassFree(all, classes);
        long classFreeBefore = free(classes);
        // the throwaway classes first take what is free, so the parts need to grow by what is missing
        long nonClassTarget = all.getUsage().getCommitted()
                - classes.getUsage().getCommitted()
                + Math.max(0, NON_CLASS_FREE_BYTES - nonClassFreeBefore);
        long classTarget = classes.getUsage().getCommitted() + Math.max(0, CLASS_FREE_BYTES - classFreeBefore);
        int defined = load(all, classes, nonClassTarget, classTarget);
        System.gc(); // a full collection with the serial collector: the throwaway classes are unloaded
        return java.util.Optional.of(
                new Result(defined, nonClassFreeBefore, nonClassFree(all, classes), classFreeBefore, free(classes)));
    }

    /** Defines classes until both parts committed their target; the loader and its classes are garbage on return. */
    private static int load(MemoryPoolMXBean all, MemoryPoolMXBean classes, long nonClassTarget, long classTarget) {
        Loader loader = new Loader();
        int n = 0;
        while (n < MAX_CLASSES) {
            long classCommitted = classes.getUsage().getCommitted();
            boolean wantClass = classCommitted < classTarget;
            boolean wantNonClass = all.getUsage().getCommitted() - classCommitted < nonClassTarget;
            if (!wantClass && !wantNonClass) {
                break;
            }
            loader.define("ramswap/reserve/C" + n, wantNonClass ? METHODS : 0); // the loader holds its classes
            n++;
        }
        return n;
    }

    /** Used and committed metaspace, both parts; all 0 when this JVM has none to read. */
    static MemoryUsage usage() {
        MemoryPoolMXBean all = pool("Metaspace");
        return all == null ? new MemoryUsage(0, 0, 0, -1) : all.getUsage();
    }

    private static long nonClassFree(MemoryPoolMXBean all, MemoryPoolMXBean classes) {
        return free(all) - free(classes);
    }

    private static long free(MemoryPoolMXBean pool) {
        return pool.getUsage().getCommitted() - pool.getUsage().getUsed();
    }

    private static MemoryPoolMXBean pool(String name) {
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getName().equals(name)) {
                return pool;
            }
        }
        return null;
    }

    /** A loader of its own, whose classes the collector can unload once it is unreachable. */
    private static final class Loader extends ClassLoader {

        Loader() {
            super(null); // the boot loader resolves java/lang/Object
        }

        Class<?> define(String internalName, int methods) {
            byte[] bytes = classFile(internalName, methods);
            return defineClass(internalName.replace('/', '.'), bytes, 0, bytes.length);
        }
    }

    /** {@code public final class NAME { static native void m0(); ... }}, class file version 52. */
    static byte[] classFile(String internalName, int methods) {
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream(256 + methods * 8);
            DataOutputStream out = new DataOutputStream(bytes);
            out.writeInt(0xCAFEBABE);
            out.writeShort(0); // minor
            out.writeShort(52); // major: Java 8, no stack maps needed without code
            // constant pool: 1 name, 2 class(name), 3 Object, 4 class(Object), 5 "()V", 6.. method names
            out.writeShort(6 + methods);
            utf8(out, internalName);
            out.writeByte(7);
            out.writeShort(1);
            utf8(out, "java/lang/Object");
            out.writeByte(7);
            out.writeShort(3);
            utf8(out, "()V");
            for (int m = 0; m < methods; m++) {
                utf8(out, "m" + m);
            }
            out.writeShort(0x0001 | 0x0010 | 0x0020); // public final super
            out.writeShort(2);
            out.writeShort(4);
            out.writeShort(0); // interfaces
            out.writeShort(0); // fields
            out.writeShort(methods);
            for (int m = 0; m < methods; m++) {
                out.writeShort(0x0008 | 0x0100); // static native
                out.writeShort(6 + m);
                out.writeShort(5);
                out.writeShort(0); // attributes
            }
            out.writeShort(0); // class attributes
            out.flush();
            return bytes.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void utf8(DataOutputStream out, String s) throws IOException {
        out.writeByte(1);
        out.writeUTF(s);
    }
}
