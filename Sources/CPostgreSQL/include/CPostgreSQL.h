#ifndef CPOSTGRESQL_H
#define CPOSTGRESQL_H
// libpq's client header. Debian puts it in /usr/include/postgresql (libpq-dev); other systems
// install it directly in the include path.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif

/// Opens libpq (the file EVENTFILTER_LIBPQ names, else libpq.so.5) and finds every function the
/// program calls, once per process; NULL when it is ready, else why not, in one line. The program
/// is not linked against libpq, so only a PostgreSQL store pays for loading it: call this before
/// any other PQ function.
const char *cpq_load(void);
#endif
