/*
 * O_DIRECT load on block devices (the loop devices over the prototype mount).
 *   load SECONDS STREAM...      STREAM = dev:op:size[:lo:hi]
 * op is r or w; size in bytes; lo and hi are the fraction of the device a stream
 * touches (default 0:1). Each stream is one thread doing one request at a time at
 * random aligned offsets; one line per stream: ops, MiB/s, latency p50/p99/max.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#define MAX_SAMPLES (4 << 20)

struct stream {
    const char *spec;
    char dev[256];
    char op;
    long size;
    double lo, hi;
    double seconds;
    long ops;
    long errors;
    float *lat_us;
};

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static int cmp(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

static void *run(void *arg) {
    struct stream *s = arg;
    int fd = open(s->dev, (s->op == 'w' ? O_WRONLY : O_RDONLY) | O_DIRECT);
    if (fd < 0) { perror(s->dev); s->errors++; return NULL; }
    uint64_t bytes;
    if (ioctl(fd, BLKGETSIZE64, &bytes) != 0) { perror("BLKGETSIZE64"); s->errors++; close(fd); return NULL; }
    long first = (long)(bytes * s->lo) / s->size, last = (long)(bytes * s->hi) / s->size; /* slots [first, last) */
    void *buf;
    if (posix_memalign(&buf, 4096, s->size)) { s->errors++; close(fd); return NULL; }
    memset(buf, 0x5a, s->size);
    unsigned seed = (unsigned)(uintptr_t)s ^ (unsigned)getpid();
    double end = now() + s->seconds;
    for (;;) {
        double t0 = now();
        if (t0 >= end) break;
        long slot = first + rand_r(&seed) % (last - first);
        ssize_t n = s->op == 'w' ? pwrite(fd, buf, s->size, slot * s->size) : pread(fd, buf, s->size, slot * s->size);
        double t1 = now();
        if (n != s->size) s->errors++;
        if (s->ops < MAX_SAMPLES) s->lat_us[s->ops] = (float)((t1 - t0) * 1e6);
        s->ops++;
    }
    free(buf);
    close(fd);
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 3) { fprintf(stderr, "usage: load SECONDS dev:op:size[:lo:hi]...\n"); return 2; }
    double seconds = atof(argv[1]);
    int n = argc - 2;
    struct stream *s = calloc(n, sizeof *s);
    pthread_t *t = calloc(n, sizeof *t);
    for (int i = 0; i < n; i++) {
        s[i].spec = argv[i + 2];
        s[i].lo = 0; s[i].hi = 1; s[i].seconds = seconds;
        if (sscanf(argv[i + 2], "%255[^:]:%c:%ld:%lf:%lf", s[i].dev, &s[i].op, &s[i].size, &s[i].lo, &s[i].hi) < 3) {
            fprintf(stderr, "bad stream %s\n", argv[i + 2]); return 2;
        }
        s[i].lat_us = malloc(sizeof(float) * MAX_SAMPLES);
    }
    double t0 = now();
    for (int i = 0; i < n; i++) pthread_create(&t[i], NULL, run, &s[i]);
    for (int i = 0; i < n; i++) pthread_join(t[i], NULL);
    double wall = now() - t0;
    long total_ops = 0; double total_mib = 0; long total_err = 0;
    for (int i = 0; i < n; i++) {
        long k = s[i].ops < MAX_SAMPLES ? s[i].ops : MAX_SAMPLES;
        qsort(s[i].lat_us, k, sizeof(float), cmp);
        double mib = s[i].ops * (double)s[i].size / (1 << 20) / wall;
        printf("stream %-28s ops %8ld  %8.1f MiB/s  p50 %8.0f us  p99 %8.0f us  max %8.0f us  errors %ld\n", s[i].spec, s[i].ops, mib,
               k ? s[i].lat_us[k / 2] : 0, k ? s[i].lat_us[(long)(k * 0.99)] : 0, k ? s[i].lat_us[k - 1] : 0, s[i].errors);
        total_ops += s[i].ops; total_mib += mib; total_err += s[i].errors;
    }
    printf("total %ld ops  %.0f ops/s  %.1f MiB/s  errors %ld  (%.1f s)\n", total_ops, total_ops / wall, total_mib, total_err, wall);
    return total_err ? 1 : 0;
}
