package ramswap.sys;

import java.lang.reflect.Field;
import sun.misc.Unsafe;

/**
 * Copies between Java arrays and native memory (the pool's slabs) without allocating.
 * Unsafe is the only zero-copy, zero-allocation way to do this on Java 17
 * (the foreign memory API is still a preview there).
 */
public final class OffHeap {

    private static final Unsafe UNSAFE = loadUnsafe();
    private static final long BYTE_ARRAY_BASE = UNSAFE.arrayBaseOffset(byte[].class);

    private OffHeap() {}

    public static void copyToNative(byte[] src, int srcOffset, long address, int length) {
        checkRange(src, srcOffset, length);
        UNSAFE.copyMemory(src, BYTE_ARRAY_BASE + srcOffset, null, address, length);
    }

    public static void copyFromNative(long address, byte[] dst, int dstOffset, int length) {
        checkRange(dst, dstOffset, length);
        UNSAFE.copyMemory(null, address, dst, BYTE_ARRAY_BASE + dstOffset, length);
    }

    /** Copies {@code bytes} bytes between native addresses (ranges that do not overlap). */
    public static void copyNative(long from, long to, long bytes) {
        UNSAFE.copyMemory(from, to, bytes);
    }

    public static void putShort(long address, short value) {
        UNSAFE.putShort(address, value);
    }

    public static short getShort(long address) {
        return UNSAFE.getShort(address);
    }

    public static void putInt(long address, int value) {
        UNSAFE.putInt(address, value);
    }

    public static void putByte(long address, byte value) {
        UNSAFE.putByte(address, value);
    }

    public static void putLong(long address, long value) {
        UNSAFE.putLong(address, value);
    }

    public static long getLong(long address) {
        return UNSAFE.getLong(address);
    }

    /** Sets {@code bytes} bytes at {@code address} to {@code value}, touching every page. */
    public static void setMemory(long address, long bytes, byte value) {
        UNSAFE.setMemory(address, bytes, value);
    }

    public static byte getByte(long address) {
        return UNSAFE.getByte(address);
    }

    /** Native memory of {@code bytes}, for buffers made once; give it back with {@link #free}. */
    public static long allocate(long bytes) {
        return UNSAFE.allocateMemory(bytes);
    }

    public static void free(long address) {
        UNSAFE.freeMemory(address);
    }

    public static int getInt(long address) {
        return UNSAFE.getInt(address);
    }

    private static void checkRange(byte[] array, int offset, int length) {
        if (offset < 0 || length < 0 || offset > array.length - length) {
            throw new IndexOutOfBoundsException("offset " + offset + " length " + length + " array " + array.length);
        }
    }

    private static Unsafe loadUnsafe() {
        try {
            Field f = Unsafe.class.getDeclaredField("theUnsafe");
            f.setAccessible(true);
            return (Unsafe) f.get(null);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }
}
