#include "fieldcase/platform/http_transport.hpp"

#include <httplib.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <zlib.h>

#include <atomic>
#include <cstdio>
#include <vector>

namespace fieldcase::platform {

Result<std::string> gzip_compress(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) !=
      Z_OK) {
    return Status(Errc::internal, "gzip: cannot initialise");
  }
  std::string out(deflateBound(&zs, static_cast<uLong>(data.size())) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  if (rc != Z_STREAM_END) return Status(Errc::internal, "gzip: compression failed");
  return out;
}

Result<std::string> gzip_decompress(std::string_view data, std::size_t max_size) {
  z_stream zs{};
  if (inflateInit2(&zs, 15 + 32) != Z_OK) return Status(Errc::internal, "gzip: cannot initialise");
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  std::string out;
  char buf[16384];
  int rc = Z_OK;
  while (rc != Z_STREAM_END) {
    zs.next_out = reinterpret_cast<Bytef*>(buf);
    zs.avail_out = sizeof buf;
    rc = inflate(&zs, Z_NO_FLUSH);
    if (rc != Z_OK && rc != Z_STREAM_END) {
      inflateEnd(&zs);
      return Status(Errc::invalid_argument, "gzip: the data is not valid gzip");
    }
    out.append(buf, sizeof buf - zs.avail_out);
    if (out.size() > max_size) {
      inflateEnd(&zs);
      return Status(Errc::invalid_argument, "gzip: the data expands beyond the size limit");
    }
    if (rc != Z_STREAM_END && zs.avail_in == 0 && zs.avail_out != 0) {
      inflateEnd(&zs);
      return Status(Errc::invalid_argument, "gzip: the data is truncated");
    }
  }
  inflateEnd(&zs);
  return out;
}

namespace {

std::string pin_of(X509* cert) {
  X509_PUBKEY* key = X509_get_X509_PUBKEY(cert);
  const int len = i2d_X509_PUBKEY(key, nullptr);
  if (len <= 0) return {};
  std::vector<unsigned char> der(static_cast<std::size_t>(len));
  unsigned char* p = der.data();
  i2d_X509_PUBKEY(key, &p);
  unsigned char digest[SHA256_DIGEST_LENGTH];
  SHA256(der.data(), der.size(), digest);
  unsigned char b64[4 * ((SHA256_DIGEST_LENGTH + 2) / 3) + 1];
  const int n = EVP_EncodeBlock(b64, digest, SHA256_DIGEST_LENGTH);
  return std::string(reinterpret_cast<char*>(b64), static_cast<std::size_t>(n));
}

}  // namespace

Result<std::string> spki_pin(const std::string& pem_file) {
  std::FILE* f = std::fopen(pem_file.c_str(), "r");
  if (f == nullptr) return Status(Errc::not_found, "cannot read " + pem_file);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  if (cert == nullptr) return Status(Errc::invalid_argument, pem_file + " holds no certificate");
  std::string pin = pin_of(cert);
  X509_free(cert);
  if (pin.empty()) return Status(Errc::invalid_argument, pem_file + ": unreadable public key");
  return pin;
}

struct HttpTransport::Impl {
  HttpTransportOptions options;
  httplib::Client client;
  std::atomic<bool> pin_mismatch{false};

  explicit Impl(HttpTransportOptions o) : options(std::move(o)), client(options.base_url) {
    client.set_connection_timeout(options.connect_timeout);
    client.set_read_timeout(options.read_timeout);
    client.set_write_timeout(options.read_timeout);
    client.set_decompress(false);  // decoded here, so the bytes on the wire can be counted
    client.set_keep_alive(true);
    client.set_tcp_nodelay(true);  // small requests must not wait for delayed ACKs
    if (options.base_url.starts_with("https://")) {
      client.enable_server_certificate_verification(true);
      if (!options.ca_file.empty()) client.set_ca_cert_path(options.ca_file);
      if (!options.pins.empty() && client.ssl_context() != nullptr) {
        // Replaces the chain check of every handshake: the chain first, then the pin.
        SSL_CTX_set_cert_verify_callback(client.ssl_context(), &Impl::verify, this);
      }
    }
  }

  static int verify(X509_STORE_CTX* store, void* arg) {
    auto* self = static_cast<Impl*>(arg);
    if (X509_verify_cert(store) != 1) return 0;
    X509* leaf = X509_STORE_CTX_get0_cert(store);
    const std::string pin = leaf != nullptr ? pin_of(leaf) : std::string();
    for (const auto& p : self->options.pins) {
      if (!pin.empty() && p == pin) return 1;
    }
    self->pin_mismatch.store(true);
    X509_STORE_CTX_set_error(store, X509_V_ERR_APPLICATION_VERIFICATION);
    return 0;
  }
};

HttpTransport::HttpTransport(HttpTransportOptions options)
    : impl_(std::make_unique<Impl>(std::move(options))) {}
HttpTransport::~HttpTransport() = default;

void HttpTransport::release_connection() { impl_->client.stop(); }

Result<HttpResponse> HttpTransport::post(std::string_view path, std::string_view json_body,
                                         std::string_view bearer_token) {
  httplib::Headers headers{{"Authorization", "Bearer " + std::string(bearer_token)},
                           {"Accept-Encoding", "gzip"}};
  std::string body(json_body);
  if (impl_->options.compress) {
    auto gz = gzip_compress(json_body);
    if (!gz.ok()) return gz.status();
    body = std::move(gz.value());
    headers.emplace("Content-Encoding", "gzip");
  }
  impl_->pin_mismatch.store(false);
  auto res = impl_->client.Post(std::string(path), headers, body, "application/json");
  if (!res) {
    std::string why = httplib::to_string(res.error());
    if (impl_->pin_mismatch.load()) {
      why = "the server's public key does not match the pinned key";
    } else if (res.error() == httplib::Error::SSLServerVerification) {
      why = "the server's certificate is not trusted (" +
            std::string(X509_verify_cert_error_string(impl_->client.get_openssl_verify_result())) +
            ")";
    }
    return Status(Errc::io, "cannot reach " + impl_->options.base_url + ": " + why);
  }
  HttpResponse out;
  out.status = res->status;
  out.bytes_sent = body.size();
  out.bytes_received = res->body.size();
  if (res->get_header_value("Content-Encoding") == "gzip") {
    auto plain = gzip_decompress(res->body, 256u << 20);
    if (!plain.ok()) return Status(Errc::io, "the server's answer: " + plain.status().message());
    out.body = std::move(plain.value());
  } else {
    out.body = std::move(res->body);
  }
  return out;
}

}  // namespace fieldcase::platform
