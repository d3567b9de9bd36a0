#define _GNU_SOURCE
#include <unistd.h>
#include "CPosix.h"

int cposix_syncfs(int fd) { return syncfs(fd); }

#include <signal.h>
#include <string.h>

static volatile sig_atomic_t cposix_pending[65];

static void cposix_record_signal(int signal) {
    if (signal > 0 && signal < 65) cposix_pending[signal] = 1;
}

int cposix_watch_signal(int signal) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = cposix_record_signal;
    sigemptyset(&action.sa_mask);
    action.sa_flags = 0;
    return sigaction(signal, &action, NULL);
}

int cposix_take_signal(int signal) {
    if (signal <= 0 || signal >= 65 || !cposix_pending[signal]) return 0;
    cposix_pending[signal] = 0;
    return 1;
}

#include <pthread.h>

int cposix_name_this_thread(const char *name) { return pthread_setname_np(pthread_self(), name); }

#if defined(__GLIBC__)
#include <malloc.h>
#endif

int cposix_keep_freed_memory(int trim_threshold, int top_pad) {
#if defined(__GLIBC__)
    return mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1 && mallopt(M_TOP_PAD, top_pad) == 1 ? 0 : -1;
#else
    (void)trim_threshold;
    (void)top_pad;
    return -1;
#endif
}
