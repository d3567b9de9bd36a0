#ifndef CPOSIX_H
#define CPOSIX_H
/// Linux calls that glibc only declares under _GNU_SOURCE, which Swift's Glibc module does not set.
int cposix_syncfs(int fd);

/// Signal flags for long-running servers: a handler (async-signal-safe, no SA_RESTART, so a
/// blocking call returns EINTR) that only records which signal arrived. Swift cannot form a
/// signal handler that touches Swift state safely, so the flag lives here.
int cposix_watch_signal(int signal);
/// 1 when `signal` arrived since the last call, clearing the flag.
int cposix_take_signal(int signal);
/// Names the calling thread (at most 15 bytes) for `top -H` and /proc/PID/task/TID/comm.
int cposix_name_this_thread(const char *name);
/// glibc's malloc keeps up to `trim_threshold` bytes of freed memory at the top of the heap
/// instead of returning it, and asks for `top_pad` bytes more whenever it grows the heap
/// (mallopt M_TRIM_THRESHOLD, M_TOP_PAD). 0 when set; -1 elsewhere or when refused.
int cposix_keep_freed_memory(int trim_threshold, int top_pad);
#endif
