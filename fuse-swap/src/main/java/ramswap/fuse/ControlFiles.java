package ramswap.fuse;

import com.kenai.jffi.MemoryIO;
import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;
import java.util.function.Supplier;
import ramswap.store.Counter;
import ramswap.store.Counters;
import ramswap.store.Knob;
import ramswap.store.Knobs;
import ramswap.store.SwapStore;
import ru.serce.jnrfuse.ErrorCodes;
import ru.serce.jnrfuse.struct.FileStat;

/**
 * The mount's control files beside the swap file, as RAMster's sysfs and debugfs files:
 *
 * <pre>
 * /status              a few "name: value" lines about the running daemon (0444)
 * /ramster/&lt;knob&gt;      settings: read gives the value and a newline, write sets it (0644)
 * /stats/&lt;counter&gt;     figures, read-only (0444)
 * </pre>
 *
 * Each file is known by a number; directories by negative marks. An open control file's FUSE
 * handle carries that number and an open count ({@link #handleFor}), so that a read that comes in
 * pieces (offset 0, then on) reads one snapshot of the text, as sysfs's seq_file gives: a figure
 * that grows by a digit between two reads must not show as "0\n66746". A read at offset 0 takes a
 * new snapshot. Answers are 0, a byte count, or a negative errno.
 */
final class ControlFiles {

    static final String STATUS = "status";
    static final String KNOB_DIR = "ramster";
    static final String COUNTER_DIR = "stats";

    static final long NOT_FOUND = -1;
    static final long DIR_ROOT = -2;
    static final long DIR_KNOBS = -3;
    static final long DIR_COUNTERS = -4;
    private static final long FH_STATUS = 2;
    private static final long FH_KNOB = 1000;
    private static final long FH_COUNTER = 2000;
    private static final int FILE_BYTES = 4096;
    /** The longest value a knob takes: a number and a newline, with room. */
    private static final int MAX_KNOB_WRITE = 64;

    private static final MemoryIO MEMORY = MemoryIO.getInstance();
    /** The low bits of an open control file's handle: which file it is (every number is below). */
    private static final int WHAT_BITS = 12;

    private static final long WHAT_MASK = (1L << WHAT_BITS) - 1;

    private final java.util.concurrent.atomic.AtomicLong opens = new java.util.concurrent.atomic.AtomicLong();
    /** The text each open handle read last at offset 0; dropped at release. */
    private final java.util.concurrent.ConcurrentHashMap<Long, byte[]> snapshots =
            new java.util.concurrent.ConcurrentHashMap<>();

    private final SwapStore store;
    private final Knobs knobs;
    private final Supplier<String> status;
    private final System.Logger log = System.getLogger(ControlFiles.class.getName());

    ControlFiles(SwapStore store, Knobs knobs, Supplier<String> status) {
        this.store = store;
        this.knobs = knobs;
        this.status = status;
    }

    /** What a path names: a file's number, a directory mark, or {@link #NOT_FOUND}. */
    static long resolve(String path) {
        switch (path) {
            case "/":
                return DIR_ROOT;
            case "/" + STATUS:
                return FH_STATUS;
            case "/" + KNOB_DIR:
                return DIR_KNOBS;
            case "/" + COUNTER_DIR:
                return DIR_COUNTERS;
            default:
                break;
        }
        if (path.startsWith("/" + KNOB_DIR + "/")) {
            Knob k = Knob.byFileName(path.substring(KNOB_DIR.length() + 2));
            return k == null ? NOT_FOUND : FH_KNOB + k.ordinal();
        }
        if (path.startsWith("/" + COUNTER_DIR + "/")) {
            Counter c = Counter.byFileName(path.substring(COUNTER_DIR.length() + 2));
            return c == null ? NOT_FOUND : FH_COUNTER + c.ordinal();
        }
        return NOT_FOUND;
    }

    /** The path of a directory mark, "" for the root, or null for anything else. */
    static String pathOf(long dir) {
        if (dir == DIR_ROOT) {
            return "";
        }
        if (dir == DIR_KNOBS) {
            return "/" + KNOB_DIR;
        }
        return dir == DIR_COUNTERS ? "/" + COUNTER_DIR : null;
    }

    /** True for the numbers of control files (not directories, not the swap file). */
    static boolean isControl(long fh) {
        return fh == FH_STATUS || isKnob(fh) || isCounter(fh);
    }

    private static boolean isKnob(long fh) {
        return fh >= FH_KNOB && fh < FH_KNOB + Knob.values().length;
    }

