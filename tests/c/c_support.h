/*
 * Support for the pure-C tests of the C API: checks that count failures, temporary
 * directories, the real fieldcase-server on a loopback port with its admin commands, and a
 * minimal HTTP/1.1 client a test transport forwards requests with.
 */
#ifndef FIELDCASE_TESTS_C_SUPPORT_H
#define FIELDCASE_TESTS_C_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "fieldcase.h"

extern int c_failures;

/* Records a failure (with file and line) unless cond holds; the test goes on. */
#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      ++c_failures;                                                          \
      fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

/* Like CHECK, and also prints the error's domain, code and message. */
#define CHECK_OK(cond, err)                                                              \
  do {                                                                                   \
    if (!(cond)) {                                                                       \
      ++c_failures;                                                                      \
      fprintf(stderr, "%s:%d: failed: %s: domain %d code %d (%s): %s\n", __FILE__,      \
              __LINE__, #cond, (int)(err).domain, (int)(err).code,                      \
              fc_error_code_name((err).domain, (err).code), (err).message);             \
    }                                                                                    \
  } while (0)

/* Checks that err holds exactly this domain and code. */
#define CHECK_ERROR(err, dom, cod)                                                         \
  do {                                                                                     \
    if ((err).domain != (dom) || (err).code != (cod)) {                                    \
      ++c_failures;                                                                        \
      fprintf(stderr, "%s:%d: expected domain %d code %d, got domain %d code %d: %s\n",   \
              __FILE__, __LINE__, (int)(dom), (int)(cod), (int)(err).domain,              \
              (int)(err).code, (err).message);                                             \
    }                                                                                      \
  } while (0)

/* A new private directory under $TMPDIR (or /tmp); exits the test on failure. */
void temp_dir_make(char* out, size_t size);
/* Removes a directory and everything in it. */
void temp_dir_remove(const char* path);
/* path = dir + "/" + name */
void path_join(char* out, size_t size, const char* dir, const char* name);
/* Whether `haystack` contains `needle`. */
bool contains(const char* haystack, const char* needle);

/* fieldcase-server serve on 127.0.0.1 with a port the system picks, database in `dir`. */
typedef struct test_server {
  int pid;
  int port;
  char url[64];
  char dir[512];
} test_server;

bool server_start(test_server* server, const char* dir);
void server_stop(test_server* server);
/* Runs `fieldcase-server admin --database <dir>/server.db --quiet <args...>` (args end with
 * NULL) and copies the first line of its output to out. Returns false if it failed. */
bool server_admin(const test_server* server, char* out, size_t size, ...);
/* Like server_admin, but `out` gets the whole output, not only its first line. */
bool server_admin_all(const test_server* server, char* out, size_t size, ...);

/* An organisation: authority, area, team, and workers added with org_worker. */
bool org_create(const test_server* server, char* team_out, size_t size);
bool org_worker(const test_server* server, const char* team, const char* name, char* id_out,
                size_t size);
/* Issues a device for a worker: its device id and token. */
bool org_issue_device(const test_server* server, const char* worker, char* device_out,
                      size_t device_size, char* token_out, size_t token_size);

/* POSTs body to http://127.0.0.1:<port><path> with a bearer token; on an answer sets *status
 * and returns the body (malloc'ed, NUL-terminated; *body_size its length). NULL when no answer. */
char* http_post(int port, const char* path, const uint8_t* body, size_t body_size,
                const char* bearer, int* status, size_t* body_size_out);

#endif
