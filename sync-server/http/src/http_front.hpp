// The front of the HTTP server: what stands between a socket and cpp-httplib's request
// handling. Internal header (http_server.cpp only).
//
// cpp-httplib 0.11.4 gives every open connection a thread from the moment it is accepted, reads
// a header line of any length, and reads chunked bodies past its payload limit. So the server
// does not let it read from a socket first: a FrontServer accepts through httplib's listening
// socket, but every connection goes to one poll() thread that reads its request head
//   - within `head_timeout` from the connection (or, on a kept-alive connection, from its first
//     byte after `keep_alive` idle at most), and within `max_head_bytes`;
//   - with at most `max_pending_per_address` connections of one peer address and `max_pending`
//     in all waiting for their head (beyond, the oldest of that address, or of all, is closed);
// and refuses at once, before any body byte is read: a head too large (431), a chunked or
// otherwise transfer-coded body (411 length_required), a malformed Content-Length (400), a
// declared body larger than the endpoint accepts (413 too_large), and a body that would take
// the bodies in flight past `max_inflight_body_bytes` (503 busy). Only a complete, acceptable
// head is handed to a worker of the connection pool, which runs httplib's request handling on a
// stream replaying the head; that stream ends the body at its declared length and at
// `body_deadline`. A kept-alive connection goes back to the poll thread between requests, so
// idle and slow connections hold no thread at all.
//
// TLS: the handshake is done by the poll thread too (non-blocking), within the same deadline.
#pragma once

#include <httplib.h>
#include <openssl/ssl.h>

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace fieldcase::server::detail {

struct FrontOptions {
  std::size_t max_head_bytes = 16u << 10;
  std::chrono::milliseconds head_timeout{5000};
  std::chrono::milliseconds keep_alive{2000};
  std::chrono::milliseconds read_timeout{30000};  // one read of a body, or one write
  std::chrono::milliseconds write_timeout{30000};
  std::chrono::milliseconds body_deadline{60000};  // the whole body after the head
  std::size_t max_pending = 1024;
  std::size_t max_pending_per_address = 64;
  std::size_t max_inflight_body_bytes = 64u << 20;
  std::size_t max_requests_per_connection = 100;
  std::size_t threads = 64;      // connection pool: requests handled at once
  std::size_t max_queued = 256;  // requests waiting for a worker; more get 503 busy
};

// The largest body the endpoint of a request head accepts.
using BodyLimit = std::function<std::size_t(std::string_view method, std::string_view path)>;
// Told of each request the front refuses itself (never with header values): an audit event
// name ("too_large", "bad_request", "busy"), the peer address and a detail.
using FrontRefusal =
    std::function<void(std::string_view event, const std::string& peer, const std::string& detail)>;

class FrontServer final : public httplib::Server {
 public:
  // `tls` (owned; may be null for plain HTTP) is a server context ready to use.
  FrontServer(FrontOptions options, BodyLimit limit, FrontRefusal refused, SSL_CTX* tls);
  ~FrontServer() override;
  FrontServer(const FrontServer&) = delete;
  FrontServer& operator=(const FrontServer&) = delete;

  bool is_valid() const override;

  // Serves until stop() (httplib's), then lets requests in hand finish and closes the rest.
  bool serve();

  // Whether the calling thread answers a request the pool had no room for (503 busy).
  static bool overflowing();

  struct Conn;
  struct Front;

 private:
  bool process_and_close_socket(socket_t sock) override;

  std::unique_ptr<Front> front_;
};

// A server TLS context for a PEM certificate chain and private key, or null if either cannot
// be read or they do not match.
SSL_CTX* make_tls_context(const std::string& cert_file, const std::string& key_file);

}  // namespace fieldcase::server::detail
