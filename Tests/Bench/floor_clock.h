/* The clocks the C floors of Tests/Bench/ read: wall seconds and the process's CPU seconds. */
#ifndef FLOOR_CLOCK_H
#define FLOOR_CLOCK_H
#include <sys/resource.h>
#include <time.h>

/* Seconds on the monotonic clock. */
static inline double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

/* The process's CPU seconds so far, user and system apart, from one getrusage. */
static inline void cpu_times(double *user, double *system) {
    struct rusage usage;
    getrusage(RUSAGE_SELF, &usage);
    *user = usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6;
    *system = usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6;
}

/* The process's CPU seconds so far, user and system. */
static inline double cpu(void) {
    double user, system;
    cpu_times(&user, &system);
    return user + system;
}
#endif
