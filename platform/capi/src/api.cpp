// The C API's plumbing: version, errors and their names, memory handed to the caller, and the
// registry that turns handles into devices.
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "capi_internal.hpp"
#include "fieldcase/version.hpp"

namespace fieldcase::capi {

namespace {

// Handles are (serial << 8) | kDeviceTag: never a valid address of ours, never reused (the
// serial only grows), and a handle of another kind (or garbage) is simply not in the map.
constexpr std::uintptr_t kDeviceTag = 0xD5;

struct Registry {
  std::mutex mutex;
  std::uintptr_t next = 1;
  std::unordered_map<std::uintptr_t, std::shared_ptr<Device>> devices;
};

Registry& registry() {
  static Registry* r = new Registry();  // never destroyed: handles may be released at exit
  return *r;
}

struct HostFailureSlot {
  bool kept = false;
  fc_error error{};
  std::string message;  // of the Status it became: the failure the entry point reports?
};
thread_local HostFailureSlot host_slot;

}  // namespace

void clear_error(fc_error* error) noexcept {
  if (error == nullptr) return;
  error->domain = FC_DOMAIN_NONE;
  error->code = 0;
  error->message[0] = '\0';
}

void set_error(fc_error* error, int32_t domain, int32_t code, std::string_view message) noexcept {
  if (error == nullptr) return;
  error->domain = domain;
  error->code = code;
  std::size_t n = std::min(message.size(), sizeof error->message - 1);
  // Do not cut a UTF-8 sequence in half.
  while (n > 0 && n < message.size() && (static_cast<unsigned char>(message[n]) & 0xC0) == 0x80) {
    --n;
  }
  std::memcpy(error->message, message.data(), n);
  error->message[n] = '\0';
}

void set_error(fc_error* error, const Status& status) noexcept {
  set_error(error, FC_DOMAIN_FIELDCASE, static_cast<int32_t>(status.code()), status.message());
}

Status host_failure(const fc_error& reported, std::string_view service) {
  const std::string message =
      std::string(service) + ": " +
      (reported.message[0] != '\0' ? std::string(reported.message) : "the host reported a failure");
  if (reported.domain == FC_DOMAIN_HOST) {
    host_slot.kept = true;
    host_slot.error = reported;
    host_slot.message = message;
    return {Errc::io, message};
  }
  if (reported.domain == FC_DOMAIN_FIELDCASE && reported.code > 0) {
    return {static_cast<Errc>(reported.code), message};
  }
  return {Errc::io, message};
}

void reset_host_failure() noexcept { host_slot.kept = false; }

const fc_error* kept_host_failure(const Status& status) noexcept {
  // Only when the failure being reported is the host's own (possibly wrapped by the core, as
  // the sync engine does after its attempts), not a later, different one.
  return host_slot.kept && status.message().find(host_slot.message) != std::string::npos
             ? &host_slot.error
             : nullptr;
}

char* to_c_string(const std::string& text) {
  auto* out = static_cast<char*>(std::malloc(text.size() + 1));
  if (out == nullptr) throw std::bad_alloc();
  std::memcpy(out, text.c_str(), text.size() + 1);
  return out;
}

fc_device* register_device(std::shared_ptr<Device> device) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  const std::uintptr_t handle = (r.next++ << 8) | kDeviceTag;
  r.devices.emplace(handle, std::move(device));
  return reinterpret_cast<fc_device*>(handle);
}

std::shared_ptr<Device> find_device(fc_device* handle) {
  if (handle == nullptr) return nullptr;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.devices.find(reinterpret_cast<std::uintptr_t>(handle));
  return it == r.devices.end() ? nullptr : it->second;
}

std::shared_ptr<Device> unregister_device(fc_device* handle) {
  if (handle == nullptr) return nullptr;
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  auto it = r.devices.find(reinterpret_cast<std::uintptr_t>(handle));
  if (it == r.devices.end()) return nullptr;
  auto device = std::move(it->second);
  r.devices.erase(it);
  return device;
}

