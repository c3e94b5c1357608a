package ramswap.store;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.util.Arrays;
import net.jpountz.lz4.LZ4Compressor;
import net.jpountz.lz4.LZ4Factory;
import net.jpountz.lz4.LZ4SafeDecompressor;

/**
 * Turns a 4 KiB block into what the store keeps: a fill word, LZ4 bytes, or the raw page when LZ4
 * gains too little (zram's "huge" pages, zswap's reject_compress_poor). Stateless and thread-safe;
 * callers bring their own scratch buffers.
 */
public final class BlockCodec {

    public static final int BLOCK_SIZE = 4096;
    /** Compressed pages longer than this are stored raw: 7/8 of a page, as zram's huge-class threshold. */
    public static final int HUGE_THRESHOLD = BLOCK_SIZE / 8 * 7;

    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    private final LZ4Compressor compressor;
    private final LZ4SafeDecompressor decompressor;

    public BlockCodec() {
        LZ4Factory factory = LZ4Factory.fastestInstance();
        this.compressor = factory.fastCompressor();
        this.decompressor = factory.safeDecompressor();
    }

    /** Scratch size a caller must give {@link #compress}. */
    public int maxCompressedLength() {
        return compressor.maxCompressedLength(BLOCK_SIZE);
    }

    /** True when the block at {@code offset} is one 8-byte word repeated; {@link #fillWord} then gives it. */
    public static boolean isSameFilled(byte[] block, int offset) {
        long first = (long) LONGS.get(block, offset);
        for (int i = 8; i < BLOCK_SIZE; i += 8) {
            if ((long) LONGS.get(block, offset + i) != first) {
                return false;
            }
        }
        return true;
    }

    public static long fillWord(byte[] block, int offset) {
        return (long) LONGS.get(block, offset);
    }

    public static void fill(byte[] block, int offset, long word) {
        if (word == 0L) {
            Arrays.fill(block, offset, offset + BLOCK_SIZE, (byte) 0);
            return;
        }
        for (int i = 0; i < BLOCK_SIZE; i += 8) {
            LONGS.set(block, offset + i, word);
        }
    }

    /**
     * Compresses one block into {@code dest} (at least {@link #maxCompressedLength()} bytes).
     * Returns the compressed length, or {@link #BLOCK_SIZE} when the block should be stored raw.
     */
    public int compress(byte[] src, int srcOffset, byte[] dest) {
        int n = compressor.compress(src, srcOffset, BLOCK_SIZE, dest, 0, dest.length);
        return n > HUGE_THRESHOLD ? BLOCK_SIZE : n;
    }

    /**
     * Restores a block stored with {@code length} bytes. A raw block ({@link #BLOCK_SIZE}) is copied.
     * Returns false when the stored bytes do not decode to exactly one block (corruption).
     */
    public boolean decompress(byte[] src, int length, byte[] dest, int destOffset) {
        if (length == BLOCK_SIZE) {
            System.arraycopy(src, 0, dest, destOffset, BLOCK_SIZE);
            return true;
        }
        try {
            return decompressor.decompress(src, 0, length, dest, destOffset, BLOCK_SIZE) == BLOCK_SIZE;
        } catch (net.jpountz.lz4.LZ4Exception e) {
            return false;
        }
    }
}
