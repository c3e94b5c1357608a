/*
 * writecheck: direct-I/O writes to a block device, each read back and compared.
 *
 * Writes N requests of K KiB of random bytes at increasing offsets of a block
 * device (a loop device over ramswap's swap file), request F at offset F x K KiB
 * (F from --first, 0 by default, so that runs can continue where an earlier one
 * stopped), with O_DIRECT so that each
 * write reaches the device as one request and each read comes from the device,
 * not from a cache. Before each write it reads the range (the pre-image); after
 * it, it reads the range again:
 *   write done     the range must hold the bytes written; a difference is a
 *                  write reported done that was not (partly) stored
 *   write failed   the range must still hold the pre-image: a refused request
 *                  changes nothing
 * At the end every range this run reported done is read once more and compared.
 *
 * Output: "key value" lines on stdout:
 *   writes                requests issued by this run
 *   writes_ok             requests the device reported done in full
 *   writes_refused        requests that failed (any errno)
 *   writes_refused_enospc of those, failed with ENOSPC
 *   writes_short          requests that reported fewer bytes than asked
 *   mismatched_writes     done requests that read back other bytes
 *   mismatched_blocks     4 KiB blocks of those that differ
 *   mismatched_bytes      bytes of those that differ
 *   changed_refused_writes failed requests whose range changed anyway
 *   reverify_mismatched_writes done requests that differ at the final re-read
 *   first_refused_write   index of the first failed request (-1: none)
 *   elapsed_s             wall time
 * The first few differences and every errno other than ENOSPC on stderr.
 * Exit: 0 every done write verified and every refused range unchanged;
 *       1 a mismatch; 3 I/O failure other than a refused write, or --timeout;
 *       64 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "toolkit.h"

#define BLOCK 4096u
#define MAX_KIB 1024u
#define MAX_WRITES 1000000u
#define MAX_REPORTED 5

struct config {
    const char *device;
    unsigned writes;
    unsigned first;
    unsigned kib;
    uint64_t seed;
    unsigned timeout_s;
};

static uint64_t splitmix(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

/* Incompressible content named by (seed, request): no two requests, no two blocks alike. */
static void fill(unsigned char *buf, size_t len, uint64_t seed, unsigned request)
{
    uint64_t x = seed ^ ((uint64_t)request << 32);
    for (size_t i = 0; i < len; i += 8) {
        uint64_t v = splitmix(&x);
        memcpy(buf + i, &v, 8);
    }
}

/* Reads the whole range; 0 on success, else errno (a short read counts as EIO). */
static int read_range(int fd, unsigned char *buf, size_t len, off_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(fd, buf + done, len - done, off + (off_t)done);
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return errno;
        }
        if (r == 0)
            return EIO;
        done += (size_t)r;
    }
    return 0;
}

/* Differing bytes and 4 KiB blocks between a and b; the first differing offset in *first. */
static size_t diff(const unsigned char *a, const unsigned char *b, size_t len, size_t *blocks, long *first)
{
    size_t bytes = 0;
    *blocks = 0;
    *first = -1;
    for (size_t blk = 0; blk < len; blk += BLOCK) {
        size_t n = len - blk < BLOCK ? len - blk : BLOCK;
        if (!memcmp(a + blk, b + blk, n))
            continue;
        (*blocks)++;
        for (size_t i = blk; i < blk + n; i++) {
            if (a[i] != b[i]) {
                if (*first < 0)
                    *first = (long)i;
                bytes++;
            }
        }
    }
    return bytes;
}

static void usage(FILE *f)
{
    fprintf(f,
            "usage: writecheck --device DEV --writes N --kib K --seed S [--first F] [--timeout SEC]\n"
            "  --device DEV  block device to overwrite (its contents are lost)\n"
            "  --writes N    requests, at increasing offsets (1..%u)\n"
            "  --first F     index of the first request: it goes to offset F x K KiB (default 0)\n"
            "  --kib K       KiB per request, a multiple of 4 (4..%u)\n"
            "  --seed S      64-bit seed for the content\n"
            "  --timeout SEC stop after SEC seconds, exit 3 (default 600, 0 = none)\n",
            MAX_WRITES, MAX_KIB);
}

