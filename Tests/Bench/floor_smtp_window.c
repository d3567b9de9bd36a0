/* The window floor of Tests/Bench/stage_smtp.sh and smtp_path.sh: the fastest a client can send
 * the messages over SMTP while keeping eventfilter's crash bound, with nothing of ours around it.
 * The bound: at most WINDOW messages have had their final "." sent without their acceptance
 * committed to the store, since those are what a kill -9 can send twice. smtp-source keeps no
 * record and sends its "." whenever it likes; any client that keeps the bound has each place
 * cycle through "." sent, the server's reply, the commit, free, so its rate is at most about
 * WINDOW / (reply latency + commit latency) whatever its CPU. This program is that bound, measured.
 *
 * CONNECTIONS threads, each with one TCP connection to the server (blocking sockets, TCP_NODELAY),
 * EHLO once, then pipelining as RFC 2920 allows: MAIL FROM, RCPT TO and DATA in one write, after
 * the 354 the message, and the next message's MAIL FROM, RCPT TO and DATA in the same write as
 * this message's final "." (section 3.1: DATA may end a group; the end of data may be followed by
 * the next transaction's commands). The message crosses the wire while its place is awaited; only
 * its "." waits. Every acceptance is committed with the statement eventfilter records acceptances
 * with (Tests/Bench/floor_store.h), all commits on one store connection, one at a time, as
 * eventfilter's recorders share one connection; a place frees only once the commit holding it has
 * returned. A commit starts as soon as its schedule allows (on PostgreSQL it runs on the server
 * while the thread that started it goes on with its own connection), and its result is awaited by
 * whichever thread first needs the places back. Ids are FIRST_ID, FIRST_ID + 1, ...: the outbox ids of a store eventfilter made, so the
 * rows are real (their foreign key holds).
 *
 *   floor_smtp_window sqlite|postgresql PATH|CONNINFO HOST:PORT CONNECTIONS MESSAGES SIZE WINDOW FIRST_ID
 *                     [schedule=eager|replied|full] [server=PID]
 *       SIZE      bytes of each message (the shape of floor_smtp_curl's, Tests/Bench/floor_message.h),
 *                 dot-stuffed
 *       WINDOW    the most acceptances waiting for their commit (eventfilter's MaxUnrecordedAcceptances;
 *                 its default is one per connection)
 *       schedule  when a commit starts (never while one runs):
 *                   eager    as soon as any acceptance waits for it
 *                   replied  once every message holding a place has its reply (none is in flight)
 *                   full     once the whole window has its replies (or the last messages have)
 *                 default: full. Measured here (10,000 messages to smtp-sink, 4 connections):
 *                 eager the slowest at every window on both stores; on PostgreSQL full ahead of
 *                 replied at the default window (6,039-6,579/s against 5,596-5,605/s) and level
 *                 at 8 and 64; on SQLite the two level at the default window, replied ahead at
 *                 8 and 64 (21,739/s against 19,380/s; 26,385/s against 19,608/s)
 *       server    the PostgreSQL server's postmaster: also its CPU over the same span
 *   prints "SECONDS CPU_SECONDS SERVER_CPU_SECONDS FAILED": wall seconds of the sending (the
 *   connections' opening included, as smtp-source's and floor_smtp_curl's are; the store's opening
 *   not, eventfilter keeping its store connection from batch to batch), this process's CPU (user +
 *   system, every thread), the server's (0 without server=PID), and the messages the server did not
 *   accept (0 expected).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "floor_clock.h"
#include "floor_message.h"
#include "floor_store.h"

#define REPLY_MAX 160  /* the part of the server's reply recorded, as eventfilter keeps one line */

enum schedule { EAGER, REPLIED, FULL };

static struct sockaddr_in server_address;
static int connections;
static long messages, window, first_id;
static enum schedule schedule = FULL;
static char *wire;  /* the message dot-stuffed, ending in CRLF, without the "." line */
static long wire_length;
static long long sent_at;

