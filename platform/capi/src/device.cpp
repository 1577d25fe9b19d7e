// fc_device: the vault, the record store and sync behind the C API.
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
  VaultOptions options;
};

// Checks the configuration and builds the device with its services (no vault yet).
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
  device->database = config->database;
  device->identity.worker_id = config->worker_id;
  device->identity.device_id = config->device_id;
  if (config->role != nullptr) {
    auto role = parse_role(config->role);
    if (!role) throw ApiFailure(FC_API_BAD_CONFIG, "config: unknown role");
    device->identity.role = *role;
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
    platform::HttpTransportOptions options;
    options.base_url = url;
    device->transport = std::make_unique<platform::HttpTransport>(options);
  }  // else: no transport; fc_device_sync reports it
  if (config->clock != nullptr) {
    device->owned_clock = make_clock(*config->clock);
    device->clock = device->owned_clock.get();
  }
  if (config->connectivity != nullptr) device->connectivity = *config->connectivity;
  if (config->logger != nullptr) device->logger = *config->logger;

  VaultOptions options;
  options.database = device->database;
  options.keystore = device->keystore.get();
  options.clock = device->clock;
  options.kdf = config->kdf == FC_KDF_MINIMUM ? KdfCost::minimum() : KdfCost::device_default();
  if (config->kdf != FC_KDF_MINIMUM && config->kdf != FC_KDF_DEVICE_DEFAULT) {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: unknown kdf");
  }
  if (config->max_failed_unlocks < 0 || config->idle_timeout_s < 0 || config->sync_attempts < 0) {
    throw ApiFailure(FC_API_BAD_CONFIG, "config: negative limit");
  }
  if (config->max_failed_unlocks > 0) options.max_failed_unlocks = config->max_failed_unlocks;
  if (config->idle_timeout_s > 0)
    options.idle_timeout = std::chrono::seconds(config->idle_timeout_s);
  if (config->sync_attempts > 0) device->sync_options.max_attempts = config->sync_attempts;
  return {std::move(device), std::move(options)};
}

Status init_crypto() {
  static const Status status = crypto_init();
  return status;
}

// Most calls: a live, unlocked, not wiped device and its record store.
Result<RecordStore*> records_of(Device& d) {
  if (d.wiped) return Status(Errc::wiped, "the device was wiped");
  return d.open_records();
}

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
  records.reset();
  vault.reset();  // locks: keys wiped from memory
  transport.reset();
  keystore.reset();
  owned_clock.reset();
  for (auto& [destroy, context] : destroyers) destroy(context);
}

void Device::log(int32_t level, const std::string& message) const noexcept {
  if (logger.log == nullptr || level < logger.min_level) return;
  logger.log(logger.context, level, message.c_str());
}

void Device::refresh_state() noexcept {
  unlocked.store(vault && vault->unlocked());
  attempts_left.store(vault ? vault->attempts_left() : 0);
}

Result<RecordStore*> Device::open_records(bool for_sync) {
  if (!vault) return Status(Errc::locked, "the device is locked");
  // Locks the vault when it has been idle too long; store() also enforces the offline limit.
  auto store = for_sync ? vault->store_for_sync() : vault->store();
  if (!store.ok()) {
    records.reset();
    return store.status();
  }
  if (!records) {
    auto opened = RecordStore::open(**store, identity, *clock, Timescales());
    if (!opened.ok()) return opened.status();
    records = std::move(opened.value());
  }
  return records.get();
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
    std::error_code ec;
    if (std::filesystem::exists(b.options.database, ec)) {
      return {Errc::already_exists, "a database already exists at " + b.options.database.string()};
    }
    auto vault = Vault::create(b.options, pin);
    if (!vault.ok()) return vault.status();
    b.device->vault = std::move(vault.value());
    auto records = b.device->open_records();
    if (!records.ok()) return records.status();
    b.device->log(FC_LOG_INFO, "device created");
    b.device->refresh_state();
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
    auto vault = Vault::open(b.options);
    if (!vault.ok()) return vault.status();
    b.device->vault = std::move(vault.value());
    b.device->refresh_state();
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
    if (d->wiped) return {Errc::wiped, "the device was wiped"};
    d->close_records();
    // The core accepts any PIN while unlocked; the C API always checks it (an app's re-entry
    // screen must not open with a wrong PIN), so an unlocked device is locked first.
    d->vault->lock();
    Status st = d->vault->unlock(pin);
    if (st.code() == Errc::wiped) d->wiped = true;
    d->log(st.ok() ? FC_LOG_INFO : FC_LOG_WARNING,
           st.ok() ? "unlocked" : "unlock failed: " + std::string(errc_name(st.code())));
    return st;
  });
}

bool fc_device_lock(fc_device* device, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    d->close_records();
    d->vault->lock();
    d->log(FC_LOG_INFO, "locked");
    return {};
  });
}

bool fc_device_is_unlocked(fc_device* device) {
  try {
    auto d = find_device(device);
    return d && d->unlocked.load();
  } catch (...) {
    return false;
  }
}

