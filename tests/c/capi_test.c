/*
 * Tests of the C API written in C99: the app's whole path against a real fieldcase-server on
 * loopback (create, unlock, record a visit, sync, receive a purge), host-supplied platform
 * services (an in-memory key store, a transport forwarding to loopback, a clock, a logger,
 * connectivity), and every error path and misuse the header documents.
 *
 * usage: fieldcase-c-tests <test>   (CTest runs each test as capi.c.<test>)
 */
#define _XOPEN_SOURCE 700

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "c_support.h"

static const char* kPin = "246813";

/* A configuration for a device of `worker` in dir, with the Linux default services. */
static void default_config(fc_device_config* config, const char* dir, char* db, char* keys,
                           size_t size, const char* worker, const char* device, const char* url) {
  fc_device_config_init(config);
  path_join(db, size, dir, "case.db");
  path_join(keys, size, dir, "keys");
  config->database = db;
  config->keystore_dir = keys;
  config->worker_id = worker;
  config->device_id = device;
  config->server_url = url;
  config->kdf = FC_KDF_MINIMUM;
  config->sync_attempts = 1;
}

/* Whether any file under `path` (a file or a directory, searched recursively) holds `needle`. */
static bool any_file_holds(const char* path, const char* needle) {
  struct stat st;
  if (stat(path, &st) != 0) return false;
  if (S_ISDIR(st.st_mode)) {
    DIR* d = opendir(path);
    struct dirent* e;
    bool found = false;
    char child[1024];
    if (d == NULL) return false;
    while (!found && (e = readdir(d)) != NULL) {
      if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) continue;
      path_join(child, sizeof child, path, e->d_name);
      found = any_file_holds(child, needle);
    }
    closedir(d);
    return found;
  }
  if (S_ISREG(st.st_mode) && st.st_size > 0) {
    FILE* f = fopen(path, "rb");
    size_t n, size = (size_t)st.st_size, len = strlen(needle), i;
    char* bytes = (char*)malloc(size);
    bool found = false;
    if (f == NULL || bytes == NULL) {
      if (f != NULL) fclose(f);
      free(bytes);
      return false;
    }
    n = fread(bytes, 1, size, f);
    fclose(f);
    for (i = 0; !found && len > 0 && i + len <= n; ++i) found = memcmp(bytes + i, needle, len) == 0;
    free(bytes);
    return found;
  }
  return false;
}

/* Whether any file of the device with database `db` and key store `keys` holds `needle`. */
static bool device_files_hold(const char* db, const char* keys, const char* needle) {
  static const char* const suffixes[] = {"",         "-wal",     "-shm",         "-journal",
                                         ".key",     ".receipt", ".wipe-reports", ".wiped"};
  char path[800];
  size_t i;
  if (any_file_holds(keys, needle)) return true;
  for (i = 0; i < sizeof suffixes / sizeof suffixes[0]; ++i) {
    snprintf(path, sizeof path, "%s%s", db, suffixes[i]);
    if (any_file_holds(path, needle)) return true;
  }
  return false;
}

/* The child's fields; allocated to `worker`. */
static void child_json(char* out, size_t size, const char* worker) {
  snprintf(out, size,
           "{\"first_name\": \"Alex\", \"last_name\": \"Smith\", \"date_of_birth\": "
           "\"2015-03-02\", \"gender\": \"1\", \"local_id\": \"C-1001\", "
           "\"allocated_worker\": \"%s\"}",
           worker);
}

/* Records a visit with two notes as one transaction; returns the ids array (caller releases). */
static char* record_visit(fc_device* device, const char* case_id, fc_error* err) {
  char ops[2048];
  snprintf(ops, sizeof ops,
           "[{\"op\": \"create\", \"kind\": \"visit\", \"case_id\": \"%s\", \"ref\": \"v\", "
           "\"fields\": {\"visit_type\": \"child_in_need\", \"start_at\": "
           "\"2024-05-01T10:00:00Z\", \"child_seen\": true, \"child_seen_alone\": true, "
           "\"observations\": \"Calm and chatty \xC3\xA9\"}},"
           " {\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"%s\", "
           "\"links\": {\"visit_id\": \"v\"}, \"fields\": {\"contact_at\": "
           "\"2024-05-01T10:00:00Z\", \"text\": \"Discussed school\", \"status\": "
           "\"completed\"}},"
           " {\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"%s\", "
           "\"links\": {\"visit_id\": \"v\"}, \"fields\": {\"contact_at\": "
           "\"2024-05-01T10:00:00Z\", \"text\": \"Met grandmother\", \"status\": "
           "\"completed\"}}]",
           case_id, case_id, case_id);
  return fc_device_write(device, ops, err);
}

/* Copies the first JSON string value in `ids` (an array of ids) into out. */
static void first_id(const char* ids, char* out, size_t size) {
  const char* q = ids != NULL ? strchr(ids, '"') : NULL;
  const char* end = q != NULL ? strchr(q + 1, '"') : NULL;
  out[0] = '\0';
  if (q != NULL && end != NULL) snprintf(out, size, "%.*s", (int)(end - q - 1), q + 1);
}

typedef struct progress_log {
  int calls;
  int32_t last_round;
  uint64_t last_sent;
  uint64_t total;
  int cancel_at; /* call number that returns false; 0: never */
} progress_log;

static bool on_progress(void* context, const fc_sync_progress* p) {
  progress_log* log = (progress_log*)context;
  ++log->calls;
  log->last_round = p->round;
  log->last_sent = p->transactions_sent;
  log->total = p->transactions_total;
  return log->cancel_at == 0 || log->calls < log->cancel_at;
}

/* --- end to end ------------------------------------------------------------------------ */

static void test_end_to_end(void) {
  char dir[512], db[600], keys[600], team[128], ann[128], bea[128], device_id[128], token[256];
  char child_fields[512], child[128], visit[128];
  test_server server;
  fc_device_config config;
  fc_device* device;
  fc_error err;
  char* text;
  int64_t pending = -1;
  progress_log progress;

  temp_dir_make(dir, sizeof dir);
  CHECK(server_start(&server, dir));
  CHECK(org_create(&server, team, sizeof team));
  CHECK(org_worker(&server, team, "Ann", ann, sizeof ann));
  CHECK(org_worker(&server, team, "Bea", bea, sizeof bea));
  CHECK(org_issue_device(&server, ann, device_id, sizeof device_id, token, sizeof token));

  default_config(&config, dir, db, keys, sizeof db, ann, device_id, server.url);
  device = fc_device_create(&config, kPin, &err);
  CHECK_OK(device != NULL, err);
  CHECK(err.domain == FC_DOMAIN_NONE && err.code == 0 && err.message[0] == '\0');
  CHECK(fc_device_is_unlocked(device));
  CHECK_OK(fc_device_set_token(device, token, &err), err);
  /* The token is kept inside the vault: no file of the device holds it. */
  CHECK(!device_files_hold(db, keys, token));

  /* The app locks and unlocks with the PIN. */
  CHECK_OK(fc_device_lock(device, &err), err);
  CHECK(!fc_device_is_unlocked(device));
  CHECK(!fc_device_unlock(device, "1111", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN);
  CHECK(contains(err.message, "attempts left"));
  CHECK(!contains(err.message, "1111"));
  CHECK(fc_device_attempts_left(device) == 9);
  CHECK_OK(fc_device_unlock(device, kPin, &err), err);
  CHECK(fc_device_attempts_left(device) == 10);
  /* Unlocking an unlocked device checks the PIN all the same. */
  CHECK(!fc_device_unlock(device, "9999", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN);
  CHECK(!fc_device_is_unlocked(device));
  CHECK_OK(fc_device_unlock(device, kPin, &err), err);
  CHECK_OK(fc_device_unlock(device, kPin, &err), err);
  CHECK(fc_device_is_unlocked(device));

  /* A new child and a visit with its notes. */
  child_json(child_fields, sizeof child_fields, ann);
  text = fc_device_create_record(device, "child", NULL, child_fields, &err);
  CHECK_OK(text != NULL, err);
  snprintf(child, sizeof child, "%s", text != NULL ? text : "");
  fc_string_release(text);
  text = record_visit(device, child, &err);
  CHECK_OK(text != NULL, err);
  first_id(text, visit, sizeof visit);
  CHECK(text != NULL && contains(text, "[\"") && contains(text, "\",\""));
  fc_string_release(text);

  text = fc_device_get_record(device, visit, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"kind\":\"visit\""));
  CHECK(contains(text, "\"observations\":\"Calm and chatty \xC3\xA9\""));
  CHECK(contains(text, child));
  fc_string_release(text);
  text = fc_device_list_records(device, "case_note", child, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "Discussed school") && contains(text, "Met grandmother"));
  CHECK(contains(text, visit));
  fc_string_release(text);
  CHECK_OK(fc_device_pending_transactions(device, &pending, &err), err);
  CHECK(pending == 2);

  /* Sync: both transactions accepted, progress reported. */
  memset(&progress, 0, sizeof progress);
  text = fc_device_sync(device, on_progress, &progress, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"accepted\":2"));
  CHECK(contains(text, "\"rejected\":0"));
  CHECK(contains(text, "\"wiped\":false"));
  fc_string_release(text);
  CHECK(progress.calls >= 2);
  CHECK(progress.total == 2 && progress.last_sent == 2 && progress.last_round >= 1);
  CHECK_OK(fc_device_pending_transactions(device, &pending, &err), err);
  CHECK(pending == 0);
  text = fc_device_caseload(device, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, child));
  fc_string_release(text);

  /* A second device of Ann's: the same field edited on both is a conflict, kept on both. */
  {
    char dir_b[600], db_b[700], keys_b[700], device_b[128], token_b[256];
    fc_device_config config_b;
    fc_device* b;
    fc_device* both[2];
    int i;
    path_join(dir_b, sizeof dir_b, dir, "b");
    CHECK(mkdir(dir_b, 0700) == 0);
    CHECK(org_issue_device(&server, ann, device_b, sizeof device_b, token_b, sizeof token_b));
    default_config(&config_b, dir_b, db_b, keys_b, sizeof db_b, ann, device_b, server.url);
    b = fc_device_create(&config_b, kPin, &err);
    CHECK_OK(b != NULL, err);
    CHECK_OK(fc_device_set_token(b, token_b, &err), err);
    text = fc_device_sync(b, NULL, NULL, &err);
    CHECK_OK(text != NULL, err);
    CHECK(contains(text, "\"changes_received\":") && !contains(text, "\"changes_received\":0"));
    fc_string_release(text);
    text = fc_device_get_record(b, visit, &err);
    CHECK_OK(text != NULL, err);
    fc_string_release(text);
    CHECK_OK(fc_device_update_record(device, visit, "{\"observations\": \"Seen at home\"}", &err),
             err);
    CHECK_OK(fc_device_update_record(b, visit, "{\"observations\": \"Seen at school\"}", &err),
             err);
    both[0] = device;
    both[1] = b;
    for (i = 0; i < 3; ++i) {
      text = fc_device_sync(both[i % 2], NULL, NULL, &err);
      CHECK_OK(text != NULL, err);
      fc_string_release(text);
    }
    for (i = 0; i < 2; ++i) {
      text = fc_device_conflicts(both[i], &err);
      CHECK_OK(text != NULL, err);
      CHECK(contains(text, visit) && contains(text, "\"field\":\"observations\""));
      CHECK(contains(text, "Seen at home") && contains(text, "Seen at school"));
      fc_string_release(text);
    }
    /* Settled on b with a new value: after both sync, no conflict is left anywhere. */
    text = fc_device_conflicts(b, &err);
    CHECK_OK(text != NULL, err);
    {
      char conflict_id[64] = {0};
      const char* at = text != NULL ? strstr(text, "\"conflict_id\":\"") : NULL;
      CHECK(at != NULL);
      if (at != NULL) {
        at += strlen("\"conflict_id\":\"");
        for (i = 0; i < 63 && at[i] != '\0' && at[i] != '"'; ++i) conflict_id[i] = at[i];
      }
      fc_string_release(text);
      CHECK(!fc_device_resolve_conflict(b, "no-such-conflict", "null", &err));
      CHECK(err.domain == FC_DOMAIN_FIELDCASE && err.code == FC_ERR_NOT_FOUND);
      CHECK(!fc_device_resolve_conflict(b, conflict_id, "{not json", &err));
      CHECK(err.domain == FC_DOMAIN_FIELDCASE && err.code == FC_ERR_INVALID_ARGUMENT);
      CHECK_OK(fc_device_resolve_conflict(b, conflict_id, "\"Seen at home, then school\"", &err),
               err);
    }
    for (i = 0; i < 3; ++i) {
      text = fc_device_sync(both[(i + 1) % 2], NULL, NULL, &err);
      CHECK_OK(text != NULL, err);
      fc_string_release(text);
    }
    for (i = 0; i < 2; ++i) {
      text = fc_device_conflicts(both[i], &err);
      CHECK_OK(text != NULL, err);
      CHECK(text != NULL && strcmp(text, "[]") == 0);
      fc_string_release(text);
      text = fc_device_get_record(both[i], visit, &err);
      CHECK_OK(text != NULL, err);
      CHECK(contains(text, "Seen at home, then school"));
      fc_string_release(text);
    }
    fc_device_release(b);
  }

  /* The case is reallocated to Bea: the next sync purges it from this device. */
  CHECK(server_admin(&server, NULL, 0, "allocate", "--case", child, "--worker", bea,
                     (const char*)NULL));
  text = fc_device_sync(device, NULL, NULL, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"purged_cases\":[\""));
  CHECK(contains(text, child));
  fc_string_release(text);
  text = fc_device_caseload(device, &err);
  CHECK_OK(text != NULL, err);
  CHECK(text != NULL && strcmp(text, "[]") == 0);
  fc_string_release(text);
  CHECK(fc_device_get_record(device, visit, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_NOT_FOUND);

  /* Released and reopened: locked until the PIN is given. */
  fc_device_release(device);
  device = fc_device_open(&config, &err);
  CHECK_OK(device != NULL, err);
  CHECK(!fc_device_is_unlocked(device));
  CHECK(fc_device_caseload(device, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
  CHECK_OK(fc_device_unlock(device, kPin, &err), err);
  text = fc_device_sync(device, NULL, NULL, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"accepted\":0"));
  fc_string_release(text);

  /* The device is revoked: the next sync crypto-erases it. */
  CHECK(server_admin(&server, NULL, 0, "device", "revoke", "--device", device_id,
                     (const char*)NULL));
  text = fc_device_sync(device, NULL, NULL, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"wiped\":true"));
  fc_string_release(text);
  CHECK(fc_device_caseload(device, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
  fc_device_release(device);
  CHECK(fc_device_open(&config, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
  CHECK(!device_files_hold(db, keys, token));

  /* A device the app wipes reports it at its next contact, and the server revokes it; a device
     created again in its place has no token and must enroll again. */
  {
    char dir_c[600], db_c[700], keys_c[700], device_c[128], token_c[256], devices[4096];
    fc_device_config config_c;
    fc_device* c;
    const char* line;
    path_join(dir_c, sizeof dir_c, dir, "c");
    CHECK(mkdir(dir_c, 0700) == 0);
    CHECK(org_issue_device(&server, bea, device_c, sizeof device_c, token_c, sizeof token_c));
    default_config(&config_c, dir_c, db_c, keys_c, sizeof db_c, bea, device_c, server.url);
    c = fc_device_create(&config_c, kPin, &err);
    CHECK_OK(c != NULL, err);
    CHECK_OK(fc_device_set_token(c, token_c, &err), err);
    text = fc_device_sync(c, NULL, NULL, &err);
    CHECK_OK(text != NULL, err);
    fc_string_release(text);
    CHECK_OK(fc_device_wipe(c, "lost tablet", &err), err);
    CHECK(!any_file_holds(dir_c, token_c));
    CHECK(fc_device_sync(c, NULL, NULL, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
    CHECK(contains(err.message, "the server has been told"));
    fc_device_release(c);
    CHECK(server_admin_all(&server, devices, sizeof devices, "device", "list",
                           (const char*)NULL));
    line = strstr(devices, device_c);
    CHECK(line != NULL);
    if (line != NULL) {
      char row[512] = {0};
      size_t n = strcspn(line, "\n");
      memcpy(row, line, n < sizeof row - 1 ? n : sizeof row - 1);
      CHECK(contains(row, "\trevoked\t"));
    }

    c = fc_device_create(&config_c, kPin, &err);
    CHECK_OK(c != NULL, err);
    CHECK(fc_device_sync(c, NULL, NULL, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_NOT_FOUND);
    CHECK(contains(err.message, "no device token"));
    fc_device_release(c);
  }

  server_stop(&server);
  temp_dir_remove(dir);
}

/* --- host services ----------------------------------------------------------------------- */

#define MAX_SECRETS 8

typedef struct memory_keystore {
  char names[MAX_SECRETS][128];
  uint8_t secrets[MAX_SECRETS][FC_SECRET_MAX];
  size_t sizes[MAX_SECRETS];
  bool used[MAX_SECRETS];
  int gets, puts, removes;
  bool fail_puts;
  int destroyed;
} memory_keystore;

static int slot_of(memory_keystore* ks, const char* name) {
  int i;
  for (i = 0; i < MAX_SECRETS; ++i) {
    if (ks->used[i] && strcmp(ks->names[i], name) == 0) return i;
  }
  return -1;
}

static bool ks_get(void* context, const char* name, uint8_t* buffer, size_t capacity,
                   size_t* out_size, bool* out_found, fc_error* out_error) {
  memory_keystore* ks = (memory_keystore*)context;
  int i = slot_of(ks, name);
  (void)out_error;
  ++ks->gets;
  *out_found = i >= 0;
  if (i >= 0) {
    if (ks->sizes[i] > capacity) return false;
    memcpy(buffer, ks->secrets[i], ks->sizes[i]);
    *out_size = ks->sizes[i];
  }
  return true;
}

static bool ks_put(void* context, const char* name, const uint8_t* secret, size_t size,
                   fc_error* out_error) {
  memory_keystore* ks = (memory_keystore*)context;
  int i = slot_of(ks, name);
  ++ks->puts;
  if (ks->fail_puts) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 4242, "keystore unavailable");
    return false;
  }
  if (i < 0) {
    for (i = 0; i < MAX_SECRETS && ks->used[i]; ++i) {
    }
    if (i == MAX_SECRETS) {
      fc_error_set(out_error, FC_DOMAIN_FIELDCASE, FC_ERR_DISK_FULL, "keystore full");
      return false;
    }
  }
  ks->used[i] = true;
  snprintf(ks->names[i], sizeof ks->names[i], "%s", name);
  memcpy(ks->secrets[i], secret, size);
  ks->sizes[i] = size;
  return true;
}

static bool ks_remove(void* context, const char* name, fc_error* out_error) {
  memory_keystore* ks = (memory_keystore*)context;
  int i = slot_of(ks, name);
  (void)out_error;
  ++ks->removes;
  if (i >= 0) {
    memset(ks->secrets[i], 0, sizeof ks->secrets[i]);
    ks->used[i] = false;
  }
  return true;
}

static void ks_destroy(void* context) { ++((memory_keystore*)context)->destroyed; }

typedef struct loopback_transport {
  int port;
  int posts;
  bool fail;
  bool misuse_checked;
  char last_path[64];
  int destroyed;
} loopback_transport;

static fc_http_response* stale_response = NULL;

static bool tr_post(void* context, const fc_http_request* request, fc_http_response* response,
                    fc_error* out_error) {
  loopback_transport* t = (loopback_transport*)context;
  int status = 0;
  size_t size = 0;
  char* body;
  fc_error err;
  ++t->posts;
  snprintf(t->last_path, sizeof t->last_path, "%s", request->path);
  if (t->fail) {
    fc_error_set(out_error, FC_DOMAIN_HOST, 7, "no route to the server");
    return false;
  }
  body = http_post(t->port, request->path, request->body, request->body_size,
                   request->bearer_token, &status, &size);
  if (body == NULL) {
    fc_error_set(out_error, FC_DOMAIN_FIELDCASE, FC_ERR_IO, "no answer");
    return false;
  }
  if (!t->misuse_checked) {
    /* Out-of-range statuses are refused; the real one is accepted. */
    t->misuse_checked = true;
    CHECK(!fc_http_response_set_status(response, 42, &err));
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_INVALID_ARGUMENT);
  }
  stale_response = response;
  if (!fc_http_response_set_status(response, status, out_error) ||
      !fc_http_response_set_body(response, (const uint8_t*)body, size, out_error) ||
      !fc_http_response_set_wire_bytes(response, request->body_size + 200, size + 200,
                                       out_error)) {
    free(body);
    return false;
  }
  free(body);
  return true;
}

static void tr_destroy(void* context) { ++((loopback_transport*)context)->destroyed; }

typedef struct fixed_clock {
  int64_t wall_ms;
  int64_t mono_ns;
} fixed_clock;

static int64_t clock_wall(void* context) { return ((fixed_clock*)context)->wall_ms; }
static int64_t clock_mono(void* context) { return ((fixed_clock*)context)->mono_ns; }

typedef struct net_state {
  int32_t state;
} net_state;

static int32_t net_get(void* context) { return ((net_state*)context)->state; }

typedef struct log_lines {
  char text[4096];
  int count;
} log_lines;

static void log_line(void* context, int32_t level, const char* message) {
  log_lines* l = (log_lines*)context;
  size_t used = strlen(l->text);
  (void)level;
  ++l->count;
  snprintf(l->text + used, sizeof l->text - used, "%s\n", message);
}

static void test_host_services(void) {
  char dir[512], db[600], team[128], ann[128], device_id[128], token[256];
  char child_fields[512], child[128];
  test_server server;
  fc_device_config config;
  fc_device* device;
  fc_error err;
  char* text;
  static memory_keystore ks;
  loopback_transport tr;
  fixed_clock clk;
  net_state net;
  log_lines logs;
  fc_keystore keystore;
  fc_transport transport;
  fc_clock clock_service;
  fc_connectivity connectivity;
  fc_logger logger;
  progress_log progress;
  int64_t pending = 0;

  memset(&ks, 0, sizeof ks);
  memset(&tr, 0, sizeof tr);
  memset(&logs, 0, sizeof logs);
  clk.wall_ms = 1714557600000; /* 2024-05-01T10:00:00Z */
  clk.mono_ns = 1000000000;
  net.state = FC_CONNECTIVITY_ONLINE;

  temp_dir_make(dir, sizeof dir);
  CHECK(server_start(&server, dir));
  tr.port = server.port;
  CHECK(org_create(&server, team, sizeof team));
  CHECK(org_worker(&server, team, "Ann", ann, sizeof ann));
  CHECK(org_issue_device(&server, ann, device_id, sizeof device_id, token, sizeof token));

  keystore.context = &ks;
  keystore.get = ks_get;
  keystore.put = ks_put;
  keystore.remove = ks_remove;
  keystore.destroy = ks_destroy;
  transport.context = &tr;
  transport.post = tr_post;
  transport.destroy = tr_destroy;
  clock_service.context = &clk;
  clock_service.wall_ms = clock_wall;
  clock_service.monotonic_ns = clock_mono;
  clock_service.destroy = NULL;
  connectivity.context = &net;
  connectivity.state = net_get;
  connectivity.destroy = NULL;
  logger.context = &logs;
  logger.log = log_line;
  logger.min_level = FC_LOG_DEBUG;
  logger.destroy = NULL;

  fc_device_config_init(&config);
  path_join(db, sizeof db, dir, "case.db");
  config.database = db;
  config.worker_id = ann;
  config.device_id = device_id;
  config.kdf = FC_KDF_MINIMUM;
  config.sync_attempts = 1;
  config.idle_timeout_s = 60;
  config.keystore = &keystore;
  config.transport = &transport;
  config.clock = &clock_service;
  config.connectivity = &connectivity;
  config.logger = &logger;

  /* A key store that fails: the host's own domain and code come back. */
  ks.fail_puts = true;
  CHECK(fc_device_create(&config, kPin, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_HOST, 4242);
  CHECK(contains(err.message, "keystore unavailable"));
  CHECK(ks.destroyed == 1 && tr.destroyed == 1); /* the failed device gave its contexts back */
  ks.fail_puts = false;
  ks.destroyed = 0;
  tr.destroyed = 0;
  path_join(db, sizeof db, dir, "case2.db");

  device = fc_device_create(&config, kPin, &err);
  CHECK_OK(device != NULL, err);
  CHECK(ks.puts >= 1 && ks.used[0]); /* the device secret lives in the host's key store */
  CHECK_OK(fc_device_set_token(device, token, &err), err);

  child_json(child_fields, sizeof child_fields, ann);
  text = fc_device_create_record(device, "child", NULL, child_fields, &err);
  CHECK_OK(text != NULL, err);
  snprintf(child, sizeof child, "%s", text != NULL ? text : "");
  fc_string_release(text);
  /* Stamped with the host's clock. */
  text = fc_device_get_record(device, child, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"created_at\":\"2024-05-01T10:00:00"));
  fc_string_release(text);
  text = record_visit(device, child, &err);
  CHECK_OK(text != NULL, err);
  fc_string_release(text);

  /* Offline: the transport is not called. */
  net.state = FC_CONNECTIVITY_OFFLINE;
  CHECK(fc_device_sync(device, NULL, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_IO);
  CHECK(contains(err.message, "offline"));
  CHECK(tr.posts == 0);
  net.state = FC_CONNECTIVITY_ONLINE;

  /* The host's transport fails: its domain and code come back. */
  tr.fail = true;
  CHECK(fc_device_sync(device, NULL, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_HOST, 7);
  CHECK(contains(err.message, "no route to the server"));
  tr.fail = false;

  /* Cancelled from the progress callback before the first round. */
  memset(&progress, 0, sizeof progress);
  progress.cancel_at = 1;
  tr.posts = 0;
  CHECK(fc_device_sync(device, on_progress, &progress, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_CANCELLED);
  CHECK(tr.posts == 0);
  CHECK_OK(fc_device_pending_transactions(device, &pending, &err), err);
  CHECK(pending == 2);

  /* Through the host's transport to the real server. */
  memset(&progress, 0, sizeof progress);
  text = fc_device_sync(device, on_progress, &progress, &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"accepted\":2"));
  CHECK(contains(text, "\"bytes_received\":"));
  fc_string_release(text);
  CHECK(tr.posts >= 1);
  CHECK(strcmp(tr.last_path, "/v1/sync") == 0);
  CHECK(progress.last_sent == 2);
  /* The response may only be filled in during the callback. */
  CHECK(!fc_http_response_set_status(stale_response, 200, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NOT_IN_CALLBACK);
  CHECK(!fc_http_response_set_body(NULL, NULL, 0, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);

  /* Idle lock follows the host's monotonic clock. */
  {
    bool locked = true;
    CHECK_OK(fc_device_poll_idle(device, &locked, &err), err);
    CHECK(!locked);
    clk.mono_ns += (int64_t)61 * 1000000000;
    CHECK_OK(fc_device_poll_idle(device, &locked, &err), err);
    CHECK(locked);
    CHECK(!fc_device_is_unlocked(device));
    CHECK(fc_device_caseload(device, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
    CHECK_OK(fc_device_unlock(device, kPin, &err), err);
  }

  /* Changing the PIN goes through the host's key store like an unlock. */
  CHECK(!fc_device_change_pin(device, "0000", "135792", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN);
  CHECK_OK(fc_device_change_pin(device, kPin, "135792", &err), err);
  CHECK_OK(fc_device_lock(device, &err), err);
  CHECK(!fc_device_unlock(device, kPin, &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN);
  CHECK_OK(fc_device_unlock(device, "135792", &err), err);

  /* Wiping destroys the device secret in the host's key store. */
  CHECK_OK(fc_device_wipe(device, "lost tablet", &err), err);
  {
    int i, vault_entries = 0;
    for (i = 0; i < MAX_SECRETS; ++i) {
      if (ks.used[i] && strncmp(ks.names[i], "fieldcase.vault.", 16) == 0) ++vault_entries;
    }
    CHECK(vault_entries == 0);
    CHECK(ks.removes >= 1);
  }
  CHECK(fc_device_caseload(device, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
  CHECK(!fc_device_unlock(device, "135792", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);

  /* The log said what happened, without the PIN or the token. */
  CHECK(logs.count >= 5);
  CHECK(contains(logs.text, "sync finished"));
  CHECK(contains(logs.text, "unlock failed: wrong_pin"));
  CHECK(!contains(logs.text, kPin));
  CHECK(!contains(logs.text, "135792"));
  CHECK(!contains(logs.text, token));

  CHECK(tr.destroyed == 0);
  fc_device_release(device);
  CHECK(ks.destroyed == 1 && tr.destroyed == 1);
  fc_device_release(device); /* already released: ignored */
  CHECK(ks.destroyed == 1);

  server_stop(&server);
  temp_dir_remove(dir);
}

/* --- errors and misuse -------------------------------------------------------------------- */

static void test_errors(void) {
  char dir[512], db[600], keys[600], child_fields[512], child[128], note[128];
  const char* worker = "0189a000-0000-7000-8000-000000000001";
  fc_device_config config;
  fc_device* device;
  fc_device* released;
  fc_error err;
  char* text;
  uint8_t* bytes;
  size_t size = 0;
  int64_t pending = 0;
  bool flag = false;

  temp_dir_make(dir, sizeof dir);
  default_config(&config, dir, db, keys, sizeof db, worker, "device-1", "http://127.0.0.1:9");

  /* Version. */
  CHECK(fc_api_version() == FC_API_VERSION);
  CHECK(fc_api_version() / 10000 == FC_API_VERSION / 10000);
  CHECK(strlen(fc_version()) >= 5);

  /* Names of codes. */
  CHECK(strcmp(fc_error_code_name(FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN), "wrong_pin") == 0);
  CHECK(strcmp(fc_error_code_name(FC_DOMAIN_API, FC_API_INVALID_HANDLE), "invalid_handle") == 0);
  CHECK(strcmp(fc_error_code_name(FC_DOMAIN_NONE, 0), "ok") == 0);
  CHECK(strcmp(fc_error_code_name(99, 1), "unknown") == 0);
  CHECK(strcmp(fc_error_code_name(FC_DOMAIN_FIELDCASE, 12345), "unknown") == 0);

  /* Configuration mistakes. */
  CHECK(fc_device_open(NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
  {
    fc_device_config raw;
    memset(&raw, 0, sizeof raw);
    raw.database = db;
    CHECK(fc_device_create(&raw, kPin, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_CONFIG);
    raw = config;
    raw.keystore_dir = NULL;
    CHECK(fc_device_create(&raw, kPin, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_CONFIG);
    raw = config;
    raw.role = "chief_wizard";
    CHECK(fc_device_create(&raw, kPin, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_CONFIG);
    raw = config;
    raw.server_url = "ftp://example";
    CHECK(fc_device_create(&raw, kPin, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_CONFIG);
  }
  /* No database yet. */
  CHECK(fc_device_open(&config, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_NOT_FOUND);
  /* PINs the policy refuses, with the same answer before and at creation. */
  CHECK(fc_device_create(&config, "12", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WEAK_PIN);
  CHECK(fc_device_create(&config, "123456", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WEAK_PIN);
  CHECK(!fc_check_pin_policy("2468", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WEAK_PIN);
  CHECK(!fc_check_pin_policy("000000", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WEAK_PIN);
  CHECK(!fc_check_pin_policy(NULL, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
  CHECK_OK(fc_check_pin_policy(kPin, &err), err);
  CHECK(strcmp(fc_error_code_name(FC_DOMAIN_FIELDCASE, FC_ERR_WEAK_PIN), "weak_pin") == 0);
  CHECK(fc_device_create(&config, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);

  config.max_failed_unlocks = 3;
  device = fc_device_create(&config, kPin, &err);
  CHECK_OK(device != NULL, err);
  CHECK(fc_device_create(&config, kPin, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_ALREADY_EXISTS);

  /* NULL handles and arguments. */
  CHECK(!fc_device_unlock(NULL, kPin, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_INVALID_HANDLE);
  CHECK(fc_device_caseload(NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_INVALID_HANDLE);
  CHECK(!fc_device_unlock(device, NULL, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
  CHECK(fc_device_get_record(device, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
  CHECK(!fc_device_pending_transactions(device, NULL, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
  CHECK(!fc_device_is_unlocked(NULL));
  CHECK(fc_device_attempts_left(NULL) == -1);
  CHECK(!fc_device_cancel_sync(NULL));
  /* A forged handle. */
  CHECK(!fc_device_lock((fc_device*)&err, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_INVALID_HANDLE);
  /* Errors may be ignored: out_error NULL. */
  CHECK(fc_device_caseload(NULL, NULL) == NULL);
  fc_string_release(NULL);
  fc_bytes_release(NULL);
  fc_error_set(NULL, FC_DOMAIN_HOST, 1, "x");

  /* JSON and records. */
  CHECK(fc_device_create_record(device, "child", NULL, "{not json", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_JSON);
  CHECK(fc_device_create_record(device, "child", NULL, "[1, 2]", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_JSON);
  CHECK(fc_device_create_record(device, "child", NULL, "{\"first_name\": 1.5}", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_JSON);
  CHECK(contains(err.message, "first_name"));
  CHECK(fc_device_create_record(device, "dragon", NULL, "{}", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_INVALID_ARGUMENT);
  CHECK(fc_device_create_record(device, "child", NULL, "{\"first_name\": \"A\"}", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_VALIDATION);
  CHECK(contains(err.message, "child."));
  CHECK(fc_device_write(device, "[]", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_JSON);
  CHECK(fc_device_write(device, "[{\"op\": \"explode\"}]", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_BAD_JSON);
  CHECK(fc_device_get_record(device, "0189a000-0000-7000-8000-00000000dead", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_NOT_FOUND);
  CHECK(fc_device_my_day(device, "yesterday", &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_INVALID_ARGUMENT);

  child_json(child_fields, sizeof child_fields, worker);
  text = fc_device_create_record(device, "child", NULL, child_fields, &err);
  CHECK_OK(text != NULL, err);
  CHECK(err.domain == FC_DOMAIN_NONE && err.message[0] == '\0'); /* cleared on success */
  snprintf(child, sizeof child, "%s", text != NULL ? text : "");
  fc_string_release(text);
  CHECK_OK(fc_device_update_record(device, child, "{\"first_name\": \"Alexandra\"}", &err), err);
  CHECK(!fc_device_update_record(device, child, "{\"gender\": \"7\"}", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_VALIDATION);

  /* One transaction: a failure in the last operation writes nothing. */
  CHECK_OK(fc_device_pending_transactions(device, &pending, &err), err);
  CHECK(pending == 2);
  {
    char ops[1024];
    snprintf(ops, sizeof ops,
             "[{\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"%s\", \"fields\": "
             "{\"contact_at\": \"2024-05-01T10:00:00Z\", \"text\": \"ok\", \"status\": "
             "\"draft\"}}, {\"op\": \"update\", \"id\": \"%s\", \"fields\": {\"gender\": "
             "\"7\"}}]",
             child, child);
    CHECK(fc_device_write(device, ops, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_VALIDATION);
    CHECK_OK(fc_device_pending_transactions(device, &pending, &err), err);
    CHECK(pending == 2);
    text = fc_device_list_records(device, "case_note", child, &err);
    CHECK(text != NULL && strcmp(text, "[]") == 0);
    fc_string_release(text);
    /* A link to no earlier ref. */
    snprintf(ops, sizeof ops,
             "[{\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"%s\", \"links\": "
             "{\"visit_id\": \"nope\"}, \"fields\": {}}]",
             child);
    CHECK(fc_device_write(device, ops, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_INVALID_ARGUMENT);
  }

  /* Completed notes: corrections, not edits; deletion of a draft. */
  {
    char ops[1024];
    snprintf(ops, sizeof ops,
             "[{\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"%s\", \"fields\": "
             "{\"contact_at\": \"2024-05-01T10:00:00Z\", \"text\": \"Seen at home\", "
             "\"status\": \"completed\"}}]",
             child);
    text = fc_device_write(device, ops, &err);
    CHECK_OK(text != NULL, err);
    first_id(text, note, sizeof note);
    fc_string_release(text);
    CHECK(!fc_device_update_record(device, note, "{\"text\": \"changed\"}", &err));
    CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_VALIDATION);
    snprintf(ops, sizeof ops,
             "[{\"op\": \"correct\", \"id\": \"%s\", \"text\": \"Seen at school\"}]", note);
    text = fc_device_write(device, ops, &err);
    CHECK_OK(text != NULL, err);
    fc_string_release(text);
    text = fc_device_history(device, child, &err);
    CHECK_OK(text != NULL, err);
    CHECK(contains(text, "Alexandra"));
    fc_string_release(text);
  }

  /* Deleting a draft leaves a tombstone that lists no more. */
  {
    char ops[1024], draft[128];
    snprintf(ops, sizeof ops,
             "[{\"op\": \"create\", \"kind\": \"case_note\", \"case_id\": \"%s\", \"fields\": "
             "{\"contact_at\": \"2024-05-01T10:00:00Z\", \"text\": \"draft\", \"status\": "
             "\"draft\"}}]",
             child);
    text = fc_device_write(device, ops, &err);
    CHECK_OK(text != NULL, err);
    first_id(text, draft, sizeof draft);
    fc_string_release(text);
    CHECK_OK(fc_device_delete_record(device, draft, &err), err);
    text = fc_device_get_record(device, draft, &err);
    CHECK_OK(text != NULL, err);
    CHECK(contains(text, "\"deleted\":true"));
    fc_string_release(text);
    text = fc_device_list_records(device, "case_note", NULL, &err);
    CHECK_OK(text != NULL, err);
    CHECK(!contains(text, draft) && contains(text, note));
    fc_string_release(text);
    CHECK(!fc_device_delete_record(device, NULL, &err));
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
  }

  /* Attachments. */
  {
    const uint8_t photo[5] = {0x89, 'P', 'N', 'G', 0};
    char id[128];
    text = fc_device_attach(device, child, "photo.png", "image/png", photo, sizeof photo,
                            "front door", &err);
    CHECK_OK(text != NULL, err);
    snprintf(id, sizeof id, "%s", text != NULL ? text : "");
    fc_string_release(text);
    bytes = fc_device_attachment_bytes(device, id, &size, &err);
    CHECK_OK(bytes != NULL, err);
    CHECK(size == sizeof photo && bytes != NULL && memcmp(bytes, photo, size) == 0);
    fc_bytes_release(bytes);
    CHECK(fc_device_attach(device, child, "x", "image/png", NULL, 4, NULL, &err) == NULL);
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_NULL_ARGUMENT);
    CHECK(fc_device_attachment_bytes(device, child, &size, &err) == NULL);
    CHECK(err.domain == FC_DOMAIN_FIELDCASE);
  }

  text = fc_device_my_day(device, "2024-05-01", &err);
  CHECK_OK(text != NULL, err);
  CHECK(contains(text, "\"today\":\"2024-05-01\""));
  CHECK(contains(text, "\"changes_waiting\":"));
  fc_string_release(text);
  text = fc_device_conflicts(device, &err);
  CHECK(text != NULL && strcmp(text, "[]") == 0);
  fc_string_release(text);
  text = fc_device_rejections(device, &err);
  CHECK(text != NULL && strcmp(text, "[]") == 0);
  fc_string_release(text);
  CHECK(fc_device_cancel_sync(device)); /* nothing running: a no-op */

  /* Sync without a token; then with one, against a port nobody listens on. */
  CHECK(fc_device_sync(device, NULL, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_NOT_FOUND);
  CHECK_OK(fc_device_set_token(device, "t0ken", &err), err);
  CHECK(!fc_device_set_token(device, "", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_INVALID_ARGUMENT);
  CHECK(fc_device_sync(device, NULL, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_IO);

  /* Locked: records refuse; lock is idempotent. */
  CHECK_OK(fc_device_lock(device, &err), err);
  CHECK_OK(fc_device_lock(device, &err), err);
  CHECK(fc_device_get_record(device, child, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
  CHECK(!fc_device_update_record(device, child, "{}", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
  CHECK(fc_device_sync(device, NULL, NULL, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
  CHECK(!fc_device_change_pin(device, kPin, "975318", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
  CHECK(!fc_device_set_token(device, "other", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_LOCKED);
  CHECK_OK(fc_device_poll_idle(device, &flag, &err), err);

  /* Wrong PINs down to the crypto-erase. */
  CHECK(!fc_device_unlock(device, "0000", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN);
  CHECK(fc_device_attempts_left(device) == 2);
  CHECK(!fc_device_unlock(device, "0001", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WRONG_PIN);
  CHECK(!fc_device_unlock(device, "0002", &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
  CHECK(!fc_device_unlock(device, kPin, &err));
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
  CHECK(fc_device_caseload(device, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);

  /* Use after release: reported, not a crash; the handle is never reused. */
  released = device;
  fc_device_release(device);
  CHECK(!fc_device_unlock(released, kPin, &err));
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_INVALID_HANDLE);
  CHECK(contains(err.message, "released"));
  CHECK(fc_device_caseload(released, &err) == NULL);
  CHECK_ERROR(err, FC_DOMAIN_API, FC_API_INVALID_HANDLE);
  CHECK(!fc_device_is_unlocked(released));
  CHECK(fc_device_attempts_left(released) == -1);
  CHECK(!fc_device_cancel_sync(released));
  fc_device_release(released);

  /* The erased database stays erased. */
  device = fc_device_open(&config, &err);
  CHECK(device == NULL);
  CHECK_ERROR(err, FC_DOMAIN_FIELDCASE, FC_ERR_WIPED);
  {
    fc_device* other;
    char db2[600];
    path_join(db2, sizeof db2, dir, "second.db");
    config.database = db2;
    other = fc_device_create(&config, kPin, &err);
    CHECK_OK(other != NULL, err);
    CHECK(other != released);
    CHECK(!fc_device_lock(released, &err));
    CHECK_ERROR(err, FC_DOMAIN_API, FC_API_INVALID_HANDLE);
    fc_device_release(other);
  }
  temp_dir_remove(dir);
}

typedef struct named_test {
  const char* name;
  void (*run)(void);
} named_test;

static const named_test kTests[] = {
    {"end_to_end", test_end_to_end},
    {"host_services", test_host_services},
    {"errors", test_errors},
};

int main(int argc, char** argv) {
  size_t i;
  if (argc != 2) {
    fprintf(stderr, "usage: fieldcase-c-tests <test>\ntests:");
    for (i = 0; i < sizeof kTests / sizeof kTests[0]; ++i) fprintf(stderr, " %s", kTests[i].name);
    fprintf(stderr, "\n");
    return 2;
  }
  for (i = 0; i < sizeof kTests / sizeof kTests[0]; ++i) {
    if (strcmp(argv[1], kTests[i].name) == 0) {
      kTests[i].run();
      if (c_failures > 0) {
        fprintf(stderr, "%s: %d check(s) failed\n", argv[1], c_failures);
        return 1;
      }
      printf("%s: passed\n", argv[1]);
      return 0;
    }
  }
  fprintf(stderr, "unknown test '%s'\n", argv[1]);
  return 2;
}
