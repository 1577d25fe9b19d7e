#include "fieldcase/json_bounds.hpp"

#include <string>

#include "fieldcase/record_schema.hpp"

namespace fieldcase {

Status check_json_bounds(std::string_view text, const JsonBounds& bounds) {
  if (text.size() > bounds.max_bytes) {
    return {Errc::invalid_argument,
            "the document is larger than " + std::to_string(bounds.max_bytes) + " bytes"};
  }
  int depth = 0;
  bool in_string = false;
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > bounds.max_depth) {
        return {Errc::invalid_argument, "the document is nested too deeply"};
      }
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  if (!is_valid_utf8(text)) return {Errc::invalid_argument, "the document is not valid UTF-8"};
  return {};
}

}  // namespace fieldcase
