/*
 * pagetest: a deterministic memory workload that checks every page it wrote.
 *
 * The parent forks N children. Each child maps (anonymous, private) its share
 * of the requested size, fills every 4 KiB page from (seed, child, page index)
 * and then reads all pages linearly P times, comparing each one with content
 * regenerated from the same inputs. Under a memory limit the pages travel
 * through swap, so a mismatch means swap handed back the wrong bytes.
 *
 * Page kinds, picked per page by a hash so that the requested mix holds:
 *   zero    all bytes zero (written explicitly, so the page is a real anon page)
 *   text    a header line naming seed/child/page, then English-like words from
 *           a PRNG seeded by that header; compresses about 2-3x with LZ4
 *   random  a 16-byte header (child, page, seed) then xorshift64* output seeded
 *           by the header; incompressible
 * Each non-zero page names its own origin, so a page that comes back holding
 * the content of another page or another child does not verify.
 *
 * Output: "key value" lines on stdout, among them
 *   pages            pages written and verified (all children)
 *   mismatches       distinct pages that failed verification at least once
 *   mismatch_checks  failed page checks summed over all passes
 *   elapsed_s        wall time of the whole run, fork to last wait
 *   fill_s verify_s  fill / all-passes verify time of the slowest child
 *   majflt           major faults of all children (getrusage RUSAGE_CHILDREN)
 *   user_s sys_s     CPU time of all children; reclaim done in their context
 *                    (compression for zram) shows up in sys_s
 *   killed_children  children ended by a signal (the OOM killer, say)
 * Progress lines on stderr unless --quiet; the first few mismatches of each
 * child on stderr with pass, child, page, kind and first differing offset.
 * Exit: 0 all pages verified and all children exited normally; 1 mismatches;
 *       2 a child was killed by a signal; 3 other failure (child error,
 *       timeout); 64 usage error.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "toolkit.h"

#define PAGE 4096u
#define MAX_PROCS 4096
#define MAX_MIB (1u << 20)      /* 1 TiB */
#define MAX_PASSES 100000
#define MAX_REPORTED_MISMATCHES 5 /* per child */
#ifndef TEXT_REPEAT_PCT
#define TEXT_REPEAT_PCT 30      /* share of text steps that repeat an earlier phrase */
#endif

enum kind { K_ZERO = 0, K_TEXT = 1, K_RANDOM = 2 };
static const char *const kind_name[] = { "zero", "text", "random" };

enum msg_type { M_FILLED = 1, M_PASS = 2, M_DONE = 3 };

/* One message from a child to the parent; smaller than PIPE_BUF, so atomic. */
struct msg {
    int32_t type;
    int32_t child;
    int32_t pass;           /* 1-based for M_PASS; M_DONE: passes made */
    int32_t pad;
    uint64_t pages;
    uint64_t mismatches;    /* M_PASS: pages failing this pass; M_DONE: distinct pages */
    uint64_t checks_failed; /* M_DONE: failed page checks summed over passes */
    uint64_t majflt;
    double secs;
};

struct config {
    unsigned procs;
    unsigned mib;
    unsigned passes;
    uint64_t seed;
    unsigned mix[3];        /* zero, text, random; sums to 100 */
    int quiet;
    unsigned timeout_s;     /* 0 = none */
    int corrupt;            /* hidden self-test: 0 none, 1 flip, 2 page, 3 child */
    const char *hold_file;  /* after the fill, wait until this file exists; NULL = no wait */
    const char *until_file; /* after the passes, go on verifying until this file exists; NULL = stop */
};

/* ---------------------------------------------------------------- PRNG --- */

