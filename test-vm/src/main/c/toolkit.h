/*
 * What the test tools here (pagetest, writecheck) share: a monotonic clock, an unsigned option
 * parser that refuses what it cannot take whole, and the flag a SIGALRM sets for --timeout.
 * Each tool includes it once; everything is static.
 */
#ifndef RAMSWAP_TOOLKIT_H
#define RAMSWAP_TOOLKIT_H

#include <errno.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* 0 and the value of s in *out when it is a whole unsigned number no larger than max; -1 otherwise. */
static int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    if (!s || !*s || *s == '-')
        return -1;
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 0);
    if (errno || *end || v > max)
        return -1;
    *out = v;
    return 0;
}

static volatile sig_atomic_t timed_out;
static void on_alarm(int sig)
{
    (void)sig;
    timed_out = 1;
}

#endif
