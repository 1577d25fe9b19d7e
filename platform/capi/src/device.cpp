// fc_device: C handles over fieldcase::DeviceSession (device_session.hpp), which holds every
// device policy (PIN and attempts, idle lock, token, wipes and their reports, sync). This file
// checks arguments and configuration, adapts the host's services, converts JSON and reports
// errors; one call at a time per device is enforced by the Lease (capi_internal.hpp).
#include <cstdlib>
#include <cstring>
#include <nlohmann/json.hpp>

#include "capi_internal.hpp"
#include "fieldcase/calendar.hpp"
#include "fieldcase/platform/file_keystore.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/secure_bytes.hpp"
#include "fieldcase/sync_engine.hpp"
#include "fieldcase/timescales.hpp"

namespace fieldcase::capi {

namespace {

std::string text(const char* value, const char* what) { return std::string(require(value, what)); }

std::string optional_text(const char* value) { return value == nullptr ? std::string() : value; }

struct Built {
  std::shared_ptr<Device> device;
  DeviceSessionOptions options;
};

// Checks the configuration and builds the device with its services (no session yet).
Built build_device(const fc_device_config* config) {
  require(config, "config");
  if (config->size != sizeof(fc_device_config)) {
    throw ApiFailure(FC_API_BAD_CONFIG, "config was not set up with fc_device_config_init");
  }
  auto device = std::make_shared<Device>();
  // From here on the device owns the host contexts (destroyed with it, even on failure).
  auto own = [&](void (*destroy)(void*), void* context) {
    if (destroy != nullptr) device->destroyers.emplace_back(destroy, context);
  };
  if (config->keystore != nullptr) own(config->keystore->destroy, config->keystore->context);
  if (config->transport != nullptr) own(config->transport->destroy, config->transport->context);
  if (config->clock != nullptr) own(config->clock->destroy, config->clock->context);
  if (config->connectivity != nullptr) {
    own(config->connectivity->destroy, config->connectivity->context);
  }
  if (config->logger != nullptr) own(config->logger->destroy, config->logger->context);

  if (config->database == nullptr || *config->database == '\0') {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: database is required");
  }
  if (config->worker_id == nullptr || config->device_id == nullptr) {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: worker_id and device_id are required");
  }
  DeviceSessionOptions options;
  options.database = config->database;
  options.identity.worker_id = config->worker_id;
  options.identity.device_id = config->device_id;
  if (config->role != nullptr) {
    auto role = parse_role(config->role);
    if (!role) throw ApiFailure(FC_API_BAD_CONFIG, "config: unknown role");
    options.identity.role = *role;
  }
  if (config->keystore != nullptr) {
    device->keystore = make_keystore(*config->keystore);
  } else if (config->keystore_dir != nullptr && *config->keystore_dir != '\0') {
    device->keystore = std::make_unique<platform::FileKeyStore>(config->keystore_dir);
  } else {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: a keystore or keystore_dir is required");
  }
  if (config->transport != nullptr) {
    device->transport = make_transport(*config->transport);
  } else if (config->server_url != nullptr && *config->server_url != '\0') {
    const std::string url = config->server_url;
    if (!url.starts_with("http://") && !url.starts_with("https://")) {
      throw ApiFailure(FC_API_BAD_CONFIG, "config: server_url must be http:// or https://");
    }
    platform::HttpTransportOptions transport_options;
    transport_options.base_url = url;
    device->transport = std::make_unique<platform::HttpTransport>(transport_options);
  }  // else: no transport; fc_device_sync reports it
  if (config->clock != nullptr) device->owned_clock = make_clock(*config->clock);
  if (config->connectivity != nullptr) device->connectivity = *config->connectivity;
  if (config->logger != nullptr) device->logger = *config->logger;

  options.kdf = config->kdf == FC_KDF_MINIMUM ? KdfCost::minimum() : KdfCost::device_default();
  if (config->kdf != FC_KDF_MINIMUM && config->kdf != FC_KDF_DEVICE_DEFAULT) {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: unknown kdf");
  }
  if (config->max_failed_unlocks < 0 || config->idle_timeout_s < 0 || config->sync_attempts < 0) {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: negative limit");
  }
  if (config->max_failed_unlocks > 0) options.max_failed_unlocks = config->max_failed_unlocks;
  if (config->idle_timeout_s > 0) {
    options.idle_timeout = std::chrono::seconds(config->idle_timeout_s);
  }
  if (config->sync_attempts > 0) options.sync.max_attempts = config->sync_attempts;

  // The device outlives its session, so the services may refer to it.
  Device* d = device.get();
  options.services.keystore = d->keystore.get();
  options.services.transport = d->transport.get();
  if (d->owned_clock) options.services.clock = d->owned_clock.get();
  if (d->connectivity.state != nullptr) {
    options.services.online = [d] {
      return d->connectivity.state(d->connectivity.context) == FC_CONNECTIVITY_ONLINE;
    };
  }
  if (d->logger.log != nullptr) {
    options.services.log = [d](LogLevel level, const std::string& message) {
      d->log(static_cast<int32_t>(level), message);  // fc_log_level has the same order
    };
  }
  return {std::move(device), std::move(options)};
}

Status init_crypto() {
  static const Status status = crypto_init();
  return status;
}

// Most calls: a live, unlocked, not wiped device and its record store.
Result<RecordStore*> records_of(Device& d) { return d.session->records(); }

std::string sync_report_json(const SyncReport& r, bool wiped) {
  nlohmann::json rejections = nlohmann::json::array();
  for (const auto& x : r.rejections) {
    rejections.push_back({{"tx_id", x.tx_id}, {"code", x.code}, {"reason", x.reason}});
  }
  nlohmann::json j{{"round_trips", r.round_trips},
                   {"accepted", r.accepted},
                   {"rejected", r.rejected},
                   {"changes_received", r.changes_received},
                   {"bytes_sent", r.bytes_sent},
                   {"bytes_received", r.bytes_received},
                   {"rejections", rejections},
                   {"purged_cases", r.purged_cases},
                   {"clock_offset_ms", r.clock_offset.count()},
                   {"offline_limit_days", r.offline_limit_days},
                   {"wiped", wiped},
                   {"wipe_reason", r.wipe_reason}};
  return j.dump();
}

// Returns `text` as a caller-owned string, or null with the error set.
template <typename Body>
char* string_call(fc_error* out_error, Body&& body) noexcept {
  char* out = nullptr;
  guarded(out_error, [&]() -> Status {
    Result<std::string> r = body();
    if (!r.ok()) return r.status();
    out = to_c_string(*r);
    return {};
  });
  return out;
}

}  // namespace

Device::~Device() {
  session.reset();  // locks: keys wiped from memory
  transport.reset();
  keystore.reset();
  owned_clock.reset();
  for (auto& [destroy, context] : destroyers) destroy(context);
}

void Device::log(int32_t level, const std::string& message) const noexcept {
  if (logger.log == nullptr || level < logger.min_level) return;
  logger.log(logger.context, level, message.c_str());
}

}  // namespace fieldcase::capi

