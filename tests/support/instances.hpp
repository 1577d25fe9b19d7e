// Several fieldcase-server processes on one database behind nginx, for the [multi] tests and
// the sync benchmark (no test framework here: every failure is a Status).
//
// - ChildProcess: a program started with posix_spawn (no shell), standard input from
//   /dev/null, standard error to a file, standard output to a pipe whose first line it can
//   wait for; SIGKILL, SIGTERM and its CPU time as the kernel counts it (/proc).
// - ServerInstances: N `fieldcase-server serve` processes, each on its own loopback port
//   (chosen once, kept across restarts so a balancer's upstream stays valid), all on the same
//   `database` (a SQLite path or a postgresql:// URI) and the same code secret; start, kill
//   (SIGKILL), restart one at a time.
// - Balancer: Debian's nginx, one process in the foreground with every file under a private
//   prefix, its configuration generated from docs/deploy/nginx/fieldcase-instances.conf with
//   the upstream replaced by the instances and the TLS lines taken out (plain HTTP on a
//   loopback port; TLS is nginx's own business).
// Not thread-safe; the objects kill what they started when destroyed.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase::test {

// The directory of the built tree: $FIELDCASE_BUILD_DIR, else the one this library was
// configured in.
std::filesystem::path build_dir();
// <build>/sync-server/fieldcase-server.
std::filesystem::path server_binary_path();
// A TCP port on 127.0.0.1 that was free when asked.
Result<int> free_loopback_port();

// CPU seconds (user + system) the kernel counts for a live process; with `reaped` also those
// of its children that have exited and been waited for.
Result<double> process_cpu_seconds(pid_t pid, bool reaped = false);
// CPU seconds of a process and of every live process whose parent it is, plus its reaped
// children's: a PostgreSQL postmaster and its backends, including those that have exited.
Result<double> process_tree_cpu_seconds(pid_t root);

class ChildProcess {
 public:
  // Starts `program` (a path) with `args`, this process's environment plus `extra_env`
  // ("NAME=value", replacing a variable of that name); standard error to `stderr_path`.
  static Result<std::unique_ptr<ChildProcess>> spawn(const std::string& program,
                                                     const std::vector<std::string>& args,
                                                     const std::vector<std::string>& extra_env,
                                                     const std::filesystem::path& stderr_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The first line of its standard output, waiting up to `timeout`; fails if it exits first.
  Result<std::string> first_line(std::chrono::milliseconds timeout);
  // SIGKILL and wait for it.
  void kill();
  // SIGTERM, then whether it exited (status 0) within `timeout`; SIGKILL otherwise.
  Status terminate(std::chrono::milliseconds timeout);
  bool running();
  pid_t pid() const { return pid_; }
  std::string stderr_text() const;

 private:
  ChildProcess() = default;
  pid_t pid_ = -1;
  int out_fd_ = -1;
  std::filesystem::path stderr_path_;
};

struct InstancesOptions {
  std::size_t count = 3;
  std::string database;                // SQLite path or postgresql:// URI
  std::filesystem::path dir;           // logs and the code secret go here
  std::vector<std::string> extra_env;  // FIELDCASE_* settings for every instance
};

class ServerInstances {
 public:
  // Chooses the ports and starts every instance (each waits for its "listening on" line).
  static Result<std::unique_ptr<ServerInstances>> start(InstancesOptions options);
  ~ServerInstances();
  ServerInstances(const ServerInstances&) = delete;
  ServerInstances& operator=(const ServerInstances&) = delete;

  std::size_t size() const { return ports_.size(); }
  int port(std::size_t i) const { return ports_[i]; }
  const std::vector<int>& ports() const { return ports_; }
  std::string url(std::size_t i) const;
  // -1 while the instance is down.
  pid_t pid(std::size_t i) const;
  bool up(std::size_t i) const { return procs_[i] != nullptr; }
  // SIGKILL instance i: no chance to finish anything.
  void kill(std::size_t i);
  // Starts instance i again on its port (it must be down).
  Status restart(std::size_t i);
  // SIGTERM every instance; fails unless each exits cleanly.
  Status stop_all();
  // CPU seconds of every instance that is up, summed.
  Result<double> cpu_seconds() const;
  // `fieldcase-server admin --database <database> --quiet ARGS`: its first line of output.
  Result<std::string> admin(const std::vector<std::string>& args) const;
  const InstancesOptions& options() const { return options_; }

 private:
  explicit ServerInstances(InstancesOptions options) : options_(std::move(options)) {}
  std::vector<std::string> environment() const;
  InstancesOptions options_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ChildProcess>> procs_;
  int starts_ = 0;
};

struct BalancerOptions {
  std::filesystem::path dir;   // nginx's prefix: configuration, logs, temporary files
  // The reference configuration to run; empty: docs/deploy/nginx/fieldcase-instances.conf.
  std::filesystem::path reference;
  std::vector<int> upstream;   // the instances' loopback ports
  // Replaces the reference's connections per client address (every client of a test or the
  // benchmark comes from 127.0.0.1); 0 keeps the reference's.
  int connections_per_address = 0;
};

class Balancer {
 public:
  // Generates the configuration, starts nginx and waits until it accepts connections.
  static Result<std::unique_ptr<Balancer>> start(BalancerOptions options);
  ~Balancer();
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  int port() const { return port_; }
  std::string url() const { return "http://127.0.0.1:" + std::to_string(port_); }
  pid_t pid() const { return proc_ ? proc_->pid() : -1; }
  // SIGQUIT: nginx finishes what it has in hand; whether it exited within 10 s.
  Status stop();
  // The configuration it runs (for messages).
  const std::string& config() const { return config_; }

 private:
  Balancer() = default;
  std::unique_ptr<ChildProcess> proc_;
  int port_ = 0;
  std::string config_;
};

// The reference configuration generated for `upstream` and `listen_port` as Balancer runs it
// (exposed for the test that checks the generation).
Result<std::string> balancer_config(const std::filesystem::path& reference,
                                    const BalancerOptions& options, int listen_port);

}  // namespace fieldcase::test
