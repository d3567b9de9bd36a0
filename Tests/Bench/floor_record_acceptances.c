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
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <time.h>
#include <unistd.h>

#include "floor_clock.h"

#define MAX_PER_COMMIT 300  /* eventfilter's largest statement of acceptances */

static int postgres;
static const char *target, *reply;
static long rows, per_commit, first_id, next_row;
static long long sent_at;
static pthread_mutex_t take_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_mutex_t write_turns = PTHREAD_MUTEX_INITIALIZER;  /* SQLite only */
static char insert_sql[64 + MAX_PER_COMMIT * 24];
static pthread_barrier_t opened, go, appended, measured;  /* every thread and main: connections open, clocks read, rows appended, clocks read again */

/* CPU seconds (user + system) of PID from /proc/PID/stat, and its parent; -1 when it is gone. */
static double process_cpu(long pid, long *parent) {
    char path[64], text[1024];
    snprintf(path, sizeof path, "/proc/%ld/stat", pid);
    FILE *file = fopen(path, "r");
    if (!file) return -1;
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = 0;
    char *after = strrchr(text, ')');  /* the name may hold spaces; the fields follow its ")" */
    long long field[13];
    char state;
    /* state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt utime stime */
    if (!after || sscanf(after + 2, "%c %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld %lld", &state, &field[0],
                         &field[1], &field[2], &field[3], &field[4], &field[5], &field[6], &field[7], &field[8], &field[9],
                         &field[10], &field[11]) != 13 || state == 'Z')
        return -1;
    *parent = (long)field[0];
    return (double)(field[10] + field[11]) / sysconf(_SC_CLK_TCK);
}

/* The PostgreSQL server's processes at one moment: the postmaster and each child (backends, WAL
 * writer, checkpointer...), with the CPU each has used so far. */
#define MAX_PROCESSES 256
struct snapshot { int count; long pid[MAX_PROCESSES]; double cpu[MAX_PROCESSES]; };

/* Our connections' backends (PQbackendPID), read by pid whether or not the walk of /proc saw them. */
static long backends[64];
static int backend_count;

static void add_to_snapshot(struct snapshot *snapshot, long pid, long postmaster) {
    long parent = 0;
    for (int i = 0; i < snapshot->count; i++)
        if (snapshot->pid[i] == pid) return;
    double cpu = process_cpu(pid, &parent);
    if (cpu < 0 || (pid != postmaster && parent != postmaster) || snapshot->count == MAX_PROCESSES) return;
    snapshot->pid[snapshot->count] = pid;
    snapshot->cpu[snapshot->count++] = cpu;
}

static void take_snapshot(long postmaster, struct snapshot *snapshot) {
    snapshot->count = 0;
    if (postmaster <= 0) return;
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir(proc))) {
        long pid = atol(entry->d_name);
        if (pid > 0) add_to_snapshot(snapshot, pid, postmaster);
    }
    if (proc) closedir(proc);
    for (int i = 0; i < backend_count; i++) add_to_snapshot(snapshot, backends[i], postmaster);
}

/* The server's CPU seconds between two snapshots: each process's growth, a process that started
 * meanwhile counted whole. One that ended meanwhile is left out (an autovacuum worker, say: not
 * ours; our backends stay until the second snapshot), rather than read through the postmaster's
 * reaped-children times, which take it in only once the postmaster has waited for it. */
static double server_cpu(const struct snapshot *before, const struct snapshot *after) {
    double total = 0;
    for (int i = 0; i < after->count; i++) {
        double earlier = 0;
        for (int j = 0; j < before->count; j++)
            if (before->pid[j] == after->pid[i]) earlier = before->cpu[j];
        total += after->cpu[i] - earlier;
    }
    return total;
}

/* The next PER_COMMIT ids (fewer at the end); 0 when every row is taken. */
static long take(long *first) {
    pthread_mutex_lock(&take_lock);
    long count = rows - next_row < per_commit ? rows - next_row : per_commit;
    *first = first_id + next_row;
    next_row += count;
    pthread_mutex_unlock(&take_lock);
    return count;
}

static void fail(const char *what, const char *message) {
    fprintf(stderr, "floor_record_acceptances: %s: %s\n", what, message);
    exit(1);
}