static int parse_args(int argc, char **argv, struct config *c)
{
    int have_writes = 0, have_kib = 0, have_seed = 0;
    memset(c, 0, sizeof *c);
    c->timeout_s = 600;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        uint64_t x;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--device")) {
            if (!v)
                return -1;
            c->device = v;
            i++;
        } else if (!strcmp(a, "--writes")) {
            if (parse_u64(v, MAX_WRITES, &x) || x == 0)
                return -1;
            c->writes = (unsigned)x;
            have_writes = 1;
            i++;
        } else if (!strcmp(a, "--first")) {
            if (parse_u64(v, MAX_WRITES, &x))
                return -1;
            c->first = (unsigned)x;
            i++;
        } else if (!strcmp(a, "--kib")) {
            if (parse_u64(v, MAX_KIB, &x) || x < 4 || x % 4)
                return -1;
            c->kib = (unsigned)x;
            have_kib = 1;
            i++;
        } else if (!strcmp(a, "--seed")) {
            if (parse_u64(v, UINT64_MAX, &x))
                return -1;
            c->seed = x;
            have_seed = 1;
            i++;
        } else if (!strcmp(a, "--timeout")) {
            if (parse_u64(v, 7u * 24 * 3600, &x))
                return -1;
            c->timeout_s = (unsigned)x;
            i++;
        } else {
            return -1;
        }
    }
    if (!c->device || !have_writes || !have_kib || !have_seed)
        return -1;
    return 0;
}