static inline uint64_t mix64(uint64_t z)
{
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline uint64_t xs_next(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *s = x;
    return x * 0x2545f4914f6cdd1dULL;
}

/* Identity of one page: never zero, distinct for distinct (seed, child, page). */
static inline uint64_t page_tag(uint64_t seed, unsigned child, uint64_t page)
{
    uint64_t t = mix64(seed ^ mix64(((uint64_t)child << 40) ^ page ^ 0x5a17ULL));
    return t ? t : 1;
}

static inline enum kind page_kind(const struct config *c, unsigned child, uint64_t page)
{
    uint64_t h = mix64(mix64(c->seed * 0x632be59bd9b4e019ULL + child) ^ (page * 0x8cb92ba72f3d8dd7ULL));
    unsigned r = (unsigned)(h % 100u);
    if (r < c->mix[0])
        return K_ZERO;
    if (r < c->mix[0] + c->mix[1])
        return K_TEXT;
    return K_RANDOM;
}

/* --------------------------------------------------------- generators --- */

static const char *const words[] = {
    "the", "of", "and", "to", "a", "in", "is", "it", "you", "that",
    "he", "was", "for", "on", "are", "with", "as", "his", "they", "be",
    "at", "one", "have", "this", "from", "or", "had", "by", "hot", "word",
    "but", "what", "some", "we", "can", "out", "other", "were", "all", "there",
    "when", "up", "use", "your", "how", "said", "an", "each", "she", "which",
    "do", "their", "time", "if", "will", "way", "about", "many", "then", "them",
    "write", "would", "like", "so", "these", "her", "long", "make", "thing", "see",
    "him", "two", "has", "look", "more", "day", "could", "go", "come", "did",
    "number", "sound", "no", "most", "people", "my", "over", "know", "water", "than",
    "call", "first", "who", "may", "down", "side", "been", "now", "find", "any",
    "new", "work", "part", "take", "get", "place", "made", "live", "where", "after",
    "back", "little", "only", "round", "man", "year", "came", "show", "every", "good",
    "me", "give", "our", "under", "name", "very", "through", "just", "form", "sentence",
    "great", "think", "say", "help", "low", "line", "differ", "turn", "cause", "much",
    "mean", "before", "move", "right", "boy", "old", "too", "same", "tell", "does",
    "set", "three", "want", "air", "well", "also", "play", "small", "end", "put",
    "home", "read", "hand", "port", "large", "spell", "add", "even", "land", "here",
    "must", "big", "high", "such", "follow", "act", "why", "ask", "men", "change",
    "went", "light", "kind", "off", "need", "house", "picture", "try", "us", "again",
    "animal", "point", "mother", "world", "near", "build", "self", "earth", "father", "head",
};
#define NWORDS (sizeof words / sizeof words[0])
static unsigned char word_len[NWORDS];

static void init_words(void)
{
    for (size_t i = 0; i < NWORDS; i++)
        word_len[i] = (unsigned char)strlen(words[i]);
}

static void gen_text(unsigned char *p, uint64_t seed, unsigned child, uint64_t page, uint64_t tag)
{
    int n = snprintf((char *)p, PAGE, "pagetest seed %" PRIu64 " child %u page %" PRIu64 " tag %016" PRIx64 "\n",
                     seed, child, page, tag);
    size_t pos = (n > 0 && (unsigned)n < PAGE) ? (size_t)n : 0;
    uint64_t s = mix64(tag ^ 0x7e47ULL) | 1;
    unsigned on_line = 0;
    unsigned line_words = 8;
    while (pos < PAGE) {
        uint64_t r = xs_next(&s);
        if (pos >= 256 && (r % 100u) < TEXT_REPEAT_PCT) {
            /* Repeat a phrase from earlier in the page, as prose does. */
            size_t back = 1 + (size_t)((r >> 8) % (pos < 2048 ? pos : 2048));
            size_t len = 12 + (size_t)((r >> 24) % 40u);
            if (len > PAGE - pos)
                len = PAGE - pos;
            for (size_t j = 0; j < len; j++, pos++)
                p[pos] = p[pos - back];
            continue;
        }
        /* Skewed pick: frequent words come up often. */
        unsigned a = (unsigned)(r % NWORDS);
        unsigned b = (unsigned)((r >> 20) % NWORDS);
        unsigned w = (a * b) / (unsigned)NWORDS;
        size_t len = word_len[w];
        if (len > PAGE - pos)
            len = PAGE - pos;
        memcpy(p + pos, words[w], len);
        pos += len;
        if (pos >= PAGE)
            break;
        if (++on_line >= line_words) {
            p[pos++] = '\n';
            on_line = 0;
            line_words = 6 + (unsigned)((r >> 40) % 8u);
        } else {
            p[pos++] = ' ';
        }
    }
}

static void gen_random(unsigned char *p, uint64_t seed, unsigned child, uint64_t page, uint64_t tag)
{
    uint64_t hdr[2] = { ((uint64_t)child << 40) ^ page, seed };
    memcpy(p, hdr, sizeof hdr);
    uint64_t s = mix64(tag ^ 0x4a11ULL) | 1;
    for (size_t off = sizeof hdr; off < PAGE; off += 8) {
        uint64_t v = xs_next(&s);
        memcpy(p + off, &v, 8);
    }
}

static enum kind gen_page(const struct config *c, unsigned char *p, unsigned child, uint64_t page)
{
    enum kind k = page_kind(c, child, page);
    uint64_t tag = page_tag(c->seed, child, page);
    switch (k) {
    case K_ZERO:
        memset(p, 0, PAGE);
        break;
    case K_TEXT:
        gen_text(p, c->seed, child, page, tag);
        break;
    case K_RANDOM:
        gen_random(p, c->seed, child, page, tag);
        break;
    }
    return k;
}

/* ------------------------------------------------------------ helpers --- */

static uint64_t self_majflt(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (uint64_t)ru.ru_majflt;
}

static int write_full(int fd, const void *buf, size_t len)
{
    const char *b = buf;
    size_t done = 0;
    unsigned tries = 0;
    while (done < len && tries++ < 1000) {
        ssize_t w = write(fd, b + done, len - done);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        done += (size_t)w;
    }
    return done == len ? 0 : -1;
}

static void send_msg(int fd, int type, unsigned child, unsigned pass, uint64_t pages,
                     uint64_t mism, uint64_t checks_failed, uint64_t majflt, double secs)
{
    struct msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.child = (int32_t)child;
    m.pass = (int32_t)pass;
    m.pages = pages;
    m.mismatches = mism;
    m.checks_failed = checks_failed;
    m.majflt = majflt;
    m.secs = secs;
    (void)write_full(fd, &m, sizeof m);
}

/* -------------------------------------------------------------- child --- */

static uint64_t child_pages(const struct config *c, unsigned child)
{
    uint64_t total = (uint64_t)c->mib * (1024u * 1024u / PAGE);
    uint64_t base = total / c->procs, rem = total % c->procs;
    return base + (child < rem ? 1 : 0);
}

/* Hidden self-test: damage one page after the fill so that verification must fail. */
static void corrupt_one(const struct config *c, unsigned char *mem, uint64_t npages, unsigned child)
{
    if (child != 0 || npages == 0)
        return;
    uint64_t target = npages / 2;
    unsigned char buf[PAGE];
    if (c->corrupt == 1) {
        /* flip one byte in the middle of a page */
        mem[target * PAGE + 1234] ^= 0x01;
        fprintf(stderr, "selftest: flipped byte child 0 page %" PRIu64 " offset 1234\n", target);
    } else if (c->corrupt == 2) {
        /* copy the content of another non-zero page of the same child */
        uint64_t src = npages; /* invalid */
        for (uint64_t i = 0; i < npages && i < 100000; i++) {
            uint64_t cand = (target + 1 + i) % npages;
            if (cand != target && page_kind(c, child, cand) != K_ZERO) {
                src = cand;
                break;
            }
        }
        if (src == npages)
            return;
        memcpy(mem + target * PAGE, mem + src * PAGE, PAGE);
        fprintf(stderr, "selftest: copied child 0 page %" PRIu64 " onto page %" PRIu64 "\n", src, target);
    } else if (c->corrupt == 3) {
        /* put the same-index page of child 1 (same kind if possible) here */
        uint64_t pg = target;
        for (uint64_t i = 0; i < npages && i < 100000; i++) {
            uint64_t cand = (target + i) % npages;
            enum kind k0 = page_kind(c, 0, cand);
            if (k0 != K_ZERO && page_kind(c, 1, cand) == k0) {
                pg = cand;
                break;
            }
        }
        gen_page(c, buf, 1, pg);
        memcpy(mem + pg * PAGE, buf, PAGE);
        fprintf(stderr, "selftest: wrote child 1 page %" PRIu64 " into child 0 page %" PRIu64 "\n", pg, pg);
    }
}

static int run_child(const struct config *c, unsigned child, int wfd)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    uint64_t npages = child_pages(c, child);
    size_t len = (size_t)npages * PAGE;
    unsigned char *mem = NULL;
    if (len > 0) {
        mem = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (mem == MAP_FAILED) {
            fprintf(stderr, "child %u: mmap %zu bytes: %s\n", child, len, strerror(errno));
            return 3;
        }
#ifdef MADV_NOHUGEPAGE
        (void)madvise(mem, len, MADV_NOHUGEPAGE);
#endif
    }

    uint64_t f0 = self_majflt();
    double t0 = now_s();
    for (uint64_t i = 0; i < npages; i++)
        gen_page(c, mem + i * PAGE, child, i);
    double fill = now_s() - t0;
    send_msg(wfd, M_FILLED, child, 0, npages, 0, 0, self_majflt() - f0, fill);

    if (c->corrupt)
        corrupt_one(c, mem, npages, child);

    /* idle with every page written (and swapped out, if memory is short) until told to verify;
       the parent's --timeout bounds the wait */
    while (c->hold_file && access(c->hold_file, F_OK) != 0)
        usleep(100 * 1000);

    unsigned char expect[PAGE];
    unsigned char *bad = calloc((size_t)(npages / 8 + 1), 1); /* pages that failed at least once */
    if (!bad) {
        fprintf(stderr, "child %u: out of memory\n", child);
        return 3;
    }
    uint64_t total_mism = 0, distinct = 0;
    unsigned reported = 0;
    double verify = 0;
    /* the passes asked for, then more until the until-file exists: a test that must see faults land during
       the verify stops it when they have, however fast the machine runs it */
    unsigned pass = 1;
    for (; pass <= c->passes || (c->until_file && pass <= MAX_PASSES && access(c->until_file, F_OK) != 0);
         pass++) {
        uint64_t m0 = self_majflt();
        double p0 = now_s();
        uint64_t mism = 0;
        for (uint64_t i = 0; i < npages; i++) {
            const unsigned char *pg = mem + i * PAGE;
            enum kind k = gen_page(c, expect, child, i);
            if (memcmp(pg, expect, PAGE) == 0)
                continue;
            mism++;
            if (!(bad[i / 8] & (1u << (i % 8)))) {
                bad[i / 8] |= (unsigned char)(1u << (i % 8));
                distinct++;
            }
            if (reported < MAX_REPORTED_MISMATCHES) {
                reported++;
                size_t off = 0;
                while (off < PAGE && pg[off] == expect[off])
                    off++;
                size_t ndiff = 0;
                for (size_t j = 0; j < PAGE; j++)
                    ndiff += pg[j] != expect[j];
                fprintf(stderr,
                        "mismatch: pass %u child %u page %" PRIu64 " kind %s offset %zu"
                        " expected 0x%02x got 0x%02x (%zu bytes differ)\n",
                        pass, child, i, kind_name[k], off, expect[off], pg[off], ndiff);
            }
        }
        double secs = now_s() - p0;
        verify += secs;
        total_mism += mism;
        send_msg(wfd, M_PASS, child, pass, npages, mism, mism, self_majflt() - m0, secs);
    }
    send_msg(wfd, M_DONE, child, pass - 1, npages, distinct, total_mism, self_majflt(), verify);
    free(bad);
    if (mem)
        munmap(mem, len);
    return 0;
}