static void *sqlite_writer(void *unused) {
    (void)unused;
    sqlite3 *db;
    if (sqlite3_open_v2(target, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        fail(target, sqlite3_errmsg(db));
    sqlite3_busy_timeout(db, 5000);
    if (sqlite3_exec(db, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864; PRAGMA foreign_keys=ON",
                     NULL, NULL, NULL) != SQLITE_OK)
        fail("pragmas", sqlite3_errmsg(db));
    sqlite3_stmt *full, *statement;
    if (sqlite3_prepare_v2(db, insert_sql, -1, &full, NULL) != SQLITE_OK) fail("prepare", sqlite3_errmsg(db));
    pthread_barrier_wait(&opened);
    pthread_barrier_wait(&go);
    long first, count;
    while ((count = take(&first)) > 0) {
        statement = full;
        if (count < per_commit) {  /* the last, short group */
            char sql[sizeof insert_sql];
            snprintf(sql, sizeof sql, "INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, ?, ?)");
            for (long i = 1; i < count; i++) strcat(sql, ", (?, ?, ?)");
            strcat(sql, " ON CONFLICT DO NOTHING");
            if (sqlite3_prepare_v2(db, sql, -1, &statement, NULL) != SQLITE_OK) fail("prepare", sqlite3_errmsg(db));
        }
        for (long i = 0; i < count; i++) {
            sqlite3_bind_int64(statement, (int)(3 * i + 1), first + i);
            sqlite3_bind_int64(statement, (int)(3 * i + 2), sent_at);
            sqlite3_bind_text(statement, (int)(3 * i + 3), reply, -1, SQLITE_STATIC);
        }
        pthread_mutex_lock(&write_turns);
        int rc = sqlite3_step(statement);
        pthread_mutex_unlock(&write_turns);
        if (rc != SQLITE_DONE) fail("insert", sqlite3_errmsg(db));
        sqlite3_reset(statement);
        if (statement != full) sqlite3_finalize(statement);
    }
    pthread_barrier_wait(&appended);
    pthread_barrier_wait(&measured);
    sqlite3_finalize(full);
    sqlite3_close(db);
    return NULL;
}

static void *postgres_writer(void *unused) {
    (void)unused;
    PGconn *connection = PQconnectdb(target);
    if (PQstatus(connection) != CONNECTION_OK) fail("connect", PQerrorMessage(connection));
    PGresult *result = PQprepare(connection, "full", insert_sql, 0, NULL);
    if (PQresultStatus(result) != PGRES_COMMAND_OK) fail("prepare", PQerrorMessage(connection));
    PQclear(result);
    pthread_mutex_lock(&take_lock);
    backends[backend_count++] = PQbackendPID(connection);
    pthread_mutex_unlock(&take_lock);
    pthread_barrier_wait(&opened);
    pthread_barrier_wait(&go);
    char ids[MAX_PER_COMMIT][24], time_text[24];
    const char *values[3 * MAX_PER_COMMIT];
    snprintf(time_text, sizeof time_text, "%lld", sent_at);
    long first, count;
    while ((count = take(&first)) > 0) {
        for (long i = 0; i < count; i++) {
            snprintf(ids[i], sizeof ids[i], "%ld", first + i);
            values[3 * i] = ids[i];
            values[3 * i + 1] = time_text;
            values[3 * i + 2] = reply;
        }
        if (count == per_commit) {
            result = PQexecPrepared(connection, "full", (int)(3 * count), values, NULL, NULL, 0);
        } else {  /* the last, short group */
            char sql[sizeof insert_sql];
            int at = snprintf(sql, sizeof sql, "INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES ");
            for (long i = 0; i < count; i++)
                at += snprintf(sql + at, sizeof sql - at, "%s($%ld, $%ld, $%ld)", i ? ", " : "", 3 * i + 1, 3 * i + 2, 3 * i + 3);
            snprintf(sql + at, sizeof sql - at, " ON CONFLICT DO NOTHING");
            result = PQexecParams(connection, sql, (int)(3 * count), NULL, values, NULL, NULL, 0);
        }
        if (PQresultStatus(result) != PGRES_COMMAND_OK) fail("insert", PQerrorMessage(connection));
        PQclear(result);
    }
    pthread_barrier_wait(&appended);
    pthread_barrier_wait(&measured);  /* the backend stays until the server's CPU is read */
    PQfinish(connection);
    return NULL;
}

int main(int argc, char **argv) {
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
    if (threads < 1 || threads > 64 || rows < 1 || per_commit < 1 || per_commit > MAX_PER_COMMIT) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    sent_at = (long long)time(NULL);
    int at = snprintf(insert_sql, sizeof insert_sql, "INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES ");
    for (long i = 0; i < per_commit; i++) {
        if (postgres)
            at += snprintf(insert_sql + at, sizeof insert_sql - at, "%s($%ld, $%ld, $%ld)", i ? ", " : "", 3 * i + 1, 3 * i + 2, 3 * i + 3);
        else
            at += snprintf(insert_sql + at, sizeof insert_sql - at, "%s(?, ?, ?)", i ? ", " : "");
    }
    snprintf(insert_sql + at, sizeof insert_sql - at, " ON CONFLICT DO NOTHING");
    pthread_t workers[64];
    pthread_barrier_init(&opened, NULL, threads + 1);
    pthread_barrier_init(&go, NULL, threads + 1);
    pthread_barrier_init(&appended, NULL, threads + 1);
    pthread_barrier_init(&measured, NULL, threads + 1);
    for (int i = 0; i < threads; i++) pthread_create(&workers[i], NULL, postgres ? postgres_writer : sqlite_writer, NULL);
    pthread_barrier_wait(&opened);
    /* The server's CPU read outside the span of this process's own clocks (walking /proc costs). */
    static struct snapshot before, after;
    take_snapshot(postmaster, &before);
    double start = now(), start_cpu = cpu();
    pthread_barrier_wait(&go);
    pthread_barrier_wait(&appended);
    double seconds = now() - start, spent = cpu() - start_cpu;
    take_snapshot(postmaster, &after);
    double server = server_cpu(&before, &after);
    pthread_barrier_wait(&measured);
    for (int i = 0; i < threads; i++) pthread_join(workers[i], NULL);
    printf("%.3f %.3f %.3f\n", seconds, spent, server);
    return 0;
}
