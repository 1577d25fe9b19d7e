// How the core reaches the server: the host performs HTTP requests (OkHttp on Android,
// URLSession on iOS, cpp-httplib on Linux), so the core never opens sockets itself.
//
// post() sends one request and returns the server's answer, or a Status when no answer was
// received (connection refused, timeout, TLS failure: Errc::io). Compression is the
// transport's business: it may gzip the body and must hand back the decoded body.
// Implementations must be safe to call from the thread that runs the sync engine.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "fieldcase/status.hpp"

namespace fieldcase {

struct HttpResponse {
  int status = 0;
  std::string body;
  std::size_t bytes_sent = 0;      // on the wire, after compression
  std::size_t bytes_received = 0;  // on the wire, before decompression
};

class Transport {
 public:
  virtual ~Transport() = default;
  // `path` is absolute ("/v1/sync"); `bearer_token` goes into the Authorization header.
  virtual Result<HttpResponse> post(std::string_view path, std::string_view json_body,
                                    std::string_view bearer_token) = 0;
  // The sync run is over: close any connection kept alive for the next request. A tablet
  // syncs a few times a day, and an idle open connection holds a worker on the server.
  virtual void release_connection() {}
};

}  // namespace fieldcase
