// The Transport used on Linux, in tests and by the command-line client: cpp-httplib over HTTP or
// HTTPS, gzip-compressing request bodies and accepting gzip answers, counting bytes on the wire.
//
// HTTPS always verifies the server's certificate chain and host name, against the system CA
// store or `ca_file`. With `pins`, the server's public key must also be one of them: the
// base64 SHA-256 of its DER SubjectPublicKeyInfo (`spki_pin()` computes it from a PEM file).
// A refused certificate or pin is Errc::io ("cannot reach ..."), like any failed connection.
// One instance per thread (each keeps its own connection).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "fieldcase/transport.hpp"

namespace fieldcase::platform {

struct HttpTransportOptions {
  std::string base_url;           // "http://127.0.0.1:8480" or "https://sync.example.gov.uk"
  std::string ca_file;            // PEM bundle; empty for the system store
  std::vector<std::string> pins;  // accepted SPKI pins (base64 SHA-256); empty: no pinning
  std::chrono::seconds connect_timeout{10};
  std::chrono::seconds read_timeout{60};
  bool compress = true;
};

class HttpTransport final : public Transport {
 public:
  explicit HttpTransport(HttpTransportOptions options);
  ~HttpTransport() override;
  HttpTransport(const HttpTransport&) = delete;
  HttpTransport& operator=(const HttpTransport&) = delete;

  Result<HttpResponse> post(std::string_view path, std::string_view json_body,
                            std::string_view bearer_token) override;
  void release_connection() override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The SPKI pin of the first certificate in a PEM file: base64 of the SHA-256 of its DER
// SubjectPublicKeyInfo (the value `openssl x509 -pubkey | openssl pkey -pubin -outform der |
// openssl dgst -sha256 -binary | base64` prints).
Result<std::string> spki_pin(const std::string& pem_file);

// gzip helpers shared with tests and the server's clients.
Result<std::string> gzip_compress(std::string_view data);
Result<std::string> gzip_decompress(std::string_view data, std::size_t max_size);

}  // namespace fieldcase::platform
