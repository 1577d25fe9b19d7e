#include "command.hpp"

#include <charconv>
#include <ostream>

namespace fieldcase::cli {

bool wants_help(Args args) {
  for (std::string_view arg : args) {
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

std::optional<std::int32_t> parse_int(std::string_view text) {
  if (text.empty() || text == "-") return std::nullopt;
  std::int32_t value = 0;
  const char* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc() || ptr != end) return std::nullopt;
  return value;
}

int usage_error(Io& io, std::string_view command, std::string_view message) {
  io.err << "fieldcase " << command << ": " << message << "\n"
         << "Try 'fieldcase " << command << " --help'.\n";
  return kExitUsage;
}

}  // namespace fieldcase::cli
