// libpq, opened on first use rather than by the dynamic loader at start-up.
//
// Only a PostgreSQL store needs libpq, and libpq brings its own libraries (TLS, Kerberos, LDAP):
// linked normally, every run on SQLite paid for relocating them. This file defines the PQ
// functions the Swift code calls, with libpq's own names and signatures (the header declares
// them, so the compiler checks each one), and each forwards to the real function, found with
// dlopen/dlsym the first time. Call sites do not change.
//
// `cpq_load()` opens the library and resolves every function at once, so a missing or too old
// libpq is one clear message when the store is opened rather than a failure halfway through.
#include "CPostgreSQL.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>

// Every libpq function this file forwards; the pointer types come from the header's declarations.
#define CPQ_FUNCTIONS(X) \
    X(PQconnectdb) X(PQconnectdbParams) X(PQparameterStatus) X(PQfinish) X(PQstatus) X(PQtransactionStatus) X(PQerrorMessage) \
    X(PQbackendPID) X(PQsetClientEncoding) X(PQsetNoticeProcessor) \
    X(PQconninfoParse) X(PQconninfoFree) X(PQfreemem) X(PQunescapeBytea) \
    X(PQexec) X(PQexecParams) X(PQprepare) X(PQexecPrepared) X(PQsendQueryPrepared) X(PQdescribePrepared) \
    X(PQresultStatus) X(PQresultErrorMessage) X(PQresultErrorField) X(PQclear) \
    X(PQntuples) X(PQnfields) X(PQnparams) X(PQfname) X(PQftype) X(PQfformat) \
    X(PQgetvalue) X(PQgetisnull) X(PQgetlength) X(PQcmdStatus) X(PQcmdTuples) \
    X(PQputCopyData) X(PQputCopyEnd) X(PQgetResult) X(PQescapeIdentifier) X(PQescapeLiteral)

static struct {
#define CPQ_POINTER(name) __typeof__(&name) name;
    CPQ_FUNCTIONS(CPQ_POINTER)
#undef CPQ_POINTER
} real;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char failure[512];  // empty once the library is loaded and every function found

