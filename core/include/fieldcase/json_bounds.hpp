// The bounds every JSON document from outside (a sync request, a web request body) must meet
// before a parser sees it: one check for every endpoint, so that no body can make the parser
// recurse or allocate beyond them.
#pragma once

#include <cstddef>
#include <string_view>

#include "fieldcase/status.hpp"

namespace fieldcase {

struct JsonBounds {
  std::size_t max_bytes = 8u << 20;  // the whole document
  int max_depth = 32;                // arrays and objects nested in one another
};

// Errc::invalid_argument ("the document is larger than N bytes", "the document is nested too
// deeply", "the document is not valid UTF-8") when `text` exceeds a bound; a linear scan that
// allocates nothing unless it fails. Whether the text is JSON at all is the parser's to say.
Status check_json_bounds(std::string_view text, const JsonBounds& bounds);

}  // namespace fieldcase
