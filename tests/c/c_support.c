/* Support for the pure-C tests: see c_support.h. POSIX (posix_spawn, sockets, nftw). */
#define _XOPEN_SOURCE 700
#define _DEFAULT_SOURCE

#include "c_support.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef FC_TEST_SERVER
#error "FC_TEST_SERVER must name the fieldcase-server binary"
#endif

extern char** environ;

int c_failures = 0;

void temp_dir_make(char* out, size_t size) {
  const char* base = getenv("TMPDIR");
  if (base == NULL || *base == '\0') base = "/tmp";
  snprintf(out, size, "%s/fieldcase-c-XXXXXX", base);
  if (mkdtemp(out) == NULL) {
    perror("mkdtemp");
    exit(2);
  }
}

static int remove_entry(const char* path, const struct stat* st, int flag, struct FTW* ftw) {
  (void)st;
  (void)flag;
  (void)ftw;
  return remove(path);
}

void temp_dir_remove(const char* path) { nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS); }

void path_join(char* out, size_t size, const char* dir, const char* name) {
  snprintf(out, size, "%s/%s", dir, name);
}

bool contains(const char* haystack, const char* needle) {
  return haystack != NULL && needle != NULL && strstr(haystack, needle) != NULL;
}

bool server_start(test_server* server, const char* dir) {
  int fds[2];
  char db[600];
  char* argv[7];
  posix_spawn_file_actions_t fa;
  pid_t pid = -1;
  char line[256];
  size_t used = 0;
  struct timespec start, now;
  memset(server, 0, sizeof *server);
  snprintf(server->dir, sizeof server->dir, "%s", dir);
  path_join(db, sizeof db, dir, "server.db");
  if (pipe(fds) != 0) return false;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addclose(&fa, fds[0]);
  posix_spawn_file_actions_addclose(&fa, fds[1]);
  argv[0] = (char*)FC_TEST_SERVER;
  argv[1] = (char*)"serve";
  argv[2] = (char*)"--listen";
  argv[3] = (char*)"127.0.0.1:0";
  argv[4] = (char*)"--database";
  argv[5] = db;
  argv[6] = NULL;
  if (posix_spawn(&pid, FC_TEST_SERVER, &fa, NULL, argv, environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return false;
  }
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  server->pid = (int)pid;
  clock_gettime(CLOCK_MONOTONIC, &start);
  /* "fieldcase-server <version> listening on http://127.0.0.1:<port>\n" */
  while (memchr(line, '\n', used) == NULL) {
    struct pollfd p;
    ssize_t n;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - start.tv_sec > 20 || used + 1 >= sizeof line) break;
    p.fd = fds[0];
    p.events = POLLIN;
    p.revents = 0;
    if (poll(&p, 1, 100) <= 0) continue;
    n = read(fds[0], line + used, sizeof line - 1 - used);
    if (n <= 0) break;
    used += (size_t)n;
  }
  close(fds[0]);
  line[used] = '\0';
  {
    const char* colon = strrchr(line, ':');
    if (colon == NULL || !contains(line, "listening on")) {
      server_stop(server);
      return false;
    }
    server->port = atoi(colon + 1);
  }
  snprintf(server->url, sizeof server->url, "http://127.0.0.1:%d", server->port);
  return server->port > 0;
}

void server_stop(test_server* server) {
  if (server->pid > 0) {
    kill((pid_t)server->pid, SIGKILL);
    waitpid((pid_t)server->pid, NULL, 0);
    server->pid = 0;
  }
}

static bool run_admin(const test_server* server, char* out, size_t size, bool whole,
                      va_list ap) {
  char* argv[32];
  int argc = 0;
  char db[600], out_path[600];
  const char* arg;
  posix_spawn_file_actions_t fa;
  pid_t pid = -1;
  int status = 0;
  FILE* f;
  path_join(db, sizeof db, server->dir, "server.db");
  path_join(out_path, sizeof out_path, server->dir, "admin.out");
  argv[argc++] = (char*)FC_TEST_SERVER;
  argv[argc++] = (char*)"admin";
  argv[argc++] = (char*)"--database";
  argv[argc++] = db;
  argv[argc++] = (char*)"--quiet";
  while ((arg = va_arg(ap, const char*)) != NULL && argc < 31) argv[argc++] = (char*)arg;
  argv[argc] = NULL;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
  if (posix_spawn(&pid, FC_TEST_SERVER, &fa, NULL, argv, environ) != 0) {
    posix_spawn_file_actions_destroy(&fa);
    return false;
  }
  posix_spawn_file_actions_destroy(&fa);
  if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return false;
  }
  f = fopen(out_path, "r");
  if (f == NULL) return false;
  if (out != NULL && size > 0) {
    out[0] = '\0';
    if (whole) {
      out[fread(out, 1, size - 1, f)] = '\0';
    } else if (fgets(out, (int)size, f) != NULL) {
      out[strcspn(out, "\r\n")] = '\0';
    }
  }
  fclose(f);
  return true;
}

