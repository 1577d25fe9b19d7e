/*
 * fieldcase.h: the stable C API of the fieldcase core, for JNI (Android), Swift (iOS) and FFI.
 *
 * Valid C99 and C++. Conventions:
 * - Objects are opaque handles released by their typed fc_<object>_release function. A handle is
 *   a token, not a pointer to memory: a released, forged or NULL handle is reported as
 *   FC_DOMAIN_API / FC_API_INVALID_HANDLE (or FC_API_NULL_ARGUMENT), never a crash. Tokens are
 *   never reused within a process, so a stale handle can never reach a newer object.
 * - Every fallible call takes `fc_error* out_error` last (may be NULL) and returns a bool (true
 *   on success) or a pointer (NULL on failure). On failure *out_error holds the domain, a stable
 *   numbered code and a message; on success it is cleared (domain FC_DOMAIN_NONE, code 0, "").
 * - Records go in and out as UTF-8 JSON text. Strings the library returns are owned by the
 *   caller and released with fc_string_release; byte buffers with fc_bytes_release. Strings the
 *   caller passes are borrowed for the duration of the call only.
 * - No C++ exception crosses this API. Functions named fc_<object>_<verb>.
 * - Thread-safety is stated per function. Unless stated otherwise, one fc_device is used from
 *   one thread at a time; a call made while another thread is inside a call on the same device
 *   fails with FC_API_BUSY instead of racing.
 * - Secrets (PINs, the device token) are never logged and never appear in error messages; the
 *   buffers that held them are the caller's to wipe.
 */
#ifndef FIELDCASE_H
#define FIELDCASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(_WIN32)
#define FC_EXPORT
#elif defined(__GNUC__) || defined(__clang__)
#define FC_EXPORT __attribute__((visibility("default")))
#else
#define FC_EXPORT
#endif

/* The caller must look at the result (it reports failure, or is memory the caller owns). */
#if defined(__GNUC__) || defined(__clang__)
#define FC_WARN_UNUSED_RESULT __attribute__((warn_unused_result))
#else
#define FC_WARN_UNUSED_RESULT
#endif

/* Nullability for Swift and clang's analyser; empty elsewhere. Clang calls the qualifiers an
 * extension under -pedantic; that warning is silenced for this header only. */
#if defined(__clang__)
#pragma clang diagnostic push
#pragma clang diagnostic ignored "-Wnullability-extension"
#define FC_NONNULL _Nonnull
#define FC_NULLABLE _Nullable
#else
#define FC_NONNULL
#define FC_NULLABLE
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------
 * Version
 * ------------------------------------------------------------------------------------------- */

/* Version of this header: major * 10000 + minor * 100 + patch. Compare with fc_api_version()
 * at start-up: a library with a different major number is not compatible. */
#define FC_API_VERSION 10000

/* FC_API_VERSION of the library actually loaded.
 * Threads: any thread, any time. */
FC_EXPORT int32_t fc_api_version(void);
/* The core's version text ("0.1.0"), static storage; never NULL.
 * Threads: any thread, any time. */
FC_EXPORT const char* FC_NONNULL fc_version(void);

/* ---------------------------------------------------------------------------------------------
 * Errors
 * ------------------------------------------------------------------------------------------- */

typedef enum fc_error_domain {
  FC_DOMAIN_NONE = 0,      /* no error */
  FC_DOMAIN_FIELDCASE = 1, /* the core: codes are fieldcase::Errc, FC_ERR_* below */
  FC_DOMAIN_API = 2,       /* the API was misused: codes FC_API_* below */
  FC_DOMAIN_HOST = 3       /* a host service failed and chose its own code */
} fc_error_domain;

