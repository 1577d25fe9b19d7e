// Entry point of libfieldcase_sqlite.so: lets the stock sqlite3 shell open fieldcase databases.
//
//   .load ./libfieldcase_sqlite
//   .open file:case.db?vfs=fieldcase&hexkey=<64 hex digits>
#include "storage/sqlite_api.hpp"
SQLITE_EXTENSION_INIT1

#include "storage/cipher_vfs.hpp"

extern "C" __attribute__((visibility("default"))) int sqlite3_fieldcasesqlite_init(
    sqlite3*, char** error_message, const sqlite3_api_routines* api) {
  SQLITE_EXTENSION_INIT2(api);
  int rc = fieldcase::storage::register_cipher_vfs();
  if (rc != SQLITE_OK) {
    *error_message = sqlite3_mprintf("fieldcase: cannot register the VFS");
    return rc;
  }
  // The VFS must outlive the connection that loaded it.
  return SQLITE_OK_LOAD_PERMANENTLY;
}