bool server_admin(const test_server* server, char* out, size_t size, ...) {
  va_list ap;
  bool ok;
  va_start(ap, size);
  ok = run_admin(server, out, size, false, ap);
  va_end(ap);
  return ok;
}

bool server_admin_all(const test_server* server, char* out, size_t size, ...) {
  va_list ap;
  bool ok;
  va_start(ap, size);
  ok = run_admin(server, out, size, true, ap);
  va_end(ap);
  return ok;
}

bool org_create(const test_server* server, char* team_out, size_t size) {
  char area[128];
  return server_admin(server, NULL, 0, "authority", "create", "--name", "City", "--la-code", "123",
                      (const char*)NULL) &&
         server_admin(server, area, sizeof area, "area", "create", "--name", "North",
                      (const char*)NULL) &&
         server_admin(server, team_out, size, "team", "create", "--name", "Team 1", "--area", area,
                      (const char*)NULL);
}

bool org_worker(const test_server* server, const char* team, const char* name, char* id_out,
                size_t size) {
  return server_admin(server, id_out, size, "worker", "create", "--name", name, "--role",
                      "social_worker", "--team", team, (const char*)NULL);
}

bool org_issue_device(const test_server* server, const char* worker, char* device_out,
                      size_t device_size, char* token_out, size_t token_size) {
  char line[512];
  const char* space;
  if (!server_admin(server, line, sizeof line, "device", "issue", "--worker", worker,
                    (const char*)NULL)) {
    return false;
  }
  space = strchr(line, ' ');
  if (space == NULL) return false;
  snprintf(device_out, device_size, "%.*s", (int)(space - line), line);
  snprintf(token_out, token_size, "%s", space + 1);
  return true;
}

static bool send_all(int fd, const void* data, size_t size) {
  const char* p = (const char*)data;
  while (size > 0) {
    ssize_t n = send(fd, p, size, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    p += n;
    size -= (size_t)n;
  }
  return true;
}

char* http_post(int port, const char* path, const uint8_t* body, size_t body_size,
                const char* bearer, int* status, size_t* body_size_out) {
  struct sockaddr_in addr;
  char head[1024];
  char* reply = NULL;
  size_t used = 0, capacity = 0;
  char* split;
  char* out;
  size_t header_size, content_size;
  const char* length_header;
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return NULL;
  memset(&addr, 0, sizeof addr);
  addr.sin_family = AF_INET;
  addr.sin_port = htons((uint16_t)port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, (struct sockaddr*)&addr, sizeof addr) != 0) {
    close(fd);
    return NULL;
  }
  snprintf(head, sizeof head,
           "POST %s HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
           "Authorization: Bearer %s\r\nContent-Length: %zu\r\nConnection: close\r\n\r\n",
           path, bearer, body_size);
  if (!send_all(fd, head, strlen(head)) || !send_all(fd, body, body_size)) {
    close(fd);
    return NULL;
  }
  for (;;) {
    ssize_t n;
    if (capacity - used < 4096) {
      char* bigger = (char*)realloc(reply, capacity + 65536);
      if (bigger == NULL) break;
      reply = bigger;
      capacity += 65536;
    }
    n = recv(fd, reply + used, capacity - used - 1, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    used += (size_t)n;
  }
  close(fd);
  if (reply == NULL) return NULL;
  reply[used] = '\0';
  split = strstr(reply, "\r\n\r\n");
  if (split == NULL || strncmp(reply, "HTTP/1.1 ", 9) != 0) {
    free(reply);
    return NULL;
  }
  *status = atoi(reply + 9);
  header_size = (size_t)(split - reply) + 4;
  content_size = used - header_size;
  *split = '\0';
  length_header = strstr(reply, "Content-Length: ");
  if (length_header != NULL) {
    size_t declared = (size_t)strtoul(length_header + 16, NULL, 10);
    if (declared < content_size) content_size = declared;
  }
  out = (char*)malloc(content_size + 1);
  if (out != NULL) {
    memcpy(out, reply + header_size, content_size);
    out[content_size] = '\0';
    *body_size_out = content_size;
  }
  free(reply);
  return out;
}
