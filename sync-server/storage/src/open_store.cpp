#include "fieldcase/server/open_store.hpp"

#include <filesystem>

#include "fieldcase/server/ports/store_engine.hpp"
#include "fieldcase/server/postgres_server_store.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/store.hpp"

namespace fieldcase::server {
namespace {

PostgresOptions postgres_options(const ServerStoreOptions& options) {
  PostgresOptions o;
  o.conninfo = options.database;
  o.pool_size = options.pool_size;
  o.migrate = false;
  return o;
}

// The operator's next step for a schema this build cannot serve.
Status schema_refused(int found, int expected) {
  if (found > expected) {
    return {Errc::schema, "the database schema is version " + std::to_string(found) +
                              ", newer than this build's " + std::to_string(expected) +
                              ": run the fieldcase-server that ran `fieldcase-server migrate` "
                              "on it, or a newer one"};
  }
  return {Errc::schema, "the database schema is version " + std::to_string(found) +
                            "; this build needs version " + std::to_string(expected) +
                            ": run `fieldcase-server migrate` first"};
}

// The schema version of a SQLite file, without migrating it (0 when there is none).
Result<int> sqlite_schema_version(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return 0;
  StoreOptions o;
  o.path = path;
  o.create = false;
  auto store = Store::open_plain(o);
  if (!store.ok()) return store.status();
  return (*store)->schema_version();
}

}  // namespace

bool store_is_thread_safe(const ServerStoreOptions& options) {
  return store_engine_of(options.database) == StoreEngine::postgres;
}

Result<std::unique_ptr<ServerStore>> open_server_store(const ServerStoreOptions& options) {
  if (store_engine_of(options.database) == StoreEngine::sqlite) {
    auto store = SqliteServerStore::open(options.database);
    if (!store.ok()) return store.status();
    return std::unique_ptr<ServerStore>(std::move(*store));
  }
  auto store = PostgresServerStore::open(postgres_options(options));
  if (!store.ok()) {
    const Status& st = store.status();
    if (st.code() != Errc::schema || st.message().find("fieldcase-server migrate") !=
                                         std::string::npos) {
      return st;
    }
    // A schema newer than this build's: an instance of a newer build migrated it.
    return Status(Errc::schema, st.message() +
                                    "; run this database with the newer fieldcase-server that "
                                    "ran `fieldcase-server migrate` on it");
  }
  return std::unique_ptr<ServerStore>(std::move(*store));
}

Result<SchemaChange> migrate_server_store(const ServerStoreOptions& options) {
  if (store_engine_of(options.database) == StoreEngine::sqlite) {
    auto before = sqlite_schema_version(options.database);
    if (!before.ok()) return before.status();
    auto store = SqliteServerStore::open(options.database);
    if (!store.ok()) return store.status();
    auto after = (*store)->schema_version();
    if (!after.ok()) return after.status();
    return SchemaChange{*before, *after};
  }
  auto migrated = PostgresServerStore::migrate(postgres_options(options));
  if (!migrated.ok()) return migrated.status();
  return SchemaChange{migrated->before, migrated->after};
}

Status check_store_ready(ServerStore& store) {
  int version = 0;
  int expected = 0;
  if (auto* pg = dynamic_cast<PostgresServerStore*>(&store)) {
    auto v = pg->schema_version();
    if (!v.ok()) return {Errc::unavailable, "the database does not answer: " + v.status().message()};
    version = *v;
    expected = PostgresServerStore::latest_schema_version();
  } else if (auto* lite = dynamic_cast<SqliteServerStore*>(&store)) {
    auto v = lite->schema_version();
    if (!v.ok()) return {Errc::unavailable, "the database does not answer: " + v.status().message()};
    version = *v;
    expected = SqliteServerStore::latest_schema_version();
  } else {
    return {Errc::invalid_argument, "not a store of this build"};
  }
  if (version != expected) return schema_refused(version, expected);
  return {};
}

}  // namespace fieldcase::server