using namespace fieldcase;
using namespace fieldcase::capi;

extern "C" {

void fc_device_config_init(fc_device_config* config) {
  if (config == nullptr) return;
  std::memset(config, 0, sizeof *config);
  config->size = sizeof *config;
  config->kdf = FC_KDF_DEVICE_DEFAULT;
}

bool fc_check_pin_policy(const char* pin, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    require(pin, "pin");
    return Vault::check_pin_policy(pin);
  });
}

fc_device* fc_device_create(const fc_device_config* config, const char* pin, fc_error* out_error) {
  fc_device* handle = nullptr;
  guarded(out_error, [&]() -> Status {
    FC_TRY(init_crypto());
    Built b = build_device(config);
    require(pin, "pin");
    // The identity comes from the config; the host enrolls and hands over the token
    // (fc_device_set_token).
    auto session = DeviceSession::setup(std::move(b.options), pin, SetupRequest{});
    if (!session.ok()) return session.status();
    b.device->session = std::move(session.value());
    handle = register_device(std::move(b.device));
    return {};
  });
  return handle;
}

fc_device* fc_device_open(const fc_device_config* config, fc_error* out_error) {
  fc_device* handle = nullptr;
  guarded(out_error, [&]() -> Status {
    FC_TRY(init_crypto());
    Built b = build_device(config);
    auto session = DeviceSession::open(std::move(b.options));
    if (!session.ok()) return session.status();
    if ((*session)->state() == SessionState::wiped) return (*session)->wiped_status();
    b.device->session = std::move(session.value());
    handle = register_device(std::move(b.device));
    return {};
  });
  return handle;
}