Lease::Lease(fc_device* handle) : device_(find_device(handle)) {
  if (!device_) {
    throw ApiFailure(FC_API_INVALID_HANDLE, handle == nullptr
                                                ? "device is NULL"
                                                : "device handle is not live (released?)");
  }
  bool expected = false;
  if (!device_->busy.compare_exchange_strong(expected, true)) {
    device_.reset();
    throw ApiFailure(FC_API_BUSY, "the device is in use by a call on another thread");
  }
}

Lease::~Lease() {
  if (device_) device_->busy.store(false);
}

}  // namespace fieldcase::capi

using namespace fieldcase::capi;

extern "C" {

int32_t fc_api_version(void) { return FC_API_VERSION; }

const char* fc_version(void) {
  // Built once, without letting an allocation failure escape into C.
  static const std::string* text = []() noexcept -> const std::string* {
    try {
      return new std::string(fieldcase::version());
    } catch (...) {
      return nullptr;
    }
  }();
  return text != nullptr ? text->c_str() : "unknown";
}

const char* fc_error_code_name(int32_t domain, int32_t code) {
  switch (domain) {
    case FC_DOMAIN_NONE:
      return code == 0 ? "ok" : "unknown";
    case FC_DOMAIN_FIELDCASE:
      // The same names as fieldcase::errc_name (a [C] test keeps them equal).
      switch (code) {
        case FC_ERR_INVALID_ARGUMENT:
          return "invalid_argument";
        case FC_ERR_NOT_FOUND:
          return "not_found";
        case FC_ERR_ALREADY_EXISTS:
          return "already_exists";
        case FC_ERR_UNSUPPORTED:
          return "unsupported";
        case FC_ERR_INTERNAL:
          return "internal";
        case FC_ERR_IO:
          return "io";
        case FC_ERR_DISK_FULL:
          return "disk_full";
        case FC_ERR_BUSY:
          return "busy";
        case FC_ERR_VALIDATION:
          return "validation";
        case FC_ERR_UNAUTHENTICATED:
          return "unauthenticated";
        case FC_ERR_CANCELLED:
          return "cancelled";
        case FC_ERR_FORBIDDEN:
          return "forbidden";
        case FC_ERR_TOO_MANY_ATTEMPTS:
          return "too_many_attempts";
        case FC_ERR_UNAVAILABLE:
          return "unavailable";
        case FC_ERR_INTEGRITY:
          return "integrity";
        case FC_ERR_WRONG_KEY:
          return "wrong_key";
        case FC_ERR_WRONG_PIN:
          return "wrong_pin";
        case FC_ERR_WIPED:
          return "wiped";
        case FC_ERR_LOCKED:
          return "locked";
        case FC_ERR_NOT_A_DATABASE:
          return "not_a_database";
        case FC_ERR_SCHEMA:
          return "schema";
        case FC_ERR_OFFLINE_LOCKED:
          return "offline_locked";
        case FC_ERR_WEAK_PIN:
          return "weak_pin";
        default:
          return "unknown";
      }
    case FC_DOMAIN_API:
      switch (code) {
        case FC_API_NULL_ARGUMENT:
          return "null_argument";
        case FC_API_INVALID_HANDLE:
          return "invalid_handle";
        case FC_API_BAD_JSON:
          return "bad_json";
        case FC_API_BUSY:
          return "busy";
        case FC_API_BAD_CONFIG:
          return "bad_config";
        case FC_API_OUT_OF_MEMORY:
          return "out_of_memory";
        case FC_API_UNEXPECTED:
          return "unexpected";
        case FC_API_NOT_IN_CALLBACK:
          return "not_in_callback";
        default:
          return "unknown";
      }
    case FC_DOMAIN_HOST:
      return "host";
    default:
      return "unknown";
  }
}

void fc_error_set(fc_error* error, int32_t domain, int32_t code, const char* message) {
  set_error(error, domain, code, message == nullptr ? std::string_view() : message);
}

void fc_string_release(char* text) { std::free(text); }

void fc_bytes_release(uint8_t* bytes) { std::free(bytes); }

}  // extern "C"
