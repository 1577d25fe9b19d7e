// The SQLite C API as seen by code that is built both into fieldcase::core and into the
// loadable extension (libfieldcase_sqlite.so), where every call goes through the host's
// sqlite3_api routine table.
#pragma once

#ifdef FIELDCASE_SQLITE_EXTENSION
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif
