// Version and build information of the fieldcase core.
#pragma once

#include <string>
#include <string_view>

namespace fieldcase {

// Semantic version of this build, e.g. "0.1.0".
std::string_view version() noexcept;

// One line describing the build: version, compiler, SQLite and libsodium versions in use.
// Safe to log: it contains no configuration or secrets.
std::string build_info();

}  // namespace fieldcase