/* The window, under lock: places held ("." sent, acceptance not committed), the acceptances
 * replied to and waiting for a commit, whether a commit runs (the store connection is in use), and
 * the connections that will hold no more places. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t changed = PTHREAD_COND_INITIALIZER;
static long unrecorded, waiting, next_message, failed;
static long waiting_ids[FLOOR_MAX_GROUP];
static char waiting_replies[FLOOR_MAX_GROUP][REPLY_MAX];
static int committing, finishing, finished;  /* a commit started; a thread sends it or awaits its result; connections done */
static long committed_count;  /* the acceptances in the commit started */
static struct floor_store store;

/* Whether a commit should start now (lock held). */
static int commit_due(void) {
    if (committing || waiting == 0) return 0;
    switch (schedule) {
    case EAGER: return 1;
    case REPLIED: return waiting == unrecorded;
    case FULL: return waiting == window || (waiting == unrecorded && finished == connections);
    }
    return 0;
}

/* Starts the commit of every acceptance waiting, on the one store connection (lock held; released
 * meanwhile, so the other connections go on sending). On PostgreSQL the statement runs on the
 * server while this thread goes on with its own connection; whichever thread next needs the
 * places back awaits its result (commit_finish). */
static void commit_start(void) {
    static long ids[FLOOR_MAX_GROUP];
    static char replies[FLOOR_MAX_GROUP][REPLY_MAX];
    static const char *reply_pointers[FLOOR_MAX_GROUP];
    long count = waiting;
    committing = finishing = 1;  /* no thread awaits the result before the statement is sent */
    memcpy(ids, waiting_ids, count * sizeof ids[0]);
    for (long i = 0; i < count; i++) {
        memcpy(replies[i], waiting_replies[i], REPLY_MAX);
        reply_pointers[i] = replies[i];
    }
    waiting = 0;
    pthread_mutex_unlock(&lock);
    committed_count = count;
    floor_store_send(&store, count, ids, sent_at, reply_pointers);
    pthread_mutex_lock(&lock);
    finishing = 0;
    pthread_cond_broadcast(&changed);  /* a thread waiting for a place may await the result */
}

/* Awaits the result of the commit started, unless another thread does already, then frees its
 * places (lock held; released meanwhile). */
static void commit_finish(void) {
    if (!committing || finishing) return;
    finishing = 1;
    pthread_mutex_unlock(&lock);
    floor_store_finish(&store);
    pthread_mutex_lock(&lock);
    unrecorded -= committed_count;
    committing = finishing = 0;
    pthread_cond_broadcast(&changed);
}

/* Until a place is free (lock held): finishes the commit started, starts the one due, or waits. */
static void await_place(void) {
    for (;;) {
        if (committing && !finishing) commit_finish();
        else if (commit_due()) commit_start();
        else if (unrecorded < window) return;
        else pthread_cond_wait(&changed, &lock);
    }
}

/* The next message's number, or -1 when every one is taken. */
static long take(void) {
    pthread_mutex_lock(&lock);
    long number = next_message < messages ? next_message++ : -1;
    pthread_mutex_unlock(&lock);
    return number;
}

/* A connection's replies, read through a buffer: pipelined replies come several to a read. */
struct reader { int fd; long start, end; char buffer[16384]; };

/* Reads one reply (its continuation lines "NNN-" too); returns its code, and its last line (without
 * CRLF) in LINE. */
static int read_reply(struct reader *reader, char *line, size_t size) {
    for (;;) {
        char *begin = reader->buffer + reader->start, *crlf = NULL;
        for (char *at = begin; at + 1 < reader->buffer + reader->end; at++)
            if (at[0] == '\r' && at[1] == '\n') { crlf = at; break; }
        if (!crlf) {
            if (reader->start > 0) {  /* room at the end for the rest of the line */
                memmove(reader->buffer, begin, reader->end - reader->start);
                reader->end -= reader->start;
                reader->start = 0;
            }
            ssize_t n = read(reader->fd, reader->buffer + reader->end, sizeof reader->buffer - reader->end);
            if (n <= 0) floor_fail("read", n == 0 ? "the server closed the connection" : strerror(errno));
            reader->end += n;
            continue;
        }
        long length = crlf - begin;
        reader->start += length + 2;
        if (length < 3) floor_fail("read", "a reply line without a code");
        if (length >= 4 && begin[3] == '-') continue;
        size_t kept = (size_t)length < size - 1 ? (size_t)length : size - 1;
        memcpy(line, begin, kept);
        line[kept] = 0;
        return atoi(begin);
    }
}