/* FC_DOMAIN_FIELDCASE codes: identical to fieldcase::Errc, stable, never reused. */
typedef enum fc_fieldcase_code {
  FC_ERR_INVALID_ARGUMENT = 1, /* malformed input (an id, a date, a PIN of the wrong length) */
  FC_ERR_NOT_FOUND = 2,        /* no such record, vault, key-store entry or device token */
  FC_ERR_ALREADY_EXISTS = 3,   /* fc_device_create over an existing database */
  FC_ERR_UNSUPPORTED = 4,      /* a format or feature this build does not understand */
  FC_ERR_INTERNAL = 5,         /* a bug: an invariant did not hold */
  FC_ERR_IO = 6,               /* a read or write failed; the server is unreachable; offline */
  FC_ERR_DISK_FULL = 7,
  FC_ERR_BUSY = 8,             /* the database is locked by another connection; retry */
  FC_ERR_VALIDATION = 9,       /* a record breaks a rule: "<kind>.<field>: <rule>" */
  FC_ERR_UNAUTHENTICATED = 10, /* the server refuses this device's token */
  FC_ERR_CANCELLED = 11,       /* the caller cancelled (fc_device_cancel_sync, progress callback) */
  FC_ERR_FORBIDDEN = 12,       /* authenticated, but the worker's role does not permit this */
  FC_ERR_TOO_MANY_ATTEMPTS = 13, /* locked out after repeated failures; retry later */
  FC_ERR_UNAVAILABLE = 14,     /* a service the call needs cannot be reached; retry later */
  FC_ERR_INTEGRITY = 100,      /* authentication of stored data failed: tampered or damaged */
  FC_ERR_WRONG_KEY = 101,      /* the key does not open this database */
  FC_ERR_WRONG_PIN = 102,      /* wrong PIN; attempts remain (fc_device_attempts_left) */
  FC_ERR_WIPED = 103,          /* the data was crypto-erased (failed unlocks or a wipe order) */
  FC_ERR_LOCKED = 104,         /* the device is locked (explicitly or after idle time) */
  FC_ERR_NOT_A_DATABASE = 105, /* the file is not a fieldcase database */
  FC_ERR_SCHEMA = 106,         /* a migration failed or the database is newer than this build */
  FC_ERR_OFFLINE_LOCKED = 107, /* not synced for longer than the server's offline limit: only
                                  fc_device_sync works until a sync succeeds */
  FC_ERR_WEAK_PIN = 108        /* a new PIN breaks the PIN policy (fc_check_pin_policy) */
} fc_fieldcase_code;

/* FC_DOMAIN_API codes: programming errors in the caller, reported instead of crashing. */
typedef enum fc_api_code {
  FC_API_NULL_ARGUMENT = 1,   /* a required pointer argument was NULL */
  FC_API_INVALID_HANDLE = 2,  /* NULL, released or forged handle, or a handle of another type */
  FC_API_BAD_JSON = 3,        /* JSON text that does not parse or has the wrong shape */
  FC_API_BUSY = 4,            /* the handle is in use by a call on another thread */
  FC_API_BAD_CONFIG = 5,      /* fc_device_config not initialised or missing a required member */
  FC_API_OUT_OF_MEMORY = 6,   /* an allocation failed */
  FC_API_UNEXPECTED = 7,      /* an unexpected failure inside the library (a bug) */
  FC_API_NOT_IN_CALLBACK = 8  /* an fc_http_response used outside its transport callback */
} fc_api_code;

#define FC_ERROR_MESSAGE_MAX 512

/* Caller-allocated; needs no release. message is NUL-terminated UTF-8, possibly truncated. */
typedef struct fc_error {
  int32_t domain; /* fc_error_domain */
  int32_t code;
  char message[FC_ERROR_MESSAGE_MAX];
} fc_error;

/* Short machine-readable name of a code ("wrong_pin", "invalid_handle"; "unknown" otherwise).
 * Static storage.
 * Threads: any thread, any time. */
FC_EXPORT const char* FC_NONNULL fc_error_code_name(int32_t domain, int32_t code);
/* Sets *error to the given values (message copied, truncated). For host services reporting a
 * failure. Does nothing when error is NULL.
 * Threads: any thread, any time. */
FC_EXPORT void fc_error_set(fc_error* FC_NULLABLE error, int32_t domain, int32_t code,
                            const char* FC_NULLABLE message);

/* ---------------------------------------------------------------------------------------------
 * Memory the library hands out
 * ------------------------------------------------------------------------------------------- */

/* Releases a string returned by this library. NULL is fine.
 * Threads: any thread, any time. */
FC_EXPORT void fc_string_release(char* FC_NULLABLE text);
/* Releases a byte buffer returned by this library. NULL is fine.
 * Threads: any thread, any time. */
FC_EXPORT void fc_bytes_release(uint8_t* FC_NULLABLE bytes);