/* ------------------------------------------------------------- parent --- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: pagetest --procs N --mib M --passes P --seed S\n"
            "                [--mix ZERO:TEXT:RANDOM] [--timeout SEC] [--hold-file FILE]\n"
            "                [--until-file FILE] [--quiet]\n"
            "  --procs N     child processes (1..%d)\n"
            "  --mib M       total MiB mapped, split over the children (1..%u)\n"
            "  --passes P    verification passes over every page (1..%d)\n"
            "  --seed S      64-bit seed for all content\n"
            "  --mix Z:T:R   percent zero / text / random pages, sums to 100 (default 34:33:33)\n"
            "  --timeout SEC kill the children after SEC seconds, exit 3 (default 3600, 0 = none)\n"
            "  --hold-file F after writing every page, wait until file F exists, then verify\n"
            "  --until-file F after the P passes, go on verifying until file F exists\n"
            "                (at most %d passes in all; the timeout still holds)\n"
            "  --quiet       no progress lines on stderr\n",
            MAX_PROCS, MAX_MIB, MAX_PASSES, MAX_PASSES);
}

static int parse_args(int argc, char **argv, struct config *c)
{
    int have_procs = 0, have_mib = 0, have_passes = 0, have_seed = 0;
    memset(c, 0, sizeof *c);
    c->mix[0] = 34;
    c->mix[1] = 33;
    c->mix[2] = 33;
    c->timeout_s = 3600;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = (i + 1 < argc) ? argv[i + 1] : NULL;
        uint64_t x;
        if (!strcmp(a, "--quiet")) {
            c->quiet = 1;
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            exit(0);
        } else if (!strcmp(a, "--procs")) {
            if (parse_u64(v, MAX_PROCS, &x) || x == 0)
                return -1;
            c->procs = (unsigned)x;
            have_procs = 1;
            i++;
        } else if (!strcmp(a, "--mib")) {
            if (parse_u64(v, MAX_MIB, &x) || x == 0)
                return -1;
            c->mib = (unsigned)x;
            have_mib = 1;
            i++;
        } else if (!strcmp(a, "--passes")) {
            if (parse_u64(v, MAX_PASSES, &x) || x == 0)
                return -1;
            c->passes = (unsigned)x;
            have_passes = 1;
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
        } else if (!strcmp(a, "--mix")) {
            unsigned z, t, r;
            char tail;
            if (!v || sscanf(v, "%u:%u:%u%c", &z, &t, &r, &tail) != 3 || z > 100 || t > 100 || r > 100 ||
                z + t + r != 100)
                return -1;
            c->mix[0] = z;
            c->mix[1] = t;
            c->mix[2] = r;
            i++;
        } else if (!strcmp(a, "--hold-file")) {
            if (!v || !*v)
                return -1;
            c->hold_file = v;
            i++;
        } else if (!strcmp(a, "--until-file")) {
            if (!v || !*v)
                return -1;
            c->until_file = v;
            i++;
        } else if (!strcmp(a, "--selftest-corrupt")) {
            if (!v)
                return -1;
            if (!strcmp(v, "flip"))
                c->corrupt = 1;
            else if (!strcmp(v, "page"))
                c->corrupt = 2;
            else if (!strcmp(v, "child"))
                c->corrupt = 3;
            else
                return -1;
            i++;
        } else {
            return -1;
        }
    }
    if (!have_procs || !have_mib || !have_passes || !have_seed)
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
    init_words();
    setvbuf(stdout, NULL, _IOLBF, 0);

    int pfd[2];
    if (pipe(pfd) != 0) {
        perror("pipe");
        return 3;
    }

    double t0 = now_s();
    pid_t *pids = calloc(c.procs, sizeof *pids);
    if (!pids) {
        perror("calloc");
        return 3;
    }
    unsigned started = 0;
    int fork_failed = 0;
    fflush(NULL);
    for (unsigned i = 0; i < c.procs; i++) {
        pid_t p = fork();
        if (p < 0) {
            perror("fork");
            fork_failed = 1;
            break;
        }
        if (p == 0) {
            close(pfd[0]);
            int rc = run_child(&c, i, pfd[1]);
            close(pfd[1]);
            _exit(rc);
        }
        pids[i] = p;
        started++;
    }
    close(pfd[1]);
    if (fork_failed)
        for (unsigned i = 0; i < started; i++)
            kill(pids[i], SIGKILL);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_alarm; /* no SA_RESTART: read() returns EINTR */
    sigaction(SIGALRM, &sa, NULL);
    if (c.timeout_s)
        alarm(c.timeout_s);

    unsigned *pass_count = calloc((size_t)c.passes + 1, sizeof *pass_count);
    uint64_t *pass_mism = calloc((size_t)c.passes + 1, sizeof *pass_mism);
    uint64_t *pass_majflt = calloc((size_t)c.passes + 1, sizeof *pass_majflt);
    double *pass_max = calloc((size_t)c.passes + 1, sizeof *pass_max);
    if (!pass_count || !pass_mism || !pass_majflt || !pass_max) {
        perror("calloc");
        for (unsigned i = 0; i < started; i++)
            kill(pids[i], SIGKILL);
        return 3;
    }
    uint64_t pages = 0, mismatches = 0, checks_failed = 0;
    double fill_max = 0, verify_max = 0;
    unsigned done = 0;
    int killed_on_timeout = 0;

    /* One message per child for fill, each pass and done; EOF when every child is gone. */
    uint64_t max_msgs = (uint64_t)started * ((c.until_file ? MAX_PASSES : c.passes) + 2) + 1;
    unsigned passes_done = c.until_file ? MAX_PASSES : c.passes; /* the fewest passes a child made */
    for (uint64_t n = 0; n < max_msgs;) {
        struct msg m;
        size_t got = 0;
        int eof = 0;
        while (got < sizeof m) {
            ssize_t r = read(pfd[0], (char *)&m + got, sizeof m - got);
            if (r > 0) {
                got += (size_t)r;
            } else if (r == 0) {
                eof = 1;
                break;
            } else if (errno == EINTR) {
                if (timed_out && !killed_on_timeout) {
                    fprintf(stderr, "pagetest: timeout after %u s, killing children\n", c.timeout_s);
                    for (unsigned i = 0; i < started; i++)
                        kill(pids[i], SIGKILL);
                    killed_on_timeout = 1;
                }
            } else {
                perror("read");
                eof = 1;
                break;
            }
        }
        if (eof || got < sizeof m)
            break;
        n++;
        if (m.child < 0 || (unsigned)m.child >= started)
            continue;
        double el = now_s() - t0;
        if (m.type == M_FILLED) {
            if (m.secs > fill_max)
                fill_max = m.secs;
            if (++pass_count[0] == started && !c.quiet)
                fprintf(stderr, "fill done: %u children, %" PRIu64 " MiB, %.2f s, majflt %" PRIu64 "\n",
                        started, (uint64_t)c.mib, el, m.majflt);
        } else if (m.type == M_PASS && m.pass >= 1 && (unsigned)m.pass <= c.passes) {
            unsigned p = (unsigned)m.pass;
            pass_mism[p] += m.mismatches;
            pass_majflt[p] += m.majflt;
            if (m.secs > pass_max[p])
                pass_max[p] = m.secs;
            if (++pass_count[p] == started && !c.quiet)
                fprintf(stderr, "pass %u/%u done: mismatches %" PRIu64 ", slowest child %.2f s, majflt %" PRIu64
                        ", elapsed %.2f s\n",
                        p, c.passes, pass_mism[p], pass_max[p], pass_majflt[p], el);
        } else if (m.type == M_DONE) {
            if (m.pass >= 0 && (unsigned)m.pass < passes_done)
                passes_done = (unsigned)m.pass;
            pages += m.pages;
            mismatches += m.mismatches;
            checks_failed += m.checks_failed;
            if (m.secs > verify_max)
                verify_max = m.secs;
            done++;
        }
    }
    close(pfd[0]);
    alarm(0);

    unsigned killed = 0, failed = 0;
    for (unsigned i = 0; i < started; i++) {
        int st;
        pid_t w;
        unsigned tries = 0;
        do {
            w = waitpid(pids[i], &st, 0);
        } while (w < 0 && errno == EINTR && tries++ < 100);
        if (w < 0) {
            failed++;
            continue;
        }
        if (WIFSIGNALED(st)) {
            killed++;
            fprintf(stderr, "child %u (pid %d) killed by signal %d\n", i, (int)pids[i], WTERMSIG(st));
        } else if (WIFEXITED(st) && WEXITSTATUS(st) != 0) {
            failed++;
            fprintf(stderr, "child %u (pid %d) exited with %d\n", i, (int)pids[i], WEXITSTATUS(st));
        }
    }
    double elapsed = now_s() - t0;

    struct rusage ru;
    uint64_t majflt = 0, minflt = 0;
    double user_s = 0, sys_s = 0;
    if (getrusage(RUSAGE_CHILDREN, &ru) == 0) {
        majflt = (uint64_t)ru.ru_majflt;
        minflt = (uint64_t)ru.ru_minflt;
        user_s = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6;
        sys_s = (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    }

    printf("procs %u\n", c.procs);
    printf("mib %u\n", c.mib);
    printf("passes %u\n", done > 0 ? passes_done : 0);
    printf("seed %" PRIu64 "\n", c.seed);
    printf("mix %u:%u:%u\n", c.mix[0], c.mix[1], c.mix[2]);
    printf("pages %" PRIu64 "\n", pages);
    printf("mismatches %" PRIu64 "\n", mismatches);
    printf("mismatch_checks %" PRIu64 "\n", checks_failed);
    printf("elapsed_s %.3f\n", elapsed);
    printf("fill_s %.3f\n", fill_max);
    printf("verify_s %.3f\n", verify_max);
    printf("majflt %" PRIu64 "\n", majflt);
    printf("minflt %" PRIu64 "\n", minflt);
    printf("user_s %.3f\n", user_s);
    printf("sys_s %.3f\n", sys_s);
    printf("killed_children %u\n", killed);
    printf("failed_children %u\n", failed + (c.procs - started));
    printf("completed_children %u\n", done);
    if (killed_on_timeout)
        printf("timed_out 1\n");

    if (killed_on_timeout)
        return 3;
    if (killed)
        return 2;
    if (failed || fork_failed || done != c.procs)
        return 3;
    if (mismatches)
        return 1;
    return 0;
}