static void load(void) {
    // EVENTFILTER_LIBPQ names another file (a libpq built elsewhere); the default is the runtime
    // library's soname, which every distribution's libpq package installs.
    const char *name = getenv("EVENTFILTER_LIBPQ");
    if (name == NULL || *name == '\0') name = "libpq.so.5";
    void *library = dlopen(name, RTLD_NOW | RTLD_LOCAL);
    if (library == NULL) {
        snprintf(failure, sizeof failure, "the PostgreSQL store needs libpq, which could not be loaded: %s", dlerror());
        return;
    }
#define CPQ_RESOLVE(function) \
    real.function = (__typeof__(real.function))dlsym(library, #function); \
    if (real.function == NULL) { \
        snprintf(failure, sizeof failure, "the PostgreSQL store needs libpq 10 or later: %s has no %s", name, #function); \
        return; \
    }
    CPQ_FUNCTIONS(CPQ_RESOLVE)
#undef CPQ_RESOLVE
}

const char *cpq_load(void) {
    pthread_once(&once, load);
    return failure[0] == '\0' ? NULL : failure;
}

// A forwarder runs only after cpq_load() returned NULL; if code ever calls one without that,
// stopping with the reason beats jumping through a null pointer.
static void require(void) {
    const char *reason = cpq_load();
    if (reason != NULL) {
        fprintf(stderr, "error: %s\n", reason);
        abort();
    }
}

PGconn *PQconnectdb(const char *conninfo) { require(); return real.PQconnectdb(conninfo); }
PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values, int expand_dbname) {
    require();
    return real.PQconnectdbParams(keywords, values, expand_dbname);
}
const char *PQparameterStatus(const PGconn *conn, const char *paramName) { require(); return real.PQparameterStatus(conn, paramName); }
void PQfinish(PGconn *conn) { require(); real.PQfinish(conn); }
ConnStatusType PQstatus(const PGconn *conn) { require(); return real.PQstatus(conn); }
PGTransactionStatusType PQtransactionStatus(const PGconn *conn) { require(); return real.PQtransactionStatus(conn); }
char *PQerrorMessage(const PGconn *conn) { require(); return real.PQerrorMessage(conn); }
int PQbackendPID(const PGconn *conn) { require(); return real.PQbackendPID(conn); }
int PQsetClientEncoding(PGconn *conn, const char *encoding) { require(); return real.PQsetClientEncoding(conn, encoding); }
PQnoticeProcessor PQsetNoticeProcessor(PGconn *conn, PQnoticeProcessor proc, void *arg) {
    require();
    return real.PQsetNoticeProcessor(conn, proc, arg);
}

PQconninfoOption *PQconninfoParse(const char *conninfo, char **errmsg) { require(); return real.PQconninfoParse(conninfo, errmsg); }
void PQconninfoFree(PQconninfoOption *options) { require(); real.PQconninfoFree(options); }
void PQfreemem(void *ptr) { require(); real.PQfreemem(ptr); }
unsigned char *PQunescapeBytea(const unsigned char *strtext, size_t *retbuflen) {
    require();
    return real.PQunescapeBytea(strtext, retbuflen);
}
char *PQescapeIdentifier(PGconn *conn, const char *str, size_t len) { require(); return real.PQescapeIdentifier(conn, str, len); }
char *PQescapeLiteral(PGconn *conn, const char *str, size_t len) { require(); return real.PQescapeLiteral(conn, str, len); }

PGresult *PQexec(PGconn *conn, const char *query) { require(); return real.PQexec(conn, query); }
PGresult *PQexecParams(PGconn *conn, const char *command, int nParams, const Oid *paramTypes,
                       const char *const *paramValues, const int *paramLengths, const int *paramFormats,
                       int resultFormat) {
    require();
    return real.PQexecParams(conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat);
}
PGresult *PQprepare(PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes) {
    require();
    return real.PQprepare(conn, stmtName, query, nParams, paramTypes);
}
PGresult *PQexecPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
                         const int *paramLengths, const int *paramFormats, int resultFormat) {
    require();
    return real.PQexecPrepared(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat);
}
int PQsendQueryPrepared(PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues,
                        const int *paramLengths, const int *paramFormats, int resultFormat) {
    require();
    return real.PQsendQueryPrepared(conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat);
}
PGresult *PQdescribePrepared(PGconn *conn, const char *stmt) { require(); return real.PQdescribePrepared(conn, stmt); }
int PQputCopyData(PGconn *conn, const char *buffer, int nbytes) { require(); return real.PQputCopyData(conn, buffer, nbytes); }
int PQputCopyEnd(PGconn *conn, const char *errormsg) { require(); return real.PQputCopyEnd(conn, errormsg); }
PGresult *PQgetResult(PGconn *conn) { require(); return real.PQgetResult(conn); }

ExecStatusType PQresultStatus(const PGresult *res) { require(); return real.PQresultStatus(res); }
char *PQresultErrorMessage(const PGresult *res) { require(); return real.PQresultErrorMessage(res); }
char *PQresultErrorField(const PGresult *res, int fieldcode) { require(); return real.PQresultErrorField(res, fieldcode); }
void PQclear(PGresult *res) { require(); real.PQclear(res); }
int PQntuples(const PGresult *res) { require(); return real.PQntuples(res); }
int PQnfields(const PGresult *res) { require(); return real.PQnfields(res); }
int PQnparams(const PGresult *res) { require(); return real.PQnparams(res); }
char *PQfname(const PGresult *res, int field_num) { require(); return real.PQfname(res, field_num); }
Oid PQftype(const PGresult *res, int field_num) { require(); return real.PQftype(res, field_num); }
int PQfformat(const PGresult *res, int field_num) { require(); return real.PQfformat(res, field_num); }
char *PQgetvalue(const PGresult *res, int tup_num, int field_num) { require(); return real.PQgetvalue(res, tup_num, field_num); }
int PQgetisnull(const PGresult *res, int tup_num, int field_num) { require(); return real.PQgetisnull(res, tup_num, field_num); }
int PQgetlength(const PGresult *res, int tup_num, int field_num) { require(); return real.PQgetlength(res, tup_num, field_num); }
char *PQcmdStatus(PGresult *res) { require(); return real.PQcmdStatus(res); }
char *PQcmdTuples(PGresult *res) { require(); return real.PQcmdTuples(res); }