/* ---------------------------------------------------------------------------------------------
 * Platform services: what the core needs from its host, as structs of function pointers with a
 * context. The device copies the struct; `context` must stay valid until the device is
 * released, when `destroy` (if not NULL) is called with it once. destroy is called exactly
 * once for each service of a config that fc_device_create/fc_device_open accepted as
 * initialised (right `size`), also when the call then fails. Callbacks are called on the
 * thread that made the fc_device_* call that needs them, never concurrently for one device,
 * and must not call back into the same device. A callback that fails returns false and
 * describes the failure with fc_error_set (FC_DOMAIN_FIELDCASE codes such as FC_ERR_IO, or
 * FC_DOMAIN_HOST with the host's own code); the failure is passed on to the caller.
 * ------------------------------------------------------------------------------------------- */

/* Largest secret a key store entry holds. */
#define FC_SECRET_MAX 1024

/* Secret storage: Android Keystore, iOS Keychain; on Linux owner-only files (the default). */
typedef struct fc_keystore {
  void* FC_NULLABLE context;
  /* Copies the secret named `name` into buffer (capacity FC_SECRET_MAX) and sets *out_size and
   * *out_found = true; when there is none sets *out_found = false and returns true. */
  bool (*FC_NULLABLE get)(void* FC_NULLABLE context, const char* FC_NONNULL name,
                          uint8_t* FC_NONNULL buffer, size_t capacity,
                          size_t* FC_NONNULL out_size, bool* FC_NONNULL out_found,
                          fc_error* FC_NONNULL out_error);
  /* Stores or replaces the secret durably before returning. */
  bool (*FC_NULLABLE put)(void* FC_NULLABLE context, const char* FC_NONNULL name,
                          const uint8_t* FC_NONNULL secret, size_t size,
                          fc_error* FC_NONNULL out_error);
  /* Destroys the secret; succeeds when there was none. */
  bool (*FC_NULLABLE remove)(void* FC_NULLABLE context, const char* FC_NONNULL name,
                             fc_error* FC_NONNULL out_error);
  void (*FC_NULLABLE destroy)(void* FC_NULLABLE context);
} fc_keystore;

/* The answer a transport fills in, valid only during its post callback. */
typedef struct fc_http_response fc_http_response;

/* One HTTP request the host performs (OkHttp, URLSession; cpp-httplib on Linux by default). */
typedef struct fc_http_request {
  const char* FC_NONNULL path;         /* absolute, e.g. "/v1/sync"; the host adds its base URL */
  const char* FC_NONNULL content_type; /* "application/json" */
  const uint8_t* FC_NONNULL body;      /* UTF-8 JSON, not NUL-terminated */
  size_t body_size;
  const char* FC_NONNULL bearer_token; /* the Authorization: Bearer value; a secret */
} fc_http_request;

typedef struct fc_transport {
  void* FC_NULLABLE context;
  /* Sends the request and reports the answer through the fc_http_response_set_* functions:
   * any HTTP status is a success here (the core interprets it). Returns false only when no
   * answer was received (no connection, timeout, TLS failure): then FC_ERR_IO. The body handed
   * back must be decoded (no content encoding). */
  bool (*FC_NULLABLE post)(void* FC_NULLABLE context, const fc_http_request* FC_NONNULL request,
                           fc_http_response* FC_NONNULL response, fc_error* FC_NONNULL out_error);
  void (*FC_NULLABLE destroy)(void* FC_NULLABLE context);
} fc_transport;

/* The HTTP status of the answer. Inside a post callback only.
 * Threads: only inside the transport callback, on its thread. */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_http_response_set_status(
    fc_http_response* FC_NULLABLE response, int32_t status, fc_error* FC_NULLABLE out_error);
/* The decoded body (copied). Inside a post callback only.
 * Threads: only inside the transport callback, on its thread. */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_http_response_set_body(
    fc_http_response* FC_NULLABLE response, const uint8_t* FC_NULLABLE body, size_t size,
    fc_error* FC_NULLABLE out_error);
/* Bytes on the wire (after compression) for the progress figures. Inside a post callback only.
 * Threads: only inside the transport callback, on its thread. */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_http_response_set_wire_bytes(
    fc_http_response* FC_NULLABLE response, uint64_t sent, uint64_t received,
    fc_error* FC_NULLABLE out_error);

