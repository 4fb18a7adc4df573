/* A one-shot wake-up timer on llmsim's clock (CLOCK_MONOTONIC, see llmsim_clock.h): a Linux
 * timerfd armed with an absolute nanosecond deadline.
 *
 * The descriptor turns readable when the deadline passes, so an event loop watches it like a
 * socket; unlike the loop's own timers (whole milliseconds in libuv) it fires at the
 * nanosecond asked for, give or take the kernel's wake-up latency. Setting the timer again
 * (or disarming it) also clears an expiry not yet read (timerfd_settime(2)), so a level
 * triggered watcher needs one system call per wake: the re-arm it makes anyway.
 */
#ifndef LLMSIM_TIMER_H
#define LLMSIM_TIMER_H

#if !defined(_POSIX_C_SOURCE) && !defined(_GNU_SOURCE)
#define _POSIX_C_SOURCE 200809L
#endif

#include <stdint.h>
#include <sys/timerfd.h>
#include <time.h>

/* A new disarmed timer (non-blocking, close-on-exec); -1 with errno set on failure. */
static inline int llmsim_timer_open(void)
{
    return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
}

/* Arm `fd` to expire once at the absolute CLOCK_MONOTONIC time at_ns (a time already past
 * expires at once), or disarm it when at_ns is INT64_MAX. Either way an unread expiry is
 * dropped. Returns 0, or -1 with errno set. */
static inline int llmsim_timer_set(int fd, int64_t at_ns)
{
    struct itimerspec spec = {{0, 0}, {0, 0}};
    if (at_ns != INT64_MAX) {
        if (at_ns < 1)
            at_ns = 1; /* an all-zero it_value would disarm */
        spec.it_value.tv_sec = (time_t)(at_ns / 1000000000);
        spec.it_value.tv_nsec = (long)(at_ns % 1000000000);
    }
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &spec, NULL);
}

#endif /* LLMSIM_TIMER_H */
