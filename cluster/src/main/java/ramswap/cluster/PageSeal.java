package ramswap.cluster;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.SecureRandom;
import java.util.concurrent.atomic.AtomicLong;
import javax.crypto.AEADBadTagException;
import javax.crypto.Cipher;
import javax.crypto.SecretKey;
import javax.crypto.spec.GCMParameterSpec;
import javax.crypto.spec.SecretKeySpec;
import ramswap.store.RemoteTier;

/**
 * Seals every page that leaves this node: AES-256-GCM under a key made at random when the daemon
 * starts and held only in its (locked) memory, as dm-crypt swap with a random key per boot. Swap
 * does not outlive its daemon, so the key need not either; lenders store ciphertext and never
 * hold a key.
 *
 * <p>The associated data binds the cluster, this node, its incarnation, the block and the
 * block's generation: a page that was altered, put under another block, left from an older write
 * or brought back from the dead after a split fails to open.
 *
 * <pre>
 * sealed page: nonce (12 bytes: 4 random per daemon, 8 a counter) | ciphertext | tag (16 bytes)
 * </pre>
 *
 * A nonce is never used twice under one key: the counter only grows, and the key dies with the
 * daemon. Thread-safe: each thread has a cipher of its own.
 */
public final class PageSeal {

    public static final int NONCE_BYTES = 12;
    public static final int TAG_BYTES = 16;
    /** What sealing adds to a page. */
    public static final int OVERHEAD = NONCE_BYTES + TAG_BYTES;

    private static final int KEY_BYTES = 32;
    private static final String TRANSFORMATION = "AES/GCM/NoPadding";

    private final SecretKey key;
    private final int noncePrefix;
    private final AtomicLong nonceCounter = new AtomicLong();
    private final byte[] clusterName;
    private final int node;
    private final long incarnation;
    private final ThreadLocal<Cipher> ciphers = ThreadLocal.withInitial(PageSeal::newCipher);

    /** A seal with a fresh random key for this daemon's pages. */
    public PageSeal(String clusterName, int node, long incarnation, SecureRandom random) {
        byte[] k = new byte[KEY_BYTES];
        random.nextBytes(k);
        this.key = new SecretKeySpec(k, "AES");
        java.util.Arrays.fill(k, (byte) 0);
        this.noncePrefix = random.nextInt();
        this.clusterName = clusterName.getBytes(StandardCharsets.UTF_8);
        this.node = node;
        this.incarnation = incarnation;
    }

    private static Cipher newCipher() {
        try {
            return Cipher.getInstance(TRANSFORMATION);
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("this JVM has no " + TRANSFORMATION, e);
        }
    }

    /** Seals {@code length} bytes of a block's stored form (compressed or raw); the result is {@link #OVERHEAD} longer. */
    public byte[] seal(byte[] data, int offset, int length, int block, int generation) {
        byte[] sealed = new byte[NONCE_BYTES + length + TAG_BYTES];
        ByteBuffer.wrap(sealed, 0, NONCE_BYTES).putInt(noncePrefix).putLong(nonceCounter.getAndIncrement());
        Cipher c = ciphers.get();
        try {
            c.init(Cipher.ENCRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, sealed, 0, NONCE_BYTES));
            c.updateAAD(associatedData(block, generation));
            int n = c.doFinal(data, offset, length, sealed, NONCE_BYTES);
            if (n != length + TAG_BYTES) {
                throw new IllegalStateException("AES-GCM sealed " + length + " bytes into " + n);
            }
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot seal block " + block, e);
        }
        return sealed;
    }

    /**
     * A copy as a remote tier reads it: opened into {@code page}, its length; {@link
     * RemoteTier#MISSING} when there is none ({@code sealed} null); {@link RemoteTier#UNAUTHENTIC}
     * when it is longer than any page of ours or does not authenticate.
     */
    public int openCopy(byte[] sealed, int block, int generation, byte[] page) {
        if (sealed == null) {
            return RemoteTier.MISSING;
        }
        if (sealed.length - OVERHEAD > page.length) {
            return RemoteTier.UNAUTHENTIC; // no page of ours is that long
        }
        int length = open(sealed, sealed.length, block, generation, page, 0);
        return length < 0 ? RemoteTier.UNAUTHENTIC : length;
    }

    /**
     * Opens a sealed page into {@code out} at {@code outOffset}: the length of what was sealed, or
     * -1 when it does not authenticate (altered, another block's, another generation's, another
     * node's or another incarnation's) or is too short to be a sealed page.
     */
    public int open(byte[] sealed, int sealedLength, int block, int generation, byte[] out, int outOffset) {
        if (sealedLength < OVERHEAD) {
            return -1;
        }
        Cipher c = ciphers.get();
        try {
            c.init(Cipher.DECRYPT_MODE, key, new GCMParameterSpec(TAG_BYTES * 8, sealed, 0, NONCE_BYTES));
            c.updateAAD(associatedData(block, generation));
            return c.doFinal(sealed, NONCE_BYTES, sealedLength - NONCE_BYTES, out, outOffset);
        } catch (AEADBadTagException e) {
            return -1;
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("cannot open a sealed page of block " + block, e);
        }
    }

    private byte[] associatedData(int block, int generation) {
        return ByteBuffer.allocate(clusterName.length + 4 + 8 + 4 + 4)
                .put(clusterName)
                .putInt(node)
                .putLong(incarnation)
                .putInt(block)
                .putInt(generation)
                .array();
    }
}
