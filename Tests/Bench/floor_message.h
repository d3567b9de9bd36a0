/* The message the SMTP floors of Tests/Bench/ send (floor_smtp_curl.c, floor_smtp_window.c): SIZE
 * bytes shaped like ours, a few header lines, a blank line, then body lines of 76 characters. */
#ifndef FLOOR_MESSAGE_H
#define FLOOR_MESSAGE_H
#include <stdlib.h>
#include <string.h>

/* A message of SIZE bytes (SIZE >= 64), newly allocated. */
static char *floor_message(long size) {
    char *body = malloc(size);
    const char *head = "From: Bench <bench@example.com>\r\nSubject: Article with a title of ordinary length\r\n"
                       "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n";
    long at = strlen(head) < (size_t)size - 2 ? (long)strlen(head) : 0;
    memcpy(body, head, at);
    while (at < size) {
        long line = size - at - 2 < 76 ? size - at - 2 : 76;
        if (line < 0) { body[at++] = '\n'; continue; }
        memset(body + at, 'x', line);
        at += line;
        body[at++] = '\r';
        body[at++] = '\n';
    }
    return body;
}
#endif