/* Time. wall_ms: Unix time in milliseconds (may jump); monotonic_ns: never goes backwards.
 * Must be thread-safe. Default: the system clocks. */
typedef struct fc_clock {
  void* FC_NULLABLE context;
  int64_t (*FC_NULLABLE wall_ms)(void* FC_NULLABLE context);
  int64_t (*FC_NULLABLE monotonic_ns)(void* FC_NULLABLE context);
  void (*FC_NULLABLE destroy)(void* FC_NULLABLE context);
} fc_clock;

typedef enum fc_connectivity_state {
  FC_CONNECTIVITY_OFFLINE = 0,
  FC_CONNECTIVITY_ONLINE = 1
} fc_connectivity_state;

/* Whether the network is reachable (ConnectivityManager, NWPathMonitor). fc_device_sync asks
 * first and fails fast with FC_ERR_IO "offline" without calling the transport. Default: online. */
typedef struct fc_connectivity {
  void* FC_NULLABLE context;
  int32_t (*FC_NULLABLE state)(void* FC_NULLABLE context); /* fc_connectivity_state */
  void (*FC_NULLABLE destroy)(void* FC_NULLABLE context);
} fc_connectivity;

typedef enum fc_log_level {
  FC_LOG_DEBUG = 0,
  FC_LOG_INFO = 1,
  FC_LOG_WARNING = 2,
  FC_LOG_ERROR = 3
} fc_log_level;

/* Where the library's log lines go (Logcat, os_log). Messages never contain case data or
 * secrets: operation names, counts, error codes. Default: nothing is logged. */
typedef struct fc_logger {
  void* FC_NULLABLE context;
  void (*FC_NULLABLE log)(void* FC_NULLABLE context, int32_t level, const char* FC_NONNULL message);
  int32_t min_level; /* fc_log_level; lower levels are not delivered */
  void (*FC_NULLABLE destroy)(void* FC_NULLABLE context);
} fc_logger;

/* ---------------------------------------------------------------------------------------------
 * Device: the worker's encrypted database on this device, its keys, records and sync.
 * ------------------------------------------------------------------------------------------- */

typedef struct fc_device fc_device;

typedef enum fc_kdf_cost {
  FC_KDF_DEVICE_DEFAULT = 0, /* Argon2id, 3 passes over 64 MiB */
  FC_KDF_MINIMUM = 1         /* libsodium's minimum: tests and demos only */
} fc_kdf_cost;

/* How a device is opened. Initialise with fc_device_config_init, then set members. Strings are
 * borrowed for the duration of fc_device_create/fc_device_open (they are copied). */
typedef struct fc_device_config {
  uint32_t size;                     /* sizeof(fc_device_config), set by fc_device_config_init */
  const char* FC_NULLABLE database;  /* required: path of the encrypted database */
  const char* FC_NULLABLE worker_id; /* required: the worker's record id (a UUID) */
  const char* FC_NULLABLE device_id; /* required: as issued by the server */
  const char* FC_NULLABLE role;      /* "social_worker" (NULL), "team_manager", ... */
  const char* FC_NULLABLE server_url;   /* for the default transport: "http://host:port" */
  const char* FC_NULLABLE keystore_dir; /* for the default key store (0700 dir, 0600 files) */
  int32_t kdf;                /* fc_kdf_cost */
  int32_t max_failed_unlocks; /* after this many wrong PINs the data is erased; default 10 */
  int32_t idle_timeout_s;     /* locks after this long unused; default 300 */
  int32_t sync_attempts;      /* tries per round trip before fc_device_sync gives up; default 5
                                 (with backoff from 0.5 s); 1 when the host schedules retries */
  /* Services; NULL means the Linux default (needs keystore_dir / server_url). */
  const fc_keystore* FC_NULLABLE keystore;
  const fc_transport* FC_NULLABLE transport;
  const fc_clock* FC_NULLABLE clock;
  const fc_connectivity* FC_NULLABLE connectivity;
  const fc_logger* FC_NULLABLE logger;
} fc_device_config;

/* Zeroes *config and sets size and the defaults.
 * Threads: any thread, any time. */
FC_EXPORT void fc_device_config_init(fc_device_config* FC_NULLABLE config);

