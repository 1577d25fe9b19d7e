// libFuzzer target: the sync protocol decoders, which read every byte a device or a server
// sends. Decoding must never crash, hang or throw, and whatever decodes must survive a round
// trip through encode() unchanged in its counts.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "fieldcase/sync_protocol.hpp"

using namespace fieldcase;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto req = sync::decode_request(text); req.ok()) {
    auto again = sync::decode_request(sync::encode(*req));
    if (!again.ok() || again->transactions.size() != req->transactions.size() ||
        again->cursor != req->cursor) {
      std::abort();  // what the server accepted, it must be able to write back
    }
  }
  if (auto res = sync::decode_response(text); res.ok()) {
    auto again = sync::decode_response(sync::encode(*res));
    if (!again.ok() || again->changes.size() != res->changes.size() ||
        again->instructions.size() != res->instructions.size()) {
      std::abort();
    }
  }
  (void)sync::decode_error(text);
  return 0;
}