    private static boolean isCounter(long fh) {
        return fh >= FH_COUNTER && fh < FH_COUNTER + Counter.values().length;
    }

    /** Files and directories here, for statfs. */
    static long count() {
        return 3L + 1 + Knob.values().length + Counter.values().length;
    }

    /** Mode, links and size of a directory or control file. */
    static void describe(long what, FileStat stat) {
        if (what < 0) {
            stat.st_mode.set(FileStat.S_IFDIR | 0755);
            stat.st_nlink.set(2);
        } else {
            stat.st_mode.set(FileStat.S_IFREG | (isKnob(what) ? 0644 : 0444));
            stat.st_nlink.set(1);
            stat.st_size.set(FILE_BYTES);
        }
    }

    /** The names in a directory, the swap file's excepted (its owner lists it). */
    static void list(long dir, Consumer<String> names) {
        if (dir == DIR_ROOT) {
            names.accept(STATUS);
            names.accept(KNOB_DIR);
            names.accept(COUNTER_DIR);
        } else if (dir == DIR_KNOBS) {
            for (Knob k : Knob.values()) {
                names.accept(k.fileName());
            }
        } else {
            for (Counter c : Counter.values()) {
                names.accept(c.fileName());
            }
        }
    }

    /** May the file be opened so: only knobs are writable. */
    static int open(long what, boolean writing) {
        if (what < 0) {
            return -ErrorCodes.EISDIR();
        }
        return writing && !isKnob(what) ? -ErrorCodes.EACCES() : 0;
    }

    /** Truncation: knobs accept the one of {@code echo x > file}, the rest refuse. */
    static int resize(long what) {
        if (isKnob(what)) {
            return 0;
        }
        return what < 0 ? -ErrorCodes.EISDIR() : -ErrorCodes.EACCES();
    }

    /** The FUSE handle of one open of control file {@code what}: the file and the open's count. */
    long handleFor(long what) {
        return (opens.incrementAndGet() << WHAT_BITS) | what;
    }

    /** Which control file an open handle is, or the handle itself for one {@link #handleFor} did not make. */
    static long what(long fh) {
        return fh > WHAT_MASK ? fh & WHAT_MASK : fh;
    }

    /** An open handle is closed: its snapshot goes. */
    void released(long fh) {
        snapshots.remove(fh);
    }

    int read(long handle, long buf, long size, long offset) {
        if (offset < 0) {
            return -ErrorCodes.EINVAL();
        }
        byte[] bytes = offset == 0 ? null : snapshots.get(handle);
        if (bytes == null) {
            String text = text(what(handle));
            if (text == null) {
                return -ErrorCodes.EBADF();
            }
            bytes = text.getBytes(StandardCharsets.US_ASCII);
            if (handle > WHAT_MASK) {
                snapshots.put(handle, bytes);
            }
        }
        if (offset >= bytes.length) {
            return 0;
        }
        int n = (int) Math.min(size, bytes.length - offset);
        MEMORY.putByteArray(buf, bytes, (int) offset, n);
        return n;
    }

    /** The text of control file {@code fh} now, or null if it is none. */
    private String text(long fh) {
        String text;
        if (fh == FH_STATUS) {
            text = status.get();
        } else if (isKnob(fh)) {
            text = knobs.text(Knob.values()[(int) (fh - FH_KNOB)]) + "\n";
        } else if (isCounter(fh)) {
            Counters counters = store.counters();
            store.refreshGauges(); // the pool's figures live in the pool
            text = counters.get(Counter.values()[(int) (fh - FH_COUNTER)]) + "\n";
        } else {
            return null;
        }
        return text;
    }

    int write(long handle, long buf, long size, long offset) {
        long fh = what(handle);
        if (!isKnob(fh)) {
            return -ErrorCodes.EACCES();
        }
        if (offset != 0 || size <= 0 || size > MAX_KNOB_WRITE) {
            return -ErrorCodes.EINVAL();
        }
        byte[] bytes = new byte[(int) size];
        MEMORY.getByteArray(buf, bytes, 0, bytes.length);
        Knob k = Knob.values()[(int) (fh - FH_KNOB)];
        String refusal = knobs.set(k, new String(bytes, StandardCharsets.US_ASCII));
        if (refusal != null) {
            log.log(System.Logger.Level.WARNING, "refused: " + refusal);
            return -ErrorCodes.EINVAL();
        }
        return (int) size;
    }
}
