// The real fieldcase-server binary for tests: one-shot runs (admin commands) and a `serve`
// child process on loopback that a test can stop with SIGTERM or kill with SIGKILL.
// CTest sets FIELDCASE_BUILD_DIR so the binary is found. Not thread-safe.
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

// Runs the binary to completion with the given arguments (no shell involved).
inline Run run_binary(const std::vector<std::string>& args, const TempDir& dir,
                      const std::vector<std::string>& extra_env = {}) {
  const fs::path out = dir / "run.out", err = dir / "run.err";
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  const std::string bin = server_binary().string();
  std::vector<char*> argv{const_cast<char*>(bin.c_str())};
  for (const auto& a : args) argv.push_back(const_cast<char*>(a.c_str()));
  argv.push_back(nullptr);
  pid_t pid = -1;
  std::vector<std::string> env_strings;
  for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
  env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  REQUIRE(posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), envp.data()) == 0);
  posix_spawn_file_actions_destroy(&fa);
  int status = 0;
  REQUIRE(waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  return {WEXITSTATUS(status), slurp(out), slurp(err)};
}

inline std::string admin(const TempDir& dir, const std::vector<std::string>& args) {
  std::vector<std::string> full{"admin", "--database", (dir / "server.db").string(), "--quiet"};
  full.insert(full.end(), args.begin(), args.end());
  Run r = run_binary(full, dir);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return r.out.substr(0, r.out.find('\n'));
}

// `fieldcase-server serve` as a child process, stopped with SIGTERM (or killed) at the end.
class ServerProcess {
 public:
  // `listen` is HOST:PORT; port 0 picks a free one (port() tells which).
  ServerProcess(const TempDir& dir, const std::vector<std::string>& extra_env,
                const std::string& listen = "127.0.0.1:0") {
    int fds[2];
    REQUIRE(pipe(fds) == 0);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
    posix_spawn_file_actions_addclose(&fa, fds[0]);
    posix_spawn_file_actions_addclose(&fa, fds[1]);
    err_path_ = dir / "serve.err";
    posix_spawn_file_actions_addopen(&fa, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    std::vector<std::string> env_strings;
    for (char** e = environ; *e != nullptr; ++e) env_strings.emplace_back(*e);
    env_strings.push_back("FIELDCASE_DATABASE=" + (dir / "server.db").string());
    env_strings.insert(env_strings.end(), extra_env.begin(), extra_env.end());
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
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                      deadline - std::chrono::steady_clock::now())
                      .count();
      INFO(slurp(err_path_));
      REQUIRE(left > 0);
      pollfd p{out_fd_, POLLIN, 0};
      if (poll(&p, 1, static_cast<int>(left)) <= 0) continue;
      char buf[256];
      ssize_t n = read(out_fd_, buf, sizeof buf);
      REQUIRE(n > 0);
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

  // SIGTERM, then the exit status (or -1 if it did not exit within the timeout).
  int stop() {
    REQUIRE(kill(pid_, SIGTERM) == 0);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (std::chrono::steady_clock::now() < deadline) {
      int status = 0;
      pid_t r = waitpid(pid_, &status, WNOHANG);
      if (r == pid_) {
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

  int port() const { return port_; }
  const std::string& first_line() const { return first_line_; }
  std::string stderr_text() const { return slurp(err_path_); }

 private:
  pid_t pid_ = -1;
  int out_fd_ = -1;
  int port_ = 0;
  std::string first_line_;
  fs::path err_path_;
};

}  // namespace fieldcase::test
