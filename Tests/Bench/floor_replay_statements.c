/* A floor of Tests/Bench/stage_noop.sh on PostgreSQL: connects with libpq (the library eventfilter
 * opens) and runs, one round trip each, the statements a no-op `eventfilter run` sent, captured
 * from the server's log with their parameters written in as literals. What this program costs,
 * with the server's work for it, is what the store itself asks of a run that finds nothing to do.
 *
 *   floor_replay_statements CONNINFO FILE   FILE holds the statements, each ended by a NUL byte;
 *                                           exits 1 on a connection failure, 2 when a statement
 *                                           fails (naming it on standard error)
 */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv) {
    if (argc != 3) { fprintf(stderr, "usage: %s CONNINFO FILE\n", argv[0]); return 64; }
    FILE *file = fopen(argv[2], "rb");
    if (!file) { perror(argv[2]); return 66; }
    static char text[1 << 20];
    size_t length = fread(text, 1, sizeof text - 1, file);
    fclose(file);
    text[length] = 0;
    PGconn *connection = PQconnectdb(argv[1]);
    if (PQstatus(connection) != CONNECTION_OK) { fprintf(stderr, "%s", PQerrorMessage(connection)); return 1; }
    int failed = 0;
    for (size_t at = 0; at < length; at += strlen(text + at) + 1) {
        PGresult *result = PQexec(connection, text + at);
        ExecStatusType status = PQresultStatus(result);
        if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK) {
            fprintf(stderr, "%s: %s", text + at, PQerrorMessage(connection));
            failed = 1;
        }
        PQclear(result);
    }
    PQfinish(connection);
    return failed ? 2 : 0;
}