int main(int argc, char **argv)
{
    struct config c;
    if (parse_args(argc, argv, &c) != 0) {
        usage(stderr);
        return 64;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    size_t len = (size_t)c.kib * 1024;
    unsigned char *want, *before, *got;
    if (posix_memalign((void **)&want, BLOCK, len) || posix_memalign((void **)&before, BLOCK, len) ||
        posix_memalign((void **)&got, BLOCK, len)) {
        fprintf(stderr, "writecheck: out of memory\n");
        return 3;
    }
    unsigned char *done_map = calloc(c.writes, 1);
    if (!done_map) {
        fprintf(stderr, "writecheck: out of memory\n");
        return 3;
    }
    int fd = open(c.device, O_RDWR | O_DIRECT | O_CLOEXEC);
    if (fd < 0) {
        fprintf(stderr, "writecheck: open %s: %s\n", c.device, strerror(errno));
        return 3;
    }
    off_t dev_bytes = lseek(fd, 0, SEEK_END);
    uint64_t end = ((uint64_t)c.first + c.writes) * len;
    if (dev_bytes < 0 || (uint64_t)dev_bytes < end) {
        fprintf(stderr, "writecheck: %s holds %jd bytes, writes %u to %u of %u KiB need %" PRIu64 "\n", c.device,
                (intmax_t)dev_bytes, c.first, c.first + c.writes - 1, c.kib, end);
        return 64;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    if (c.timeout_s)
        alarm(c.timeout_s);

    double t0 = now_s();
    uint64_t ok = 0, refused = 0, enospc = 0, shorts = 0, mism = 0, mism_blocks = 0, mism_bytes = 0;
    uint64_t changed_refused = 0, reverify_mism = 0;
    long first_refused = -1;
    unsigned reported = 0;
    int io_failed = 0;
    unsigned issued = 0;
    for (unsigned i = 0; i < c.writes && !timed_out && !io_failed; i++) {
        off_t off = (off_t)(c.first + i) * (off_t)len;
        int e = read_range(fd, before, len, off);
        if (e) {
            fprintf(stderr, "writecheck: read before write %u at %jd: %s\n", c.first + i, (intmax_t)off, strerror(e));
            io_failed = 1;
            break;
        }
        fill(want, len, c.seed, c.first + i);
        ssize_t w = pwrite(fd, want, len, off);
        int werr = w < 0 ? errno : 0;
        issued++;
        e = read_range(fd, got, len, off);
        if (e) {
            fprintf(stderr, "writecheck: read after write %u at %jd: %s\n", c.first + i, (intmax_t)off, strerror(e));
            io_failed = 1;
            break;
        }
        size_t blocks;
        long first;
        if (w == (ssize_t)len) {
            ok++;
            size_t bytes = diff(want, got, len, &blocks, &first);
            if (bytes) {
                mism++;
                mism_blocks += blocks;
                mism_bytes += bytes;
                if (reported++ < MAX_REPORTED)
                    fprintf(stderr, "writecheck: write %u at %jd reported done: %zu of %zu blocks differ, first at byte %ld\n",
                            c.first + i, (intmax_t)off, blocks, len / BLOCK, first);
            } else {
                done_map[i] = 1;
            }
        } else if (w < 0) {
            refused++;
            if (first_refused < 0)
                first_refused = (long)(c.first + i);
            if (werr == ENOSPC)
                enospc++;
            else
                fprintf(stderr, "writecheck: write %u at %jd failed: %s\n", c.first + i, (intmax_t)off, strerror(werr));
            if (diff(before, got, len, &blocks, &first)) {
                changed_refused++;
                if (reported++ < MAX_REPORTED)
                    fprintf(stderr, "writecheck: write %u at %jd failed (%s) but %zu of %zu blocks changed\n", c.first + i, (intmax_t)off,
                            strerror(werr), blocks, len / BLOCK);
            }
        } else {
            shorts++;
            fprintf(stderr, "writecheck: write %u at %jd wrote %zd of %zu bytes\n", c.first + i, (intmax_t)off, w, len);
        }
    }
    for (unsigned i = 0; i < issued && !timed_out && !io_failed; i++) {
        if (!done_map[i])
            continue;
        off_t off = (off_t)(c.first + i) * (off_t)len;
        int e = read_range(fd, got, len, off);
        if (e) {
            fprintf(stderr, "writecheck: re-read %u at %jd: %s\n", c.first + i, (intmax_t)off, strerror(e));
            io_failed = 1;
            break;
        }
        fill(want, len, c.seed, c.first + i);
        size_t blocks;
        long first;
        if (diff(want, got, len, &blocks, &first)) {
            reverify_mism++;
            if (reported++ < MAX_REPORTED)
                fprintf(stderr, "writecheck: write %u at %jd verified once, differs at the re-read: %zu blocks\n", c.first + i,
                        (intmax_t)off, blocks);
        }
    }
    close(fd);

    printf("writes %u\n", issued);
    printf("write_kib %u\n", c.kib);
    printf("writes_ok %" PRIu64 "\n", ok);
    printf("writes_refused %" PRIu64 "\n", refused);
    printf("writes_refused_enospc %" PRIu64 "\n", enospc);
    printf("writes_short %" PRIu64 "\n", shorts);
    printf("mismatched_writes %" PRIu64 "\n", mism);
    printf("mismatched_blocks %" PRIu64 "\n", mism_blocks);
    printf("mismatched_bytes %" PRIu64 "\n", mism_bytes);
    printf("changed_refused_writes %" PRIu64 "\n", changed_refused);
    printf("reverify_mismatched_writes %" PRIu64 "\n", reverify_mism);
    printf("first_refused_write %ld\n", first_refused);
    printf("elapsed_s %.1f\n", now_s() - t0);
    if (timed_out) {
        fprintf(stderr, "writecheck: timeout after %u s\n", c.timeout_s);
        return 3;
    }
    if (io_failed)
        return 3;
    return mism || changed_refused || reverify_mism || shorts ? 1 : 0;
}