void fc_device_release(fc_device* device) {
  try {
    // The registry no longer hands it out; destroyed here, or when a running call returns.
    auto d = unregister_device(device);
  } catch (...) {  // a host destroy callback that throws is the host's bug; never cross
  }
}

bool fc_device_unlock(fc_device* device, const char* pin, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    require(pin, "pin");
    return d->session->unlock(pin);
  });
}

bool fc_device_lock(fc_device* device, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    d->session->lock();
    return {};
  });
}

bool fc_device_is_unlocked(fc_device* device) {
  try {
    auto d = find_device(device);
    return d && d->session->snapshot().state == SessionState::unlocked;
  } catch (...) {
    return false;
  }
}

bool fc_device_poll_idle(fc_device* device, bool* out_locked, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const bool locked = d->session->poll_idle();
    if (out_locked != nullptr) *out_locked = locked;
    return {};
  });
}

int32_t fc_device_attempts_left(fc_device* device) {
  try {
    auto d = find_device(device);
    return d ? d->session->snapshot().attempts_left : -1;
  } catch (...) {
    return -1;
  }
}

bool fc_device_change_pin(fc_device* device, const char* old_pin, const char* new_pin,
                          fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    require(old_pin, "old_pin");
    require(new_pin, "new_pin");
    return d->session->change_pin(old_pin, new_pin);
  });
}

bool fc_device_wipe(fc_device* device, const char* reason, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string why = optional_text(reason);
    return d->session->wipe(why.empty() ? "wiped by the app" : why);
  });
}

bool fc_device_set_token(fc_device* device, const char* token, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    return d->session->set_device_token(require(token, "token"));
  });
}

char* fc_device_caseload(fc_device* device, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto children = (*rs)->caseload();
    if (!children.ok()) return children.status();
    return records_to_json(*children);
  });
}

char* fc_device_my_day(fc_device* device, const char* today, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    auto date = Date::parse(text(today, "today"));
    if (!date.ok()) return date.status();
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto day = (*rs)->my_day(*date);
    if (!day.ok()) return day.status();
    return my_day_to_json(*day);
  });
}

char* fc_device_get_record(fc_device* device, const char* id, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    const std::string rid = text(id, "id");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto found = (*rs)->get(rid);
    if (!found.ok()) return found.status();
    if (!found->has_value()) return Status(Errc::not_found, "no record " + rid);
    return record_to_json(**found);
  });
}

char* fc_device_list_records(fc_device* device, const char* kind, const char* case_id,
                             fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    auto k = parse_record_kind(text(kind, "kind"));
    if (!k)
      return Status(Errc::invalid_argument, "unknown record kind '" + std::string(kind) + "'");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto list = (*rs)->list(*k, optional_text(case_id));
    if (!list.ok()) return list.status();
    return records_to_json(*list);
  });
}

char* fc_device_history(fc_device* device, const char* id, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    const std::string rid = text(id, "id");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto history = (*rs)->history(rid);
    if (!history.ok()) return history.status();
    return history_to_json(*history);
  });
}

char* fc_device_conflicts(fc_device* device, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto open = (*rs)->conflicts();
    if (!open.ok()) return open.status();
    return conflicts_to_json(*open);
  });
}

bool fc_device_resolve_conflict(fc_device* device, const char* conflict_id, const char* value_json,
                                fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string id = text(conflict_id, "conflict_id");
    auto value = value_from_json(text(value_json, "value_json"));
    if (!value) return {Errc::invalid_argument, "value_json: not one JSON value"};
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    return (*rs)->resolve_conflict(id, *value);
  });
}

char* fc_device_rejections(fc_device* device, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto list = (*rs)->rejections();
    if (!list.ok()) return list.status();
    return rejections_to_json(*list);
  });
}

