// Which database engine a configured `database` names, decided in one place for the
// configuration (http/) and the store opener (storage/): a postgresql:// or postgres:// URI is
// PostgreSQL; anything else is the path of a SQLite file, the embedded default.
#pragma once

#include <string_view>

namespace fieldcase::server {

enum class StoreEngine { sqlite, postgres };

inline StoreEngine store_engine_of(std::string_view database) noexcept {
  constexpr std::string_view kSchemes[] = {"postgresql://", "postgres://"};
  for (std::string_view scheme : kSchemes) {
    if (database.substr(0, scheme.size()) == scheme) return StoreEngine::postgres;
  }
  return StoreEngine::sqlite;
}

}  // namespace fieldcase::server
