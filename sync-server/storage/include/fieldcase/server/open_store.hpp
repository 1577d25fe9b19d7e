// Opens the ServerStore a configuration names: PostgreSQL for a postgresql:// or postgres://
// URI (PostgresServerStore), else the SQLite file at that path (SqliteServerStore), the
// embedded default (ports/store_engine.hpp decides which).
//
// Schema: SQLite migrates on open (one process, or a few on one machine, embedded). PostgreSQL
// is shared by several instances of possibly different builds, so opening never changes its
// schema: a schema older or newer than this build's is Errc::schema, with a message telling
// the operator to run `fieldcase-server migrate` (migrate_server_store(), which applies the
// pending migrations under an advisory lock, once however many instances start together).
#pragma once

#include <cstddef>
#include <memory>
#include <string>

#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct ServerStoreOptions {
  std::string database;       // a PostgreSQL URI or a SQLite file path
  std::size_t pool_size = 4;  // PostgreSQL connections at most (a SQLite store has one)
};

// The store, its schema checked as above; it is thread-safe only on PostgreSQL (see
// store_is_thread_safe).
Result<std::unique_ptr<ServerStore>> open_server_store(const ServerStoreOptions& options);

// Whether one store of this engine may be used from several threads at once (PostgreSQL: a
// pool of connections) or needs one per thread of use (SQLite: one connection).
bool store_is_thread_safe(const ServerStoreOptions& options);

// The schema versions before and after `migrate`.
struct SchemaChange {
  int before = 0;
  int after = 0;
};

// Brings the database's schema to this build's version.
Result<SchemaChange> migrate_server_store(const ServerStoreOptions& options);

// Readiness: the store's database answers and its schema is this build's. Errc::unavailable
// (with the reason) when the database cannot be reached, Errc::schema when the schema differs.
Status check_store_ready(ServerStore& store);

}  // namespace fieldcase::server
