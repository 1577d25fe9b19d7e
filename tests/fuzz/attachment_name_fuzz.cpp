// libFuzzer target: check_attachment_name(), the guard on every attachment file name. Whatever
// it accepts must be a single, plain path component: no separators, no "." or "..", no control
// characters, valid UTF-8, at most 255 bytes. A violation aborts (a finding).
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <string_view>

#include "fieldcase/record_schema.hpp"

using namespace fieldcase;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view name(reinterpret_cast<const char*>(data), size);
  Status st = check_attachment_name(name);
  if (!st.ok()) {
    if (st.code() != Errc::validation || !st.message().starts_with("attachment.filename: ")) {
      std::abort();
    }
    return 0;
  }
  if (name.empty() || name.size() > kMaxAttachmentNameBytes || !is_valid_utf8(name)) std::abort();
  if (name == "." || name == ".." || name.front() == '.') std::abort();
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f || c == '/' || c == '\\' || c == ':') std::abort();
  }
  // As a path it is exactly one relative component that stays in its directory.
  const std::filesystem::path p{std::string(name)};
  if (p.is_absolute() || p.has_parent_path() || p.filename() != p) std::abort();
  const auto joined = (std::filesystem::path("/attachments") / p).lexically_normal();
  if (joined.parent_path() != "/attachments") std::abort();
  return 0;
}