bool fc_device_poll_idle(fc_device* device, bool* out_locked, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const bool locked = d->vault->poll_idle();
    if (locked) {
      d->close_records();
      d->log(FC_LOG_INFO, "locked after idle time");
    }
    if (out_locked != nullptr) *out_locked = locked;
    return {};
  });
}

int32_t fc_device_attempts_left(fc_device* device) {
  try {
    auto d = find_device(device);
    return d ? d->attempts_left.load() : -1;
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
    if (d->wiped) return {Errc::wiped, "the device was wiped"};
    Status st = d->vault->change_pin(old_pin, new_pin);
    if (st.code() == Errc::wiped) {
      d->wiped = true;
      d->close_records();
    }
    d->log(st.ok() ? FC_LOG_INFO : FC_LOG_WARNING,
           st.ok() ? "PIN changed" : "PIN change failed: " + std::string(errc_name(st.code())));
    return st;
  });
}

bool fc_device_wipe(fc_device* device, const char* reason, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string why = optional_text(reason);
    d->close_records();
    Status st = d->vault->wipe(why.empty() ? "wiped by the app" : why);
    d->wiped = true;
    d->log(FC_LOG_WARNING, "device wiped");
    return st;
  });
}

bool fc_device_set_token(fc_device* device, const char* token, fc_error* out_error) {
  return guarded(out_error, [&]() -> Status {
    Lease d(device);
    const std::string_view t = require(token, "token");
    if (t.empty()) return {Errc::invalid_argument, "the device token is empty"};
    if (d->wiped) return {Errc::wiped, "the device was wiped"};
    if (!d->vault->unlocked()) return {Errc::locked, "the device is locked"};
    // Inside the vault, behind the PIN, and erased with the data (vault.hpp).
    return d->vault->set_device_token(t);
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
    d->cancel.store(false);
    if (d->wiped) {
      // No token is left to sync with, but the server is told of the erase (it revokes the
      // device) at this contact; fc_device_create in its place starts without a token.
      if (d->transport) {
        auto reported = report_wipes(*d->transport, d->database);
        if (reported.ok() && *reported > 0) {
          d->log(FC_LOG_INFO, "the wipe was reported to the server");
          return Status(Errc::wiped, "the device was wiped; the server has been told");
        }
      }
      return Status(Errc::wiped, "the device was wiped");
    }
    auto rs = d->open_records(/*for_sync=*/true);
    if (!rs.ok()) return rs.status();
    if (d->connectivity.state != nullptr &&
        d->connectivity.state(d->connectivity.context) != FC_CONNECTIVITY_ONLINE) {
      d->log(FC_LOG_INFO, "sync skipped: offline");
      return Status(Errc::io, "offline: the host reports no network");
    }
    if (!d->transport) {
      throw ApiFailure(FC_API_BAD_CONFIG, "no transport: give config.transport or server_url");
    }
    auto token = d->vault->device_token();
    if (!token.ok()) return token.status();
    if (!token->has_value()) {
      return Status(Errc::not_found, "no device token (fc_device_set_token)");
    }
    // An earlier vault in this place that was erased is reported first (best effort: a server
    // that cannot be reached fails the sync below, and the report waits for the next one).
    (void)report_wipes(*d->transport, d->database);
    SyncEngine engine(**rs, *d->transport, **token, d->sync_options);
    d->log(FC_LOG_INFO, "sync started");
    auto report = engine.run(
        [&](const SyncProgress& p) {
          if (progress == nullptr) return;
          const fc_sync_progress c{p.transactions_sent, p.transactions_total, p.changes_received,
                                   p.bytes_sent,        p.bytes_received,     p.round};
          if (!progress(progress_context, &c)) d->cancel.store(true);
        },
        &d->cancel);
    if (!report.ok()) {
      d->log(FC_LOG_WARNING, "sync failed: " + std::string(errc_name(report.code())));
      return report.status();
    }
    bool wiped = false;
    if (report->wipe_requested) {
      d->close_records();
      FC_TRY(d->vault->wipe(report->wipe_reason.empty() ? "wipe ordered by the server"
                                                        : report->wipe_reason));
      d->wiped = true;
      wiped = true;
      d->log(FC_LOG_WARNING, "device wiped on the server's order");
      (void)report_wipes(*d->transport, d->database);  // the server learns the erase happened
    } else if (report->contacted) {
      // The exchange lifts an offline lock and renews the server's offline limit.
      FC_TRY(d->vault->record_contact(d->clock->wall(), report->offline_limit_days));
    }
    d->log(FC_LOG_INFO, "sync finished: " + std::to_string(report->accepted) + " accepted, " +
                            std::to_string(report->changes_received) + " changes received, " +
                            std::to_string(report->purged_cases.size()) + " cases purged");
    return sync_report_json(*report, wiped);
  });
}

bool fc_device_cancel_sync(fc_device* device) {
  try {
    auto d = find_device(device);
    if (!d) return false;
    d->cancel.store(true);
    return true;
  } catch (...) {
    return false;
  }
}

}  // extern "C"
