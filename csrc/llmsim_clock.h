/* The one clock llmsim stamps with: CLOCK_MONOTONIC in nanoseconds.
 *
 * System-wide on Linux, so a stamp taken in one process (a worker's heartbeat) can be compared
 * with one taken in another (the master); Python's time.monotonic_ns() reads the same clock.
 */
#ifndef LLMSIM_CLOCK_H
#define LLMSIM_CLOCK_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include <time.h>

static inline uint64_t llmsim_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

#endif /* LLMSIM_CLOCK_H */