/* Whether `pin` may be set as a new PIN: at least 6 characters (at most 256), and not one
 * character repeated, a run ("123456", "654321") or a repeated group ("121212", "123123");
 * FC_ERR_WEAK_PIN says which rule it breaks. fc_device_create and fc_device_change_pin apply the
 * same policy; a host asks first when it must not commit to anything with a PIN that will be
 * refused (such as redeeming a one-time enrollment code). Needs no device.
 * Threads: any thread, any time. */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_check_pin_policy(const char* FC_NULLABLE pin,
                                                         fc_error* FC_NULLABLE out_error);

/* Creates a new encrypted database under `pin` (which must pass fc_check_pin_policy) and returns
 * the device, unlocked. FC_ERR_ALREADY_EXISTS if the database exists, FC_ERR_WEAK_PIN if the PIN
 * breaks the policy. A failure once the database exists (such as a worker_id that is not a
 * record id) erases it again, so the call can be retried. The device holds no token until
 * fc_device_set_token.
 * Threads: any thread (one device per database at a time). */
FC_EXPORT FC_WARN_UNUSED_RESULT fc_device* FC_NULLABLE fc_device_create(
    const fc_device_config* FC_NULLABLE config, const char* FC_NULLABLE pin,
    fc_error* FC_NULLABLE out_error);
/* Opens an existing database, locked. FC_ERR_WIPED if it was erased, FC_ERR_NOT_FOUND if it or
 * its key is missing.
 * Threads: any thread (one device per database at a time). */
FC_EXPORT FC_WARN_UNUSED_RESULT fc_device* FC_NULLABLE fc_device_open(
    const fc_device_config* FC_NULLABLE config, fc_error* FC_NULLABLE out_error);
/* Locks (wiping keys from memory) and releases the device and its services. NULL or an already
 * released handle is ignored. Safe while another thread is inside a call on the device: the
 * handle becomes invalid at once and the object goes when that call returns.
 * Threads: any thread, any time. */
FC_EXPORT void fc_device_release(fc_device* FC_NULLABLE device);

/* FC_ERR_WRONG_PIN (attempts left in the message and fc_device_attempts_left), FC_ERR_WIPED
 * after the last allowed attempt. The PIN is always checked and counted: an unlocked device is
 * locked first, so a wrong PIN leaves it locked.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_unlock(fc_device* FC_NULLABLE device,
                                                      const char* FC_NULLABLE pin,
                                                      fc_error* FC_NULLABLE out_error);
/* Closes the database and wipes keys from memory. Idempotent.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_lock(fc_device* FC_NULLABLE device,
                                                    fc_error* FC_NULLABLE out_error);
/* Whether the device was unlocked at the end of the last call on it (an idle lock shows after
 * fc_device_poll_idle or the next call); false for an invalid handle.
 * Threads: any thread, any time. */
FC_EXPORT bool fc_device_is_unlocked(fc_device* FC_NULLABLE device);
/* Locks the device if it has been idle longer than its idle timeout; call from a timer.
 * *out_locked (may be NULL) tells whether it locked now.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_poll_idle(fc_device* FC_NULLABLE device,
                                                         bool* FC_NULLABLE out_locked,
                                                         fc_error* FC_NULLABLE out_error);
/* Unlock attempts left before the data is erased, as of the last call; -1 for an invalid
 * handle.
 * Threads: any thread, any time. */
FC_EXPORT int32_t fc_device_attempts_left(fc_device* FC_NULLABLE device);
/* Re-wraps the database key under new_pin. Needs an unlocked device and the current PIN,
 * counted like an unlock (a wrong old_pin is FC_ERR_WRONG_PIN and uses up an attempt). A new_pin
 * that breaks the PIN policy is FC_ERR_WEAK_PIN, refused before old_pin is tried.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_change_pin(fc_device* FC_NULLABLE device,
                                                          const char* FC_NULLABLE old_pin,
                                                          const char* FC_NULLABLE new_pin,
                                                          fc_error* FC_NULLABLE out_error);
/* Crypto-erases the device now (keys, device secret, database). `reason` must not contain case
 * data. Afterwards every call on the device is FC_ERR_WIPED.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_wipe(fc_device* FC_NULLABLE device,
                                                    const char* FC_NULLABLE reason,
                                                    fc_error* FC_NULLABLE out_error);
/* Keeps the device token issued by the server inside the encrypted vault (for fc_device_sync),
 * behind the PIN and erased with the data by every wipe; a device created again after a wipe has
 * no token until it enrolls again. The device must be unlocked, so that only its worker can
 * point it at another credential.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_set_token(fc_device* FC_NULLABLE device,
                                                         const char* FC_NULLABLE token,
                                                         fc_error* FC_NULLABLE out_error);

/* --- Reading records (the device must be unlocked: FC_ERR_LOCKED otherwise) ---
 *
 * A record is {"id", "kind", "case_id", "fields": {name: value}, "created_at", "created_by",
 * "updated_at", "updated_by", "deleted"}. A value is null, true/false, an integer, a string
 * (dates "YYYY-MM-DD", times "YYYY-MM-DDTHH:MM:SSZ") or an array of code strings. Kinds:
 * "child", "contact", "referral", "assessment", "visit", "case_note", "s47_enquiry",
 * "cp_plan", "cin_plan", "lac_episode", "attachment" (and the organisation's kinds). */

