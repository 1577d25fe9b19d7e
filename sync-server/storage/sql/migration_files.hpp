// The schema migrations of one SQL dialect, as the build embeds them (cmake/embed_sql.cmake
// turns storage/<dialect>/migrations/NNNN_name.sql into a table of these). One version number
// means one schema in every dialect. Immutable data; thread-safe.
#pragma once

#include <span>
#include <string_view>

namespace fieldcase::server::storage {

struct MigrationFile {
  int version = 0;
  std::string_view name;  // the file name without .sql, e.g. "0001_initial"
  std::string_view sql;   // the whole file; its first line is "-- <description>"

  // The first line's text without "-- ", or the name when the file starts otherwise.
  std::string_view description() const {
    std::string_view first = sql.substr(0, sql.find('\n'));
    if (first.substr(0, 3) != "-- ") return name;
    return first.substr(3);
  }
};

// The embedded migrations of each dialect, in version order from 1 without gaps.
std::span<const MigrationFile> sqlite_migration_files();
std::span<const MigrationFile> postgres_migration_files();

}  // namespace fieldcase::server::storage
