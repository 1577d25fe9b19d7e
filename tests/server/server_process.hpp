// The real fieldcase-server binary for tests: one-shot runs (admin commands, other programs)
// and a `serve` child process on loopback, with extra settings in its environment, that a test
// can stop with SIGTERM or kill with SIGKILL. CTest sets FIELDCASE_BUILD_DIR so the binary is
// found. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "process_env.hpp"
#include "temp_dir.hpp"

extern char** environ;

namespace fieldcase::test {

namespace fs = std::filesystem;

inline fs::path server_binary() {
  const char* build_dir = std::getenv("FIELDCASE_BUILD_DIR");
  INFO("FIELDCASE_BUILD_DIR must name the build directory (CTest sets it)");
  REQUIRE(build_dir != nullptr);
  fs::path p = fs::path(build_dir) / "sync-server" / "fieldcase-server";
  REQUIRE(fs::exists(p));
  return p;
}

inline std::string slurp(const fs::path& path) {
  auto bytes = read_file(path);
  return {bytes.begin(), bytes.end()};
}

struct Run {
  int exit_code = -1;
  std::string out;
  std::string err;
};

// Runs `program` (found on PATH when it has no slash) with `args` to completion: no shell,
// standard input from /dev/null, the environment plus `extra_env`.
inline Run run_program(const std::string& program, const std::vector<std::string>& args,
                       const TempDir& dir, const std::vector<std::string>& extra_env = {}) {
  const fs::path out = dir / "run.out", err = dir / "run.err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_strings = environment_with(extra_env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  pid_t pid = -1;
  REQUIRE(posix_spawnp(&pid, program.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

// Runs fieldcase-server with the given arguments to completion.
inline Run run_binary(const std::vector<std::string>& args, const TempDir& dir,
                      const std::vector<std::string>& extra_env = {}) {
  return run_program(server_binary().string(), args, dir, extra_env);
}

// `fieldcase-server admin --database <dir>/server.db --quiet ARGS`; must succeed; first line.
inline std::string admin(const TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> full{"admin", "--database", (dir / "server.db").string(), "--quiet"};
  full.insert(full.end(), args.begin(), args.end());
  Run r = run_binary(full, dir);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

// `fieldcase-server serve --listen LISTEN` on <dir>/server.db (or the FIELDCASE_DATABASE of
// `extra_env`) as a child process. The
// constructor waits for the "listening on" line, or for the process to exit (see exited()).
class ServerProcess {
 public:
  // `listen` is HOST:PORT; port 0 picks a free one (port() tells which).
  ServerProcess(const TempDir& dir, const std::vector<std::string>& extra_env,
                const std::string& listen = "127.0.0.1:0") {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    err_path_ = dir / "serve.err";
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    // <dir>/server.db unless the test names a database.
    std::vector<std::string> extra = extra_env;
    bool named = false;
    for (const auto& e : extra_env) named = named || e.rfind("FIELDCASE_DATABASE=", 0) == 0;
    if (!named) extra.push_back("FIELDCASE_DATABASE=" + (dir / "server.db").string());
    auto env_strings = environment_with(extra);
    std::vector<char*> envp;
    for (auto& s : env_strings) envp.push_back(s.data());
    envp.push_back(nullptr);
    const std::string bin = server_binary().string();
    std::vector<std::string> args{bin, "serve", "--listen", listen};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    REQUIRE(posix_spawn(&pid_, bin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
    posix_spawn_file_actions_destroy(&fa);
    close(fds[1]);
    out_fd_ = fds[0];
    // The first line names the port it chose.
    std::string line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
    while (line.find('\n') == std::string::npos) {
      INFO(slurp(err_path_));
      REQUIRE(std::chrono::steady_clock::now() < deadline);
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, 100) <= 0) continue;
      char buf[256];
      const ssize_t n = read(out_fd_, buf, sizeof buf);
      if (n <= 0) {  // the process ended without listening
        int status = 0;
        REQUIRE(waitpid(pid_, &status, 0) == pid_);
        pid_ = -1;
        exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128;
        return;
      }
      line.append(buf, static_cast<std::size_t>(n));
    }
    first_line_ = line.substr(0, line.find('\n'));
    auto colon = first_line_.rfind(':');
    REQUIRE(colon != std::string::npos);
    port_ = std::stoi(first_line_.substr(colon + 1));
  }

  ~ServerProcess() {
    if (pid_ > 0) {
      kill(pid_, SIGKILL);
      waitpid(pid_, nullptr, 0);
    }
    if (out_fd_ >= 0) close(out_fd_);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  // SIGTERM, then the exit status (-1 if it did not exit within 10 s).
  int stop() {
    REQUIRE(pid_ > 0);
    REQUIRE(kill(pid_, SIGTERM) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) {
        pid_ = -1;
        return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    return -1;
  }

  // SIGKILL: no chance to finish anything.
  void crash() {
    REQUIRE(kill(pid_, SIGKILL) == 0);
    REQUIRE(waitpid(pid_, nullptr, 0) == pid_);
    pid_ = -1;
  }

  // True when the process exited before it listened (a refused configuration).
  bool exited() const { return exit_code_ >= 0; }
  int exit_code() const { return exit_code_; }
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& first_line() const { return first_line_; }
  std::string stderr_text() const { return slurp(err_path_); }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  int exit_code_ = -1;
  std::string first_line_;
  fs::path err_path_;
};

}  // namespace fieldcase::test
