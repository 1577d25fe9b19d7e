// What the C API's implementation files share: the failure type API misuse is raised with, the
// wrapper that turns every outcome of an entry point into an fc_error (so no exception crosses
// the C boundary), the handle registry, the device object and the service adapters.
#pragma once

#include <atomic>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase.h"
#include "fieldcase/clock.hpp"
#include "fieldcase/device_session.hpp"
#include "fieldcase/keystore.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/status.hpp"
#include "fieldcase/transport.hpp"

namespace fieldcase::capi {

// A misuse of the API (FC_DOMAIN_API) or a host-reported failure; thrown inside the library
// only and caught by guarded() at the entry point.
class ApiFailure : public std::runtime_error {
 public:
  ApiFailure(int32_t domain, int32_t code, const std::string& message)
      : std::runtime_error(message), domain_(domain), code_(code) {}
  ApiFailure(fc_api_code code, const std::string& message)
      : ApiFailure(FC_DOMAIN_API, code, message) {}
  int32_t domain() const { return domain_; }
  int32_t code() const { return code_; }

 private:
  int32_t domain_;
  int32_t code_;
};

void clear_error(fc_error* error) noexcept;
void set_error(fc_error* error, int32_t domain, int32_t code, std::string_view message) noexcept;
void set_error(fc_error* error, const Status& status) noexcept;

// Throws ApiFailure(FC_API_NULL_ARGUMENT) naming `what` when p is null.
template <typename T>
T* require(T* p, const char* what) {
  if (p == nullptr) throw ApiFailure(FC_API_NULL_ARGUMENT, std::string(what) + " is NULL");
  return p;
}

// A host service's failure, as a Status the core can carry: the code is the host's when it
// reported an FC_DOMAIN_FIELDCASE code, else Errc::io. An FC_DOMAIN_HOST failure is also kept
// for this thread so the entry point reports the host's own domain and code.
Status host_failure(const fc_error& reported, std::string_view service);
// Forgets any kept host failure (at the start of an entry point).
void reset_host_failure() noexcept;
// The host failure kept on this thread since the last reset, if `status` is the one it became.
const fc_error* kept_host_failure(const Status& status) noexcept;

// Runs `body` (returning Status) for an entry point: success clears *error and returns true;
// a failed Status, an ApiFailure or any exception fills *error and returns false.
template <typename Body>
bool guarded(fc_error* error, Body&& body) noexcept {
  try {
    reset_host_failure();
    Status st = body();
    if (st.ok()) {
      clear_error(error);
      return true;
    }
    if (const fc_error* host = kept_host_failure(st)) {
      set_error(error, host->domain, host->code, st.message());
    } else {
      set_error(error, st);
    }
  } catch (const ApiFailure& e) {
    set_error(error, e.domain(), e.code(), e.what());
  } catch (const std::bad_alloc&) {
    set_error(error, FC_DOMAIN_API, FC_API_OUT_OF_MEMORY, "out of memory");
  } catch (const std::exception& e) {
    set_error(error, FC_DOMAIN_API, FC_API_UNEXPECTED, std::string("unexpected: ") + e.what());
  } catch (...) {
    set_error(error, FC_DOMAIN_API, FC_API_UNEXPECTED, "unexpected failure");
  }
  return false;
}

// A copy of `text` in memory the caller releases with fc_string_release.
char* to_c_string(const std::string& text);

// --- Services: the C structs adapted to the core's interfaces ---

// The host's key store struct as a fieldcase::KeyStore.
std::unique_ptr<KeyStore> make_keystore(const fc_keystore& service);
// The host's transport struct as a fieldcase::Transport.
std::unique_ptr<Transport> make_transport(const fc_transport& service);
// The host's clock struct as a fieldcase::Clock.
std::unique_ptr<Clock> make_clock(const fc_clock& service);

// --- The device ---

// The C handle's object: the host's services adapted to the core, and the DeviceSession that
// holds every device policy (vault, records, sync, wipes). The session is made before the device
// is registered and never replaced; only its thread-safe members (snapshot, cancel_sync) are
// used outside a Lease.
struct Device {
  std::unique_ptr<KeyStore> keystore;
  std::unique_ptr<Transport> transport;
  std::unique_ptr<Clock> owned_clock;
  fc_connectivity connectivity{};
  fc_logger logger{};
  std::vector<std::pair<void (*)(void*), void*>> destroyers;  // host contexts, once each

  std::unique_ptr<DeviceSession> session;

  std::atomic<bool> busy{false};  // a call is running on some thread

  ~Device();
  void log(int32_t level, const std::string& message) const noexcept;
};

// Registers a device and returns its handle (a token, never reused).
fc_device* register_device(std::shared_ptr<Device> device);
// The device of a handle, or null when the handle is not live.
std::shared_ptr<Device> find_device(fc_device* handle);
// Removes the handle; returns the device (so the caller controls when it is destroyed).
std::shared_ptr<Device> unregister_device(fc_device* handle);

// Exclusive use of a device for one call: FC_API_INVALID_HANDLE / FC_API_BUSY otherwise.
class Lease {
 public:
  explicit Lease(fc_device* handle);
  ~Lease();
  Lease(const Lease&) = delete;
  Lease& operator=(const Lease&) = delete;
  Device& operator*() const { return *device_; }
  Device* operator->() const { return device_.get(); }

 private:
  std::shared_ptr<Device> device_;
};

// --- JSON ---

std::string record_to_json(const Record& record);
std::string records_to_json(const std::vector<Record>& records);
// A JSON object of field values; FC_API_BAD_JSON when it does not parse or a value has no
// field type (objects, fractions, arrays holding non-strings).
Fields fields_from_json(std::string_view json, const char* what);
std::string my_day_to_json(const MyDay& day);
std::string history_to_json(const std::vector<FieldChange>& history);
std::string conflicts_to_json(const std::vector<sync::Conflict>& conflicts);
std::string rejections_to_json(const std::vector<sync::Rejection>& rejections);
// Runs the operations of fc_device_write inside one local transaction; returns the id array.
Result<std::string> write_operations(RecordStore& records, std::string_view ops_json);

}  // namespace fieldcase::capi
