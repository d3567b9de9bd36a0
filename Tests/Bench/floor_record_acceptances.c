/* The record floor of Tests/Bench/smtp_budget.sh: the least CPU a durable record of an SMTP
 * acceptance can cost, with nothing of ours around it. THREADS threads, each on a store connection
 * of its own, append ROWS rows to outbox_delivered with the statement eventfilter commits per
 * acceptance,
 *     INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, ?, ?) ON CONFLICT DO NOTHING
 * PER_COMMIT rows at a time: one statement with PER_COMMIT rows, committed on its own (a single
 * statement is atomic by itself on both stores, as eventfilter sends a group of acceptances: no
 * BEGIN or COMMIT around it). Ids are FIRST_ID, FIRST_ID + 1, ... taken in order by the threads,
 * as the messages of a batch are.
 *
 *   floor_record_acceptances sqlite PATH THREADS ROWS PER_COMMIT FIRST_ID REPLY
 *       PATH  a store eventfilter made (WAL), opened with the pragmas eventfilter sets on every
 *             connection (synchronous=NORMAL, journal_size_limit, foreign_keys); the threads take
 *             turns on a mutex around each commit, as eventfilter's recorders do (the file's write
 *             lock is one for all connections; a waiting thread sleeps rather than polls)
 *   floor_record_acceptances postgresql CONNINFO THREADS ROWS PER_COMMIT FIRST_ID REPLY
 *       CONNINFO  libpq's connection string; the statement prepared once per connection, sent
 *             with PQexecPrepared (text parameters); commits side by side (the server's group
 *             commit may make several durable with one WAL flush)
 *   [SERVER_PID]  the PostgreSQL server's postmaster: also its CPU over the same span (its own and
 *             its children's: the backends, the WAL writer, the checkpointer...)
 *   prints "SECONDS CPU_SECONDS SERVER_CPU_SECONDS": wall seconds of the appending, this process's
 *   CPU (user + system, every thread) over the same, and the server's (0 without SERVER_PID).
 *   The span starts once every thread has its connection open and its statement prepared, and
 *   ends before any closes: eventfilter keeps its connections from batch to batch, so opening
 *   them (a PostgreSQL backend's start) is not part of a message's cost.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "floor_clock.h"
#include "floor_store.h"

static int postgres;
static const char *target, *reply;
static long rows, per_commit, first_id, next_row;
static long long sent_at;
static pthread_mutex_t take_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t write_turns = PTHREAD_MUTEX_INITIALIZER;  /* SQLite only */
static pthread_barrier_t opened, go, appended, measured;  /* every thread and main: connections open, clocks read, rows appended, clocks read again */

/* The next PER_COMMIT ids (fewer at the end); 0 when every row is taken. */
static long take(long *first) {
    pthread_mutex_lock(&take_lock);
    long count = rows - next_row < per_commit ? rows - next_row : per_commit;
    *first = first_id + next_row;
    next_row += count;
    pthread_mutex_unlock(&take_lock);
    return count;
}

static void *writer(void *unused) {
    (void)unused;
    struct floor_store store;
    /* PostgreSQL: commits side by side (the server's group commit may make several durable with
     * one WAL flush); SQLite: turns on one mutex. */
    floor_store_open(&store, postgres, target, postgres ? NULL : &write_turns);
    floor_store_prepare(&store, per_commit);
    pthread_barrier_wait(&opened);
    pthread_barrier_wait(&go);
    long ids[FLOOR_MAX_GROUP], first, count;
    const char *replies[FLOOR_MAX_GROUP];
    for (long i = 0; i < per_commit; i++) replies[i] = reply;
    while ((count = take(&first)) > 0) {
        for (long i = 0; i < count; i++) ids[i] = first + i;
        floor_store_append(&store, count, ids, sent_at, replies);
    }
    pthread_barrier_wait(&appended);
    pthread_barrier_wait(&measured);  /* a backend stays until the server's CPU is read */
    floor_store_close(&store);
    return NULL;
}

int main(int argc, char **argv) {
    floor_program = "floor_record_acceptances";
    if (argc != 8 && argc != 9) {
        fprintf(stderr, "usage: %s sqlite|postgresql PATH|CONNINFO THREADS ROWS PER_COMMIT FIRST_ID REPLY [SERVER_PID]\n", argv[0]);
        return 2;
    }
    if (strcmp(argv[1], "postgresql") == 0) postgres = 1;
    else if (strcmp(argv[1], "sqlite") != 0) { fprintf(stderr, "%s: expected sqlite or postgresql\n", argv[0]); return 2; }
    target = argv[2];
    int threads = atoi(argv[3]);
    rows = atol(argv[4]);
    per_commit = atol(argv[5]);
    first_id = atol(argv[6]);
    reply = argv[7];
    long postmaster = argc == 9 ? atol(argv[8]) : 0;
    if (threads < 1 || threads > 64 || rows < 1 || per_commit < 1 || per_commit > FLOOR_MAX_GROUP) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    sent_at = (long long)time(NULL);
    pthread_t workers[64];
    pthread_barrier_init(&opened, NULL, threads + 1);
    pthread_barrier_init(&go, NULL, threads + 1);
    pthread_barrier_init(&appended, NULL, threads + 1);
    pthread_barrier_init(&measured, NULL, threads + 1);
    for (int i = 0; i < threads; i++) pthread_create(&workers[i], NULL, writer, NULL);
    pthread_barrier_wait(&opened);
    /* The server's CPU read outside the span of this process's own clocks (walking /proc costs). */
    static struct floor_snapshot before, after;
    floor_take_snapshot(postmaster, &before);
    double start = now(), start_cpu = cpu();
    pthread_barrier_wait(&go);
    pthread_barrier_wait(&appended);
    double seconds = now() - start, spent = cpu() - start_cpu;
    floor_take_snapshot(postmaster, &after);
    double server = floor_server_cpu(&before, &after);
    pthread_barrier_wait(&measured);
    for (int i = 0; i < threads; i++) pthread_join(workers[i], NULL);
    printf("%.3f %.3f %.3f\n", seconds, spent, server);
    return 0;
}
