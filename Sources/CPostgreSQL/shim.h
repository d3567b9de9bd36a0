// libpq's client header. Debian puts it in /usr/include/postgresql (pkg-config libpq adds that
// directory); other systems install it directly in the include path.
#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#else
#include <postgresql/libpq-fe.h>
#endif
