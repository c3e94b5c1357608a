package ramswap.store;

import java.util.Random;

/** Test pages of the kinds swap really holds: zero, one repeated word, text-like, incompressible. */
final class Pages {

    private static final String[] WORDS = {
        "memory",
        "swap",
        "page",
        "cluster",
        "the",
        "of",
        "and",
        "kernel",
        "node",
        "block",
        "compressed",
        "remote",
        "local",
        "a",
        "to",
        "in",
        "is",
        "that",
        "for",
        "ram"
    };

    private Pages() {}

    /** The seed of a property test: -Dramswap.seed=N replays a run; printed so a failure can be replayed. */
    static long seed(String test) {
        String fixed = System.getProperty("ramswap.seed");
        long seed = fixed != null ? Long.parseLong(fixed) : System.nanoTime();
        System.out.println(test + " seed=" + seed);
        return seed;
    }

    static byte[] random(Random r, String kind) {
        byte[] p = new byte[BlockCodec.BLOCK_SIZE];
        switch (kind) {
            case "zero" -> {}
            case "word" -> BlockCodec.fill(p, 0, r.nextLong());
            case "random" -> r.nextBytes(p);
            case "text" -> {
                int i = 0;
                while (i < p.length) {
                    byte[] w = (WORDS[r.nextInt(WORDS.length)] + (r.nextInt(10) == 0 ? "\n" : " "))
                            .getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                    int n = Math.min(w.length, p.length - i);
                    System.arraycopy(w, 0, p, i, n);
                    i += n;
                }
            }
            default -> throw new IllegalArgumentException(kind);
        }
        return p;
    }

    static byte[] anyKind(Random r) {
        return random(r, new String[] {"zero", "word", "random", "text"}[r.nextInt(4)]);
    }
}
