// The platform-service structs of the C API adapted to the core's interfaces (KeyStore,
// Transport, Clock), and the fc_http_response a host transport fills in.
#include <cstring>

#include "capi_internal.hpp"

struct fc_http_response {
  fieldcase::HttpResponse response;
};

namespace fieldcase::capi {

namespace {

// The response a transport callback may fill in on this thread (null outside callbacks): a
// pointer from the host is compared with it, never dereferenced unless it matches.
thread_local fc_http_response* current_response = nullptr;

class CKeyStore final : public KeyStore {
 public:
  explicit CKeyStore(const fc_keystore& s) : s_(s) {}

  Result<std::optional<SecureBytes>> get(std::string_view name) override {
    auto buffer = SecureBytes::allocate(FC_SECRET_MAX);
    if (!buffer.ok()) return buffer.status();
    const std::string n(name);
    std::size_t size = 0;
    bool found = false;
    fc_error error{};
    if (!s_.get(s_.context, n.c_str(), buffer->data(), buffer->size(), &size, &found, &error)) {
      return host_failure(error, "key store get");
    }
    if (!found) return std::optional<SecureBytes>();
    if (size > buffer->size()) return Status(Errc::invalid_argument, "key store: secret too large");
    auto secret = SecureBytes::copy_of(std::span(buffer->data(), size));
    if (!secret.ok()) return secret.status();
    return std::optional<SecureBytes>(std::move(secret.value()));
  }

  Status put(std::string_view name, std::span<const std::uint8_t> secret) override {
    if (secret.size() > FC_SECRET_MAX)
      return {Errc::invalid_argument, "key store: secret too large"};
    const std::string n(name);
    fc_error error{};
    if (!s_.put(s_.context, n.c_str(), secret.data(), secret.size(), &error)) {
      return host_failure(error, "key store put");
    }
    return {};
  }

  Status remove(std::string_view name) override {
    const std::string n(name);
    fc_error error{};
    if (!s_.remove(s_.context, n.c_str(), &error)) return host_failure(error, "key store remove");
    return {};
  }

 private:
  fc_keystore s_;
};

class CTransport final : public Transport {
 public:
  explicit CTransport(const fc_transport& s) : s_(s) {}

  Result<HttpResponse> post(std::string_view path, std::string_view json_body,
                            std::string_view bearer_token) override {
    const std::string p(path), token(bearer_token);
    fc_http_request request{p.c_str(), "application/json",
                            reinterpret_cast<const std::uint8_t*>(json_body.data()),
                            json_body.size(), token.c_str()};
    fc_http_response response;
    response.response.bytes_sent = json_body.size();
    fc_error error{};
    fc_http_response* outer = current_response;
    current_response = &response;
    const bool ok = s_.post(s_.context, &request, &response, &error);
    current_response = outer;
    if (!ok) return host_failure(error, "transport");
    if (response.response.status == 0) {
      return Status(Errc::io, "transport: the host reported no HTTP status");
    }
    if (response.response.bytes_received == 0) {
      response.response.bytes_received = response.response.body.size();
    }
    return std::move(response.response);
  }

 private:
  fc_transport s_;
};

class CClock final : public Clock {
 public:
  explicit CClock(const fc_clock& s) : s_(s) {}
  std::chrono::system_clock::time_point wall() const override {
    return std::chrono::system_clock::time_point(std::chrono::milliseconds(s_.wall_ms(s_.context)));
  }
  std::chrono::steady_clock::time_point monotonic() const override {
    return std::chrono::steady_clock::time_point(
        std::chrono::nanoseconds(s_.monotonic_ns(s_.context)));
  }

 private:
  fc_clock s_;
};

fc_http_response& in_callback(fc_http_response* response) {
  if (response == nullptr) throw ApiFailure(FC_API_NULL_ARGUMENT, "response is NULL");
  if (response != current_response) {
    throw ApiFailure(FC_API_NOT_IN_CALLBACK,
                     "the response may only be filled in during its transport callback");
  }
  return *response;
}

}  // namespace

std::unique_ptr<KeyStore> make_keystore(const fc_keystore& service) {
  if (service.get == nullptr || service.put == nullptr || service.remove == nullptr) {
    throw ApiFailure(FC_API_BAD_CONFIG, "keystore: get, put and remove are required");
  }
  return std::make_unique<CKeyStore>(service);
}

std::unique_ptr<Transport> make_transport(const fc_transport& service) {
  if (service.post == nullptr) throw ApiFailure(FC_API_BAD_CONFIG, "transport: post is required");
  return std::make_unique<CTransport>(service);
}

std::unique_ptr<Clock> make_clock(const fc_clock& service) {
  if (service.wall_ms == nullptr || service.monotonic_ns == nullptr) {
    throw ApiFailure(FC_API_BAD_CONFIG, "clock: wall_ms and monotonic_ns are required");
  }
  return std::make_unique<CClock>(service);
}

}  // namespace fieldcase::capi

using namespace fieldcase::capi;

extern "C" {

bool fc_http_response_set_status(fc_http_response* response, int32_t status, fc_error* out_error) {
  return guarded(out_error, [&]() -> fieldcase::Status {
    fc_http_response& r = in_callback(response);
    if (status < 100 || status > 599) {
      return {fieldcase::Errc::invalid_argument, "HTTP status out of range"};
    }
    r.response.status = status;
    return {};
  });
}

bool fc_http_response_set_body(fc_http_response* response, const uint8_t* body, size_t size,
                               fc_error* out_error) {
  return guarded(out_error, [&]() -> fieldcase::Status {
    fc_http_response& r = in_callback(response);
    if (body == nullptr && size != 0) throw ApiFailure(FC_API_NULL_ARGUMENT, "body is NULL");
    r.response.body.assign(reinterpret_cast<const char*>(body), size);
    return {};
  });
}

bool fc_http_response_set_wire_bytes(fc_http_response* response, uint64_t sent, uint64_t received,
                                     fc_error* out_error) {
  return guarded(out_error, [&]() -> fieldcase::Status {
    fc_http_response& r = in_callback(response);
    r.response.bytes_sent = static_cast<std::size_t>(sent);
    r.response.bytes_received = static_cast<std::size_t>(received);
    return {};
  });
}

}  // extern "C"