/* The children allocated to the worker: a JSON array of records.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_caseload(
    fc_device* FC_NULLABLE device, fc_error* FC_NULLABLE out_error);
/* "My day" for `today` ("YYYY-MM-DD"): {"today", "overdue": [...], "due_today": [...],
 * "due_this_week": [...], "changes_waiting"}; each item {"what", "record_id", "case_id",
 * "child_name", "label", "due", "working_days_left"}.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_my_day(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE today, fc_error* FC_NULLABLE out_error);
/* One record (tombstones included, "deleted": true). FC_ERR_NOT_FOUND if there is none.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_get_record(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE id, fc_error* FC_NULLABLE out_error);
/* The live records of `kind`, of one case when case_id is not NULL: a JSON array.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_list_records(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE kind, const char* FC_NULLABLE case_id,
    fc_error* FC_NULLABLE out_error);
/* Every change of a record, oldest first: [{"op", "field", "value", "hlc", "author", "device",
 * "at"}].
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_history(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE id, fc_error* FC_NULLABLE out_error);
/* Open conflicts on the worker's cases: [{"conflict_id", "record_id", "case_id", "field",
 * "kept", "lost", "lost_author"}]. Settle one with fc_device_resolve_conflict.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_conflicts(
    fc_device* FC_NULLABLE device, fc_error* FC_NULLABLE out_error);
/* Settles a conflict: writes `value_json` (one JSON value: the conflict's "kept" or "lost", or
 * a new one; null clears the field) to its field as the worker's edit, in its own local
 * transaction, even when it equals the kept value. The conflict leaves fc_device_conflicts at
 * once; when the server accepts the write at the next sync, the field's conflicts close for
 * every device and the manager (if it refuses, the conflict comes back). FC_ERR_NOT_FOUND for an
 * unknown conflict id; FC_ERR_INVALID_ARGUMENT for malformed JSON; FC_ERR_VALIDATION for a value the
 * field does not accept.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_resolve_conflict(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE conflict_id,
    const char* FC_NULLABLE value_json, fc_error* FC_NULLABLE out_error);
/* Transactions the server refused: [{"tx_id", "code", "reason"}].
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_rejections(
    fc_device* FC_NULLABLE device, fc_error* FC_NULLABLE out_error);
/* Local transactions not yet accepted by the server.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_pending_transactions(
    fc_device* FC_NULLABLE device, int64_t* FC_NULLABLE out_count, fc_error* FC_NULLABLE out_error);

/* --- Writing records: each call is one local transaction, validated first; nothing is written
 * on failure (FC_ERR_VALIDATION names the field and the rule). --- */