bool fc_device_pending_transactions(fc_device* device, int64_t* out_count, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    require(out_count, "out_count");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto n = (*rs)->pending_transactions();
    if (!n.ok()) return n.status();
    *out_count = *n;
    return {};
  });
}

char* fc_device_create_record(fc_device* device, const char* kind, const char* case_id,
                              const char* fields_json, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    auto k = parse_record_kind(text(kind, "kind"));
    if (!k)
      return Status(Errc::invalid_argument, "unknown record kind '" + std::string(kind) + "'");
    Fields fields = fields_from_json(text(fields_json, "fields_json"), "fields_json");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    return (*rs)->create(*k, optional_text(case_id), std::move(fields));
  });
}

bool fc_device_update_record(fc_device* device, const char* id, const char* changes_json,
                             fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string rid = text(id, "id");
    Fields changes = fields_from_json(text(changes_json, "changes_json"), "changes_json");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    return (*rs)->update(rid, changes);
  });
}

bool fc_device_delete_record(fc_device* device, const char* id, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string rid = text(id, "id");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    return (*rs)->remove(rid);
  });
}

char* fc_device_write(fc_device* device, const char* ops_json, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    const std::string ops = text(ops_json, "ops_json");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    return write_operations(**rs, ops);
  });
}

char* fc_device_attach(fc_device* device, const char* parent_id, const char* filename,
                       const char* media_type, const uint8_t* bytes, size_t size,
                       const char* caption, fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    const std::string parent = text(parent_id, "parent_id");
    std::string name = text(filename, "filename");
    std::string type = text(media_type, "media_type");
    if (bytes == nullptr && size != 0) throw ApiFailure(FC_API_NULL_ARGUMENT, "bytes is NULL");
    if (size > kMaxAttachmentBytes) {
      return Status(Errc::validation, "attachment.bytes: larger than 10 MiB");
    }
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    Result<std::string> id = Status(Errc::internal, "no attachment written");
    const std::span<const std::uint8_t> content =
        size == 0 ? std::span<const std::uint8_t>() : std::span(bytes, size);
    Status written = (*rs)->write([&](RecordStore::Writer& w) -> Status {
      id = w.attach(parent, std::move(name), std::move(type), content, optional_text(caption));
      return id.status();
    });
    if (!written.ok()) return written;
    return id;
  });
}

uint8_t* fc_device_attachment_bytes(fc_device* device, const char* attachment_id, size_t* out_size,
                                    fc_error* out_error) {
  uint8_t* out = nullptr;
  guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string id = text(attachment_id, "attachment_id");
    require(out_size, "out_size");
    auto rs = records_of(*d);
    if (!rs.ok()) return rs.status();
    auto content = (*rs)->attachment_bytes(id);
    if (!content.ok()) return content.status();
    out = static_cast<uint8_t*>(std::malloc(content->empty() ? 1 : content->size()));
    if (out == nullptr) throw std::bad_alloc();
    if (!content->empty()) std::memcpy(out, content->data(), content->size());
    *out_size = content->size();
    return {};
  });
  return out;
}

char* fc_device_sync(fc_device* device, fc_sync_progress_fn progress, void* progress_context,
                     fc_error* out_error) {
  return string_call(out_error, [&]() -> Result<std::string> {
    Lease d(device);
    DeviceSession& session = *d->session;
    if (!d->transport && session.state() != SessionState::wiped) {
      throw ApiFailure(FC_API_BAD_CONFIG, "no transport: give config.transport or server_url");
    }
    auto report = session.sync([&](const SyncProgress& p) {
      if (progress == nullptr) return;
      const fc_sync_progress c{p.transactions_sent, p.transactions_total, p.changes_received,
                               p.bytes_sent,        p.bytes_received,     p.round};
      if (!progress(progress_context, &c)) session.cancel_sync();
    });
    if (!report.ok()) return report.status();
    return sync_report_json(*report, report->wipe_requested);
  });
}

bool fc_device_cancel_sync(fc_device* device) {
  try {
    auto d = find_device(device);
    if (!d) return false;
    d->session->cancel_sync();
    return true;
  } catch (...) {
    return false;
  }
}

}  // extern "C"
