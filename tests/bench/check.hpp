// For benchmark code that uses the core: a failed Status or Result ends the measurement with
// an exception naming what failed (the subcommand reports it and exits kExitFailure).
#pragma once

#include <stdexcept>
#include <string>
#include <utility>

#include "fieldcase/status.hpp"

namespace fieldcase::bench {

inline void check(const Status& st, const char* what) {
  if (!st.ok()) throw std::runtime_error(std::string(what) + ": " + st.to_string());
}

template <typename T>
T check(Result<T> r, const char* what) {
  if (!r.ok()) throw std::runtime_error(std::string(what) + ": " + r.status().to_string());
  return std::move(r.value());
}

}  // namespace fieldcase::bench
