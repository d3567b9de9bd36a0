/* The store side of the C floors of Tests/Bench/ that record acceptances (floor_record_acceptances.c,
 * floor_smtp_window.c): a connection to a store eventfilter made, opened as eventfilter opens it,
 * appending rows to outbox_delivered with the statement eventfilter commits acceptances with,
 *     INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES (?, ?, ?), ... ON CONFLICT DO NOTHING
 * one statement per group, committed on its own (a single statement is atomic by itself on both
 * stores, as eventfilter sends a group of acceptances: no BEGIN or COMMIT around it); and the
 * PostgreSQL server's CPU over a span, read from /proc.
 *
 * SQLite: the file opened with the pragmas eventfilter sets on every connection (synchronous=NORMAL,
 * journal_size_limit, foreign_keys), the store already in WAL. PostgreSQL: libpq, each size of
 * group prepared once per connection and sent with PQexecPrepared (text parameters).
 * A program that includes it links -lsqlite3 -lpq and calls floor_fail on its own errors too.
 */
#ifndef FLOOR_STORE_H
#define FLOOR_STORE_H
#include <dirent.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLOOR_MAX_GROUP 300  /* eventfilter's largest statement of acceptances */

/* The program's name in its error messages. */
static const char *floor_program = "floor";

static inline void floor_fail(const char *what, const char *message) {
    fprintf(stderr, "%s: %s: %s\n", floor_program, what, message);
    exit(1);
}

/* One store connection, and the statements it has prepared, by the number of rows they append. */
struct floor_store {
    int postgres;
    sqlite3 *db;
    PGconn *connection;
    sqlite3_stmt *statements[FLOOR_MAX_GROUP + 1];
    char prepared[FLOOR_MAX_GROUP + 1];   /* PostgreSQL: "rowsN" prepared on this connection */
    pthread_mutex_t *write_turns;         /* SQLite: held around each commit when set (see floor_store_open) */
    sqlite3_stmt *pending;                /* SQLite: the statement floor_store_send bound */
};

/* Our connections' backends (PQbackendPID), read by pid whether or not the walk of /proc saw them. */
static long floor_backends[64];
static int floor_backend_count;
static pthread_mutex_t floor_backends_lock = PTHREAD_MUTEX_INITIALIZER;

/* The statement appending ROWS rows, with SQLite's or PostgreSQL's placeholders. */
static inline void floor_insert_sql(char *sql, size_t size, long rows, int postgres) {
    int at = snprintf(sql, size, "INSERT INTO outbox_delivered(outbox_id, sent_at, reply) VALUES ");
    for (long i = 0; i < rows; i++) {
        if (postgres)
            at += snprintf(sql + at, size - at, "%s($%ld, $%ld, $%ld)", i ? ", " : "", 3 * i + 1, 3 * i + 2, 3 * i + 3);
        else
            at += snprintf(sql + at, size - at, "%s(?, ?, ?)", i ? ", " : "");
    }
    snprintf(sql + at, size - at, " ON CONFLICT DO NOTHING");
}

/* Opens TARGET (a SQLite path, or libpq's connection string when POSTGRES). On SQLite, several
 * connections to one file take turns on WRITE_TURNS around each commit, as eventfilter's recorders
 * do: the file's write lock is one for all connections, and a waiting thread sleeps rather than
 * polls. */
static inline void floor_store_open(struct floor_store *store, int postgres, const char *target, pthread_mutex_t *write_turns) {
    memset(store, 0, sizeof *store);
    store->postgres = postgres;
    store->write_turns = write_turns;
    if (postgres) {
        store->connection = PQconnectdb(target);
        if (PQstatus(store->connection) != CONNECTION_OK) floor_fail("connect", PQerrorMessage(store->connection));
        pthread_mutex_lock(&floor_backends_lock);
        if (floor_backend_count < 64) floor_backends[floor_backend_count++] = PQbackendPID(store->connection);
        pthread_mutex_unlock(&floor_backends_lock);
        return;
    }
    if (sqlite3_open_v2(target, &store->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL) != SQLITE_OK)
        floor_fail(target, sqlite3_errmsg(store->db));
    sqlite3_busy_timeout(store->db, 5000);
    if (sqlite3_exec(store->db, "PRAGMA synchronous=NORMAL; PRAGMA journal_size_limit=67108864; PRAGMA foreign_keys=ON",
                     NULL, NULL, NULL) != SQLITE_OK)
        floor_fail("pragmas", sqlite3_errmsg(store->db));
}

/* Prepares the statement appending ROWS rows, unless it is already: done before a measured span,
 * as eventfilter keeps its statements from batch to batch. */
static inline void floor_store_prepare(struct floor_store *store, long rows) {
    char sql[96 + FLOOR_MAX_GROUP * 24];
    if (rows < 1 || rows > FLOOR_MAX_GROUP) floor_fail("prepare", "too many rows for one statement");
    if (store->postgres ? store->prepared[rows] : store->statements[rows] != NULL) return;
    floor_insert_sql(sql, sizeof sql, rows, store->postgres);
    if (store->postgres) {
        char name[32];
        snprintf(name, sizeof name, "rows%ld", rows);
        PGresult *result = PQprepare(store->connection, name, sql, 0, NULL);
        if (PQresultStatus(result) != PGRES_COMMAND_OK) floor_fail("prepare", PQerrorMessage(store->connection));
        PQclear(result);
        store->prepared[rows] = 1;
    } else if (sqlite3_prepare_v2(store->db, sql, -1, &store->statements[rows], NULL) != SQLITE_OK) {
        floor_fail("prepare", sqlite3_errmsg(store->db));
    }
}

