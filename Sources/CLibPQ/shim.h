// libpq, the PostgreSQL C client library (Debian: libpq-dev).
#include <libpq-fe.h>