/* Creates a record of `kind` in case_id (NULL for a child, which is its own case) from a JSON
 * object of fields; returns the new id.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_create_record(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE kind, const char* FC_NULLABLE case_id,
    const char* FC_NULLABLE fields_json, fc_error* FC_NULLABLE out_error);
/* Sets the fields of a JSON object on record `id`; null clears a field.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_update_record(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE id,
    const char* FC_NULLABLE changes_json, fc_error* FC_NULLABLE out_error);
/* Deletes (tombstones) record `id`.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT bool fc_device_delete_record(fc_device* FC_NULLABLE device,
                                                             const char* FC_NULLABLE id,
                                                             fc_error* FC_NULLABLE out_error);
/* Several writes as ONE local transaction (a visit and its notes arrive together or not at
 * all). ops_json is an array of operations:
 *   {"op": "create", "kind": K, "case_id": C, "fields": {...}, "ref": "v",
 *    "links": {"visit_id": "v"}}   links set a field to the id created by an earlier "ref";
 *                                  "case_ref": "c" instead of "case_id" names the case created
 *                                  by an earlier ref (a new child and its first visit)
 *   {"op": "update", "id": ID, "fields": {...}}
 *   {"op": "delete", "id": ID}
 *   {"op": "correct", "id": NOTE_ID, "text": T}   appends a correction of a completed note
 * Returns a JSON array with, per operation, the id it created or null.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_write(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE ops_json,
    fc_error* FC_NULLABLE out_error);
/* Stores a photo or document under record parent_id (encrypted with the database; at most
 * 10 MiB); returns the attachment's record id. caption may be NULL.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_attach(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE parent_id,
    const char* FC_NULLABLE filename, const char* FC_NULLABLE media_type,
    const uint8_t* FC_NULLABLE bytes, size_t size, const char* FC_NULLABLE caption,
    fc_error* FC_NULLABLE out_error);
/* The bytes of an attachment (release with fc_bytes_release); *out_size gets their number. An
 * empty attachment returns a valid pointer with *out_size 0.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT uint8_t* FC_NULLABLE fc_device_attachment_bytes(
    fc_device* FC_NULLABLE device, const char* FC_NULLABLE attachment_id,
    size_t* FC_NULLABLE out_size, fc_error* FC_NULLABLE out_error);

/* --- Sync --- */

typedef struct fc_sync_progress {
  uint64_t transactions_sent;
  uint64_t transactions_total; /* outbox size when the run started */
  uint64_t changes_received;
  uint64_t bytes_sent;
  uint64_t bytes_received;
  int32_t round;
} fc_sync_progress;

/* Called after each round trip on the syncing thread. Return false to cancel the run (it stops
 * before the next round; fc_device_sync then fails with FC_ERR_CANCELLED). Must not call into
 * the device. */
typedef bool (*fc_sync_progress_fn)(void* FC_NULLABLE context,
                                    const fc_sync_progress* FC_NONNULL progress);

/* Sends the unsynced changes and brings back the changes of the worker's cases, round trip by
 * round trip until both sides are done, through the configured transport with the device token
 * (fc_device_set_token). Returns the report as JSON: {"round_trips", "accepted", "rejected",
 * "changes_received", "bytes_sent", "bytes_received", "rejections": [...], "purged_cases":
 * [...], "clock_offset_ms", "offline_limit_days", "wiped", "wipe_reason"}. Cases reallocated
 * away are purged; if the server orders a wipe (device revoked, or retired once its work is
 * delivered) the device is crypto-erased before returning ("wiped": true). Works while the
 * device is offline-locked, and a successful exchange lifts the lock; every other call on case
 * data fails with FC_ERR_OFFLINE_LOCKED once the device has gone longer than the server's
 * offline_limit_days without a sync. A wiped device (and a device created where a wiped one
 * was) first reports the wipe to the server, which revokes the old device; on a wiped device the
 * call then fails with FC_ERR_WIPED. Errors: FC_ERR_IO (offline, unreachable after retries),
 * FC_ERR_UNAUTHENTICATED, FC_ERR_CANCELLED, FC_ERR_NOT_FOUND (no token). progress may be NULL. Blocks: call it off the UI thread.
 * Threads: one call per device at a time (another thread gets FC_API_BUSY). */
FC_EXPORT FC_WARN_UNUSED_RESULT char* FC_NULLABLE fc_device_sync(
    fc_device* FC_NULLABLE device, fc_sync_progress_fn FC_NULLABLE progress,
    void* FC_NULLABLE progress_context, fc_error* FC_NULLABLE out_error);
/* Asks a running fc_device_sync to stop before its next round (it fails with
 * FC_ERR_CANCELLED); a no-op when none runs. Thread-safe: the one call meant for another
 * thread while the device is busy. Returns false for an invalid handle.
 * Threads: any thread, any time. */
FC_EXPORT bool fc_device_cancel_sync(fc_device* FC_NULLABLE device);

#ifdef __cplusplus
} /* extern "C" */
#endif

#if defined(__clang__)
#pragma clang diagnostic pop
#endif

#endif /* FIELDCASE_H */