/* Writes every byte of the COUNT pieces, however many writes the socket takes. */
static void write_all(int fd, struct iovec *pieces, int count) {
    while (count > 0) {
        ssize_t n = writev(fd, pieces, count);
        if (n < 0) {
            if (errno == EINTR) continue;
            floor_fail("write", strerror(errno));
        }
        while (count > 0 && (size_t)n >= pieces->iov_len) { n -= pieces->iov_len; pieces++; count--; }
        if (count > 0) { pieces->iov_base = (char *)pieces->iov_base + n; pieces->iov_len -= n; }
    }
}

/* MAIL FROM, RCPT TO and DATA of message NUMBER, appended to TEXT at LENGTH; the new length. */
static int transaction(char *text, int length, long number) {
    return length + sprintf(text + length, "MAIL FROM:<bench@example.com>\r\nRCPT TO:<user%ld@example.com>\r\nDATA\r\n",
                            number % 100 + 1);
}

static void expect(struct reader *reader, int code, const char *what) {
    char line[REPLY_MAX];
    if (read_reply(reader, line, sizeof line) != code) floor_fail(what, line);
}

static void *connection(void *unused) {
    (void)unused;
    static const char dot[] = ".\r\n";
    struct reader *reader = calloc(1, sizeof *reader);
    int fd = socket(AF_INET, SOCK_STREAM, 0), on = 1;
    if (fd < 0 || connect(fd, (struct sockaddr *)&server_address, sizeof server_address) != 0) floor_fail("connect", strerror(errno));
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof on);  /* a command group goes when written, not after the last reply's ACK */
    reader->fd = fd;
    char commands[256], line[REPLY_MAX];
    expect(reader, 220, "greeting");
    struct iovec pieces[2] = {{commands, sprintf(commands, "EHLO floor.example.com\r\n")}};
    write_all(fd, pieces, 1);
    expect(reader, 250, "EHLO");
    long number = take();
    if (number >= 0) {
        pieces[0] = (struct iovec){commands, transaction(commands, 0, number)};
        write_all(fd, pieces, 1);
        expect(reader, 250, "MAIL FROM");
        expect(reader, 250, "RCPT TO");
        expect(reader, 354, "DATA");
    }
    while (number >= 0) {
        long next = take();
        int length = sprintf(commands, "%s", dot);
        length = next >= 0 ? transaction(commands, length, next) : length + sprintf(commands + length, "QUIT\r\n");
        pthread_mutex_lock(&lock);
        if (!committing && !commit_due() && unrecorded < window) {  /* a place at once: the message and its "." in one write */
            unrecorded++;
            pthread_mutex_unlock(&lock);
            pieces[0] = (struct iovec){wire, wire_length};
            pieces[1] = (struct iovec){commands, length};
            write_all(fd, pieces, 2);
        } else {  /* the message crosses while the commit runs or this thread waits; then its "." */
            pthread_mutex_unlock(&lock);
            pieces[0] = (struct iovec){wire, wire_length};
            write_all(fd, pieces, 1);
            pthread_mutex_lock(&lock);
            await_place();
            unrecorded++;
            pthread_mutex_unlock(&lock);
            pieces[0] = (struct iovec){commands, length};
            write_all(fd, pieces, 1);
        }
        int code = read_reply(reader, line, sizeof line);
        pthread_mutex_lock(&lock);
        if (code == 250) {
            waiting_ids[waiting] = first_id + number;
            memcpy(waiting_replies[waiting++], line, REPLY_MAX);
        } else {  /* refused: nothing to record, the place is free again */
            failed++;
            unrecorded--;
        }
        /* The commit starts at once; its result is awaited only after this connection's next
         * message has gone out, before that message's "." */
        if (commit_due()) commit_start();
        pthread_mutex_unlock(&lock);
        if (next >= 0) {
            expect(reader, 250, "MAIL FROM");
            expect(reader, 250, "RCPT TO");
            expect(reader, 354, "DATA");
        }
        number = next;
    }
    pthread_mutex_lock(&lock);
    finished++;
    for (;;) {  /* the last acceptances committed before the sending ends */
        if (committing && !finishing) commit_finish();
        else if (commit_due()) commit_start();
        else if (waiting > 0 || committing) pthread_cond_wait(&changed, &lock);
        else break;
    }
    pthread_cond_broadcast(&changed);
    pthread_mutex_unlock(&lock);
    close(fd);
    free(reader);
    return NULL;
}

