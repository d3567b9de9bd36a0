/* The libcurl floor of Tests/Bench/stage_smtp.sh: what libcurl alone costs to send the messages
 * over SMTP, with nothing of ours around it (no store, no composing, no window, no records).
 * It is how eventfilter's SMTP transport sent before it spoke the mail transaction itself over the
 * connection libcurl opens: CONNECTIONS threads, each with one easy handle reused for every message
 * it sends (the connection stays open between transfers, no QUIT until the end), each message an
 * upload through a read callback with MAIL FROM and one RCPT TO, as that transport set them.
 *
 *   floor_smtp_curl URL CONNECTIONS MESSAGES SIZE [debug] [header] [buffer=BYTES]
 *       URL          smtp://127.0.0.1:PORT
 *       SIZE         bytes of each message (header and body lines of at most 78 characters, CRLF)
 *       debug        also CURLOPT_VERBOSE with a debug callback that looks at each line (as the
 *                    transport did, to quote the server's reply); without it, none
 *       header       also CURLOPT_HEADERFUNCTION, which libcurl calls with every reply line
 *       buffer=BYTES CURLOPT_UPLOAD_BUFFERSIZE (default: libcurl's own, 64 KiB)
 *   prints "SECONDS CPU_SECONDS FAILED": wall seconds of the sending, CPU (user + system, every
 *   thread) of the same, and the number of transfers that failed (0 expected).
 */
#define _GNU_SOURCE
#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "floor_clock.h"
#include "floor_message.h"

static const char *url;
static long messages, size, buffer_size;
static int debug, header;
static char *body;  /* one message of SIZE bytes; every transfer sends it */
static long next_message;
static long failed;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

struct upload { long offset; };

static size_t read_body(char *buffer, size_t item, size_t count, void *context) {
    struct upload *upload = context;
    size_t left = size - upload->offset, n = item * count < left ? item * count : left;
    memcpy(buffer, body + upload->offset, n);
    upload->offset += n;
    return n;
}

/* What the transport's debug callback does at the least: look at each line that came in. */
static int watch(CURL *handle, curl_infotype kind, char *data, size_t length, void *context) {
    (void)handle;
    if (kind == CURLINFO_HEADER_IN && length >= 4) *(volatile char *)context = data[3];
    return 0;
}

/* The same, through CURLOPT_HEADERFUNCTION: libcurl hands it every reply line, no VERBOSE needed. */
static size_t see_header(char *data, size_t item, size_t count, void *context) {
    if (item * count >= 4) *(volatile char *)context = data[3];
    return item * count;
}

static void *connection(void *unused) {
    (void)unused;
    CURL *handle = curl_easy_init();
    struct upload upload;
    char seen = 0;
    curl_easy_setopt(handle, CURLOPT_URL, url);
    curl_easy_setopt(handle, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(handle, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(handle, CURLOPT_READFUNCTION, read_body);
    curl_easy_setopt(handle, CURLOPT_READDATA, &upload);
    curl_easy_setopt(handle, CURLOPT_INFILESIZE, size);
    curl_easy_setopt(handle, CURLOPT_MAIL_FROM, "<bench@example.com>");
    if (buffer_size) curl_easy_setopt(handle, CURLOPT_UPLOAD_BUFFERSIZE, buffer_size);
    if (debug) {
        curl_easy_setopt(handle, CURLOPT_DEBUGFUNCTION, watch);
        curl_easy_setopt(handle, CURLOPT_DEBUGDATA, &seen);
        curl_easy_setopt(handle, CURLOPT_VERBOSE, 1L);
    }
    if (header) {
        curl_easy_setopt(handle, CURLOPT_HEADERFUNCTION, see_header);
        curl_easy_setopt(handle, CURLOPT_HEADERDATA, &seen);
    }
    for (;;) {
        pthread_mutex_lock(&lock);
        long number = next_message < messages ? next_message++ : -1;
        pthread_mutex_unlock(&lock);
        if (number < 0) break;
        char recipient[64];
        snprintf(recipient, sizeof recipient, "<user%ld@example.com>", number % 100 + 1);
        struct curl_slist *rcpt = curl_slist_append(NULL, recipient);
        curl_easy_setopt(handle, CURLOPT_MAIL_RCPT, rcpt);
        upload.offset = 0;
        if (curl_easy_perform(handle) != CURLE_OK) {
            pthread_mutex_lock(&lock);
            failed++;
            pthread_mutex_unlock(&lock);
        }
        curl_easy_setopt(handle, CURLOPT_MAIL_RCPT, NULL);
        curl_slist_free_all(rcpt);
    }
    curl_easy_cleanup(handle);  /* QUIT */
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 5) {
        fprintf(stderr, "usage: %s URL CONNECTIONS MESSAGES SIZE [debug] [header] [buffer=BYTES]\n", argv[0]);
        return 2;
    }
    url = argv[1];
    int connections = atoi(argv[2]);
    messages = atol(argv[3]);
    size = atol(argv[4]);
    for (int i = 5; i < argc; i++) {
        if (strcmp(argv[i], "debug") == 0) debug = 1;
        else if (strcmp(argv[i], "header") == 0) header = 1;
        else if (strncmp(argv[i], "buffer=", 7) == 0) buffer_size = atol(argv[i] + 7);
    }
    if (connections < 1 || connections > 64 || messages < 1 || size < 64) {
        fprintf(stderr, "%s: bad arguments\n", argv[0]);
        return 2;
    }
    body = floor_message(size);
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) return 1;
    pthread_t threads[64];
    double start = now(), start_cpu = cpu();
    for (int i = 0; i < connections; i++) pthread_create(&threads[i], NULL, connection, NULL);
    for (int i = 0; i < connections; i++) pthread_join(threads[i], NULL);
    printf("%.3f %.3f %ld\n", now() - start, cpu() - start_cpu, failed);
    return failed ? 1 : 0;
}