/* Sends the statement appending ROWS acceptances, IDS[i] with REPLIES[i], all sent at SENT_AT, one
 * statement that commits on its own: on PostgreSQL it goes to the server now and runs while the
 * caller does other work; on SQLite, which runs it in this process, it is only bound. The strings
 * stay the caller's until floor_store_finish returns. */
static inline void floor_store_send(struct floor_store *store, long rows, const long *ids, long long sent_at,
                             const char *const *replies) {
    floor_store_prepare(store, rows);
    if (store->postgres) {
        char id_text[FLOOR_MAX_GROUP][24], time_text[24], name[32];
        const char *values[3 * FLOOR_MAX_GROUP];
        snprintf(time_text, sizeof time_text, "%lld", sent_at);
        snprintf(name, sizeof name, "rows%ld", rows);
        for (long i = 0; i < rows; i++) {
            snprintf(id_text[i], sizeof id_text[i], "%ld", ids[i]);
            values[3 * i] = id_text[i];
            values[3 * i + 1] = time_text;
            values[3 * i + 2] = replies[i];
        }
        /* libpq copies the values into the message it sends, so they may go once this returns. */
        if (!PQsendQueryPrepared(store->connection, name, (int)(3 * rows), values, NULL, NULL, 0))
            floor_fail("insert", PQerrorMessage(store->connection));
        return;
    }
    sqlite3_stmt *statement = store->statements[rows];
    for (long i = 0; i < rows; i++) {
        sqlite3_bind_int64(statement, (int)(3 * i + 1), ids[i]);
        sqlite3_bind_int64(statement, (int)(3 * i + 2), sent_at);
        sqlite3_bind_text(statement, (int)(3 * i + 3), replies[i], -1, SQLITE_STATIC);
    }
    store->pending = statement;
}

/* Returns once the statement floor_store_send sent has committed. */
static inline void floor_store_finish(struct floor_store *store) {
    if (store->postgres) {
        PGresult *result;
        int ok = 1;
        while ((result = PQgetResult(store->connection)) != NULL) {
            if (PQresultStatus(result) != PGRES_COMMAND_OK) ok = 0;
            PQclear(result);
        }
        if (!ok) floor_fail("insert", PQerrorMessage(store->connection));
        return;
    }
    if (store->write_turns) pthread_mutex_lock(store->write_turns);
    int rc = sqlite3_step(store->pending);
    if (store->write_turns) pthread_mutex_unlock(store->write_turns);
    if (rc != SQLITE_DONE) floor_fail("insert", sqlite3_errmsg(store->db));
    sqlite3_reset(store->pending);
}

/* Appends ROWS acceptances, as floor_store_send, and returns once they are committed. */
static inline void floor_store_append(struct floor_store *store, long rows, const long *ids, long long sent_at,
                               const char *const *replies) {
    floor_store_send(store, rows, ids, sent_at, replies);
    floor_store_finish(store);
}

static inline void floor_store_close(struct floor_store *store) {
    if (store->postgres) {
        PQfinish(store->connection);
        return;
    }
    for (long rows = 0; rows <= FLOOR_MAX_GROUP; rows++)
        if (store->statements[rows]) sqlite3_finalize(store->statements[rows]);
    sqlite3_close(store->db);
}

/* CPU seconds (user + system) of PID from /proc/PID/stat, and its parent; -1 when it is gone. */
static inline double floor_process_cpu(long pid, long *parent) {
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
#define FLOOR_MAX_PROCESSES 256
struct floor_snapshot { int count; long pid[FLOOR_MAX_PROCESSES]; double cpu[FLOOR_MAX_PROCESSES]; };

static inline void floor_add_to_snapshot(struct floor_snapshot *snapshot, long pid, long postmaster) {
    long parent = 0;
    for (int i = 0; i < snapshot->count; i++)
        if (snapshot->pid[i] == pid) return;
    double cpu = floor_process_cpu(pid, &parent);
    if (cpu < 0 || (pid != postmaster && parent != postmaster) || snapshot->count == FLOOR_MAX_PROCESSES) return;
    snapshot->pid[snapshot->count] = pid;
    snapshot->cpu[snapshot->count++] = cpu;
}

/* The server's processes now (none when POSTMASTER is 0: SQLite, or no pid given). */
static inline void floor_take_snapshot(long postmaster, struct floor_snapshot *snapshot) {
    snapshot->count = 0;
    if (postmaster <= 0) return;
    DIR *proc = opendir("/proc");
    struct dirent *entry;
    while (proc && (entry = readdir(proc))) {
        long pid = atol(entry->d_name);
        if (pid > 0) floor_add_to_snapshot(snapshot, pid, postmaster);
    }
    if (proc) closedir(proc);
    for (int i = 0; i < floor_backend_count; i++) floor_add_to_snapshot(snapshot, floor_backends[i], postmaster);
}

/* The server's CPU seconds between two snapshots: each process's growth, a process that started
 * meanwhile counted whole. One that ended meanwhile is left out (an autovacuum worker, say: not
 * ours; our backends stay until the second snapshot), rather than read through the postmaster's
 * reaped-children times, which take it in only once the postmaster has waited for it. */
static inline double floor_server_cpu(const struct floor_snapshot *before, const struct floor_snapshot *after) {
    double total = 0;
    for (int i = 0; i < after->count; i++) {
        double earlier = 0;
        for (int j = 0; j < before->count; j++)
            if (before->pid[j] == after->pid[i]) earlier = before->cpu[j];
        total += after->cpu[i] - earlier;
    }
    return total;
}
#endif