int main(int argc, char **argv) {
    floor_program = "floor_smtp_window";
    if (argc < 9) {
        fprintf(stderr, "usage: %s sqlite|postgresql PATH|CONNINFO HOST:PORT CONNECTIONS MESSAGES SIZE WINDOW FIRST_ID"
                        " [schedule=eager|replied|full] [server=PID]\n", argv[0]);
        return 2;
    }
    int postgres = strcmp(argv[1], "postgresql") == 0;
    if (!postgres && strcmp(argv[1], "sqlite") != 0) { fprintf(stderr, "%s: expected sqlite or postgresql\n", argv[0]); return 2; }
    char *colon = strrchr(argv[3], ':');
    connections = atoi(argv[4]);
    messages = atol(argv[5]);
    long size = atol(argv[6]);
    window = atol(argv[7]);
    first_id = atol(argv[8]);
    long postmaster = 0;
    for (int i = 9; i < argc; i++) {
        if (strcmp(argv[i], "schedule=eager") == 0) schedule = EAGER;
        else if (strcmp(argv[i], "schedule=replied") == 0) schedule = REPLIED;
        else if (strcmp(argv[i], "schedule=full") == 0) schedule = FULL;
        else if (strncmp(argv[i], "server=", 7) == 0) postmaster = atol(argv[i] + 7);
        else { fprintf(stderr, "%s: unknown option %s\n", argv[0], argv[i]); return 2; }
    }
    server_address.sin_family = AF_INET;
    if (!colon || inet_pton(AF_INET, (*colon = 0, argv[3]), &server_address.sin_addr) != 1 || connections < 1
        || connections > 64 || messages < 1 || size < 64 || window < 1 || window > FLOOR_MAX_GROUP || first_id < 1) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    server_address.sin_port = htons(atoi(colon + 1));
    /* Dot-stuffed (RFC 5321 4.5.2: a line that begins with "." gets another), ending in CRLF so that
     * ".\r\n" ends the data. */
    char *message = floor_message(size);
    wire = malloc(2 * size + 2);
    for (long i = 0; i < size; i++) {
        if (message[i] == '.' && (i == 0 || message[i - 1] == '\n')) wire[wire_length++] = '.';
        wire[wire_length++] = message[i];
    }
    if (wire_length < 2 || wire[wire_length - 2] != '\r' || wire[wire_length - 1] != '\n') {
        wire[wire_length++] = '\r';
        wire[wire_length++] = '\n';
    }
    sent_at = (long long)time(NULL);
    floor_store_open(&store, postgres, argv[2], NULL);
    for (long rows = 1; rows <= window; rows++) floor_store_prepare(&store, rows);
    static struct floor_snapshot before, after;
    floor_take_snapshot(postmaster, &before);
    pthread_t threads[64];
    double start = now(), start_cpu = cpu();
    for (int i = 0; i < connections; i++) pthread_create(&threads[i], NULL, connection, NULL);
    for (int i = 0; i < connections; i++) pthread_join(threads[i], NULL);
    double seconds = now() - start, spent = cpu() - start_cpu;
    floor_take_snapshot(postmaster, &after);
    printf("%.3f %.3f %.3f %ld\n", seconds, spent, floor_server_cpu(&before, &after), failed);
    floor_store_close(&store);
    return failed ? 1 : 0;
}
