#include "instances.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

#include "process_env.hpp"

namespace fieldcase::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

std::string slurp_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Fields 14..17 of /proc/<pid>/stat (utime, stime, cutime, cstime), in clock ticks.
Result<std::vector<long long>> stat_times(pid_t pid) {
  const std::string text = slurp_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = text.rfind(')');  // the command name may hold spaces
  if (text.empty() || close == std::string::npos) {
    return Status(Errc::not_found, "no process " + std::to_string(pid));
  }
  std::istringstream rest(text.substr(close + 2));
  std::vector<std::string> fields;
  for (std::string f; rest >> f;) fields.push_back(f);
  // fields[0] is field 3 (state); utime is field 14.
  if (fields.size() < 15) return Status(Errc::io, "short /proc stat");
  return std::vector<long long>{std::stoll(fields[11]), std::stoll(fields[12]),
                                std::stoll(fields[13]), std::stoll(fields[14])};
}

pid_t parent_of(pid_t pid) {
  const std::string text = slurp_text("/proc/" + std::to_string(pid) + "/stat");
  const auto close = text.rfind(')');
  if (close == std::string::npos) return -1;
  std::istringstream rest(text.substr(close + 2));
  std::string state;
  pid_t ppid = -1;
  rest >> state >> ppid;
  return ppid;
}

bool connects(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(static_cast<std::uint16_t>(port));
  to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = connect(fd, reinterpret_cast<sockaddr*>(&to), sizeof to) == 0;
  close(fd);
  return ok;
}

Status replace_once(std::string& text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  if (at == std::string::npos) {
    return {Errc::not_found, "the reference nginx configuration lacks: " + from};
  }
  text.replace(at, from.size(), to);
  return {};
}

}  // namespace

fs::path build_dir() {
  if (const char* dir = std::getenv("FIELDCASE_BUILD_DIR"); dir != nullptr && *dir != '\0') {
    return dir;
  }
  return FC_BUILD_DIR;
}

fs::path server_binary_path() { return build_dir() / "sync-server" / "fieldcase-server"; }

Result<int> free_loopback_port() {
  const int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return Status(Errc::io, "socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    close(fd);
    return Status(Errc::io, "no free loopback port");
  }
  close(fd);
  return static_cast<int>(ntohs(addr.sin_port));
}

Result<double> process_cpu_seconds(pid_t pid, bool reaped) {
  auto t = stat_times(pid);
  if (!t.ok()) return t.status();
  const long long ticks = (*t)[0] + (*t)[1] + (reaped ? (*t)[2] + (*t)[3] : 0);
  return static_cast<double>(ticks) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

Result<double> process_tree_cpu_seconds(pid_t root) {
  auto total = process_cpu_seconds(root, true);
  if (!total.ok()) return total.status();
  double sum = *total;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator("/proc", ec)) {
    const std::string name = e.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(name));
    if (pid == root || parent_of(pid) != root) continue;
    auto child = process_cpu_seconds(pid, false);
    if (child.ok()) sum += *child;  // a backend that just exited is counted in root's reaped
  }
  return sum;
}

// --- ChildProcess ---

Result<std::unique_ptr<ChildProcess>> ChildProcess::spawn(const std::string& program,
                                                          const std::vector<std::string>& args,
                                                          const std::vector<std::string>& extra_env,
                                                          const fs::path& stderr_path) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status(Errc::io, "pipe");
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, fds[1], 1);
  posix_spawn_file_actions_addopen(&fa, 2, stderr_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0600);
  std::vector<std::string> argv_strings{program};
  argv_strings.insert(argv_strings.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  auto env_strings = environment_with(extra_env);
  std::vector<char*> envp;
  for (auto& e : env_strings) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::unique_ptr<ChildProcess> child(new ChildProcess());
  child->stderr_path_ = stderr_path;
  const int rc =
      posix_spawn(&child->pid_, program.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    child->pid_ = -1;
    return Status(Errc::io, "cannot start " + program);
  }
  child->out_fd_ = fds[0];
  return child;
}

ChildProcess::~ChildProcess() {
  kill();
  if (out_fd_ >= 0) close(out_fd_);
}

Result<std::string> ChildProcess::first_line(std::chrono::milliseconds timeout) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (line.find('\n') == std::string::npos) {
    if (std::chrono::steady_clock::now() >= deadline) {
      return Status(Errc::unavailable, "no output line in time; stderr: " + stderr_text());
    }
    pollfd p{out_fd_, POLLIN, 0};
    if (poll(&p, 1, 50) <= 0) continue;
    char buf[256];
    const ssize_t n = read(out_fd_, buf, sizeof buf);
    if (n <= 0) return Status(Errc::io, "the process ended; stderr: " + stderr_text());
    line.append(buf, static_cast<std::size_t>(n));
  }
  return line.substr(0, line.find('\n'));
}

void ChildProcess::kill() {
  if (pid_ <= 0) return;
  ::kill(pid_, SIGKILL);
  waitpid(pid_, nullptr, 0);
  pid_ = -1;
}

Status ChildProcess::terminate(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return {};
  ::kill(pid_, SIGTERM);
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    int status = 0;
    if (waitpid(pid_, &status, WNOHANG) == pid_) {
      pid_ = -1;
      if (WIFEXITED(status) && WEXITSTATUS(status) == 0) return {};
      return {Errc::io, "exited with status " + std::to_string(status)};
    }
    std::this_thread::sleep_for(20ms);
  }
  kill();
  return {Errc::unavailable, "did not exit on SIGTERM"};
}

bool ChildProcess::running() {
  if (pid_ <= 0) return false;
  if (waitpid(pid_, nullptr, WNOHANG) == pid_) {
    pid_ = -1;
    return false;
  }
  return true;
}

std::string ChildProcess::stderr_text() const { return slurp_text(stderr_path_); }

// --- ServerInstances ---

Result<std::unique_ptr<ServerInstances>> ServerInstances::start(InstancesOptions options) {
  std::unique_ptr<ServerInstances> s(new ServerInstances(std::move(options)));
  for (std::size_t i = 0; i < s->options_.count; ++i) {
    auto port = free_loopback_port();
    if (!port.ok()) return port.status();
    s->ports_.push_back(*port);
    s->procs_.emplace_back();
  }
  for (std::size_t i = 0; i < s->size(); ++i) FC_TRY(s->restart(i));
  return s;
}

ServerInstances::~ServerInstances() = default;

std::vector<std::string> ServerInstances::environment() const {
  std::vector<std::string> env{"FIELDCASE_DATABASE=" + options_.database,
                               "FIELDCASE_CODE_SECRET_FILE=" +
                                   (options_.dir / "code-secret").string()};
  env.insert(env.end(), options_.extra_env.begin(), options_.extra_env.end());
  return env;
}

std::string ServerInstances::url(std::size_t i) const {
  return "http://127.0.0.1:" + std::to_string(ports_[i]);
}

pid_t ServerInstances::pid(std::size_t i) const { return procs_[i] ? procs_[i]->pid() : -1; }

void ServerInstances::kill(std::size_t i) { procs_[i].reset(); }

Status ServerInstances::restart(std::size_t i) {
  if (procs_[i]) return {Errc::invalid_argument, "instance " + std::to_string(i) + " is up"};
  const std::string listen = "127.0.0.1:" + std::to_string(ports_[i]);
  const fs::path err =
      options_.dir / ("instance-" + std::to_string(i) + "." + std::to_string(starts_++) + ".err");
  // The port of an instance just killed may linger for a moment.
  for (int attempt = 0;; ++attempt) {
    auto child = ChildProcess::spawn(server_binary_path().string(),
                                     {"serve", "--listen", listen}, environment(), err);
    if (!child.ok()) return child.status();
    auto line = (*child)->first_line(20s);
    if (line.ok()) {
      if (line->find(listen) == std::string::npos) {
        return {Errc::io, "instance " + std::to_string(i) + " said: " + *line};
      }
      procs_[i] = std::move(child.value());
      return {};
    }
    if (attempt >= 20) return line.status();
    std::this_thread::sleep_for(100ms);
  }
}

Status ServerInstances::stop_all() {
  Status first;
  for (auto& p : procs_) {
    if (!p) continue;
    Status st = p->terminate(10s);
    if (!st.ok() && first.ok()) first = st;
    p.reset();
  }
  return first;
}

Result<double> ServerInstances::cpu_seconds() const {
  double sum = 0;
  for (const auto& p : procs_) {
    if (!p) continue;
    auto s = process_cpu_seconds(p->pid());
    if (!s.ok()) return s.status();
    sum += *s;
  }
  return sum;
}

Result<std::string> ServerInstances::admin(const std::vector<std::string>& args) const {
  std::vector<std::string> full{"admin", "--database", options_.database, "--quiet"};
  full.insert(full.end(), args.begin(), args.end());
  auto child = ChildProcess::spawn(server_binary_path().string(), full, environment(),
                                   options_.dir / "admin.err");
  if (!child.ok()) return child.status();
  auto line = (*child)->first_line(60s);
  const pid_t pid = (*child)->pid();
  int status = 0;
  waitpid(pid, &status, 0);
  const std::string err = slurp_text(options_.dir / "admin.err");
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return Status(Errc::io, "admin failed: " + err);
  }
  return line.ok() ? *line : std::string();
}

// --- Balancer ---

Result<std::string> balancer_config(const fs::path& reference, const BalancerOptions& options,
                                    int listen_port) {
  std::string conf = slurp_text(reference);
  if (conf.empty()) return Status(Errc::not_found, "no " + reference.string());
  // The upstream's server lines become one per instance, with the reference's parameters.
  const auto up = conf.find("upstream fieldcase {");
  const auto up_end = conf.find('}', up);
  if (up == std::string::npos || up_end == std::string::npos) {
    return Status(Errc::not_found, "the reference nginx configuration has no upstream fieldcase");
  }
  std::string block = conf.substr(up, up_end - up);
  std::istringstream lines(block);
  std::string kept, parameters;
  bool found = false;
  for (std::string line; std::getline(lines, line);) {
    const auto at = line.find("server 127.0.0.1:");
    if (at == std::string::npos) {
      kept += line + "\n";
      continue;
    }
    if (!found) {
      found = true;
      const auto space = line.find(' ', at + 7);
      parameters = space == std::string::npos ? ";" : line.substr(space);
      for (int port : options.upstream) {
        kept += "    server 127.0.0.1:" + std::to_string(port) + parameters + "\n";
      }
    }
  }
  if (!found) return Status(Errc::not_found, "the upstream lists no server 127.0.0.1:PORT");
  conf.replace(up, up_end - up, kept);
  FC_TRY(replace_once(conf, "listen 443 ssl;", "listen 127.0.0.1:" + std::to_string(listen_port) + ";"));
  FC_TRY(replace_once(conf, "listen [::]:443 ssl;", ""));
  if (options.connections_per_address > 0) {
    FC_TRY(replace_once(conf, "limit_conn fieldcase_per_address 64;",
                        "limit_conn fieldcase_per_address " +
                            std::to_string(options.connections_per_address) + ";"));
  }
  std::string out;
  std::istringstream all(conf);
  for (std::string line; std::getline(all, line);) {
    if (line.find("ssl_") == std::string::npos) out += line + "\n";
  }
  const fs::path root = options.dir;
  std::ostringstream main;
  main << "daemon off;\nmaster_process off;\nworker_processes 1;\npid " << (root / "nginx.pid")
       << ";\nerror_log " << (root / "error.log") << " warn;\n"
       << "events { worker_connections 4096; }\n"
       << "http {\n  access_log off;\n"
       << "  client_body_temp_path " << (root / "body") << ";\n"
       << "  proxy_temp_path " << (root / "proxy") << ";\n"
       << "  fastcgi_temp_path " << (root / "fastcgi") << ";\n"
       << "  uwsgi_temp_path " << (root / "uwsgi") << ";\n"
       << "  scgi_temp_path " << (root / "scgi") << ";\n"
       << out << "}\n";
  return main.str();
}

Result<std::unique_ptr<Balancer>> Balancer::start(BalancerOptions options) {
  const std::string bin = "/usr/sbin/nginx";
  std::error_code ec;
  if (!fs::exists(bin, ec)) return Status(Errc::not_found, "no nginx (Debian's nginx package)");
  fs::create_directories(options.dir, ec);
  std::unique_ptr<Balancer> b(new Balancer());
  auto port = free_loopback_port();
  if (!port.ok()) return port.status();
  b->port_ = *port;
  const fs::path reference =
      options.reference.empty() ? fs::path(FC_NGINX_INSTANCES_CONF) : options.reference;
  auto conf = balancer_config(reference, options, b->port_);
  if (!conf.ok()) return conf.status();
  b->config_ = *conf;
  const fs::path path = options.dir / "nginx.conf";
  std::ofstream(path) << b->config_;
  auto child = ChildProcess::spawn(bin, {"-p", options.dir.string(), "-c", path.string()}, {},
                                   options.dir / "stderr.txt");
  if (!child.ok()) return child.status();
  b->proc_ = std::move(child.value());
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (!connects(b->port_)) {
    if (!b->proc_->running()) {
      return Status(Errc::io, "nginx exited: " + b->proc_->stderr_text() +
                                  slurp_text(options.dir / "error.log"));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status(Errc::unavailable, "nginx did not listen in time");
    }
    std::this_thread::sleep_for(20ms);
  }
  return b;
}

Balancer::~Balancer() = default;

Status Balancer::stop() {
  if (!proc_ || !proc_->running()) return {Errc::io, "nginx is not running"};
  ::kill(proc_->pid(), SIGQUIT);
  const auto deadline = std::chrono::steady_clock::now() + 10s;
  while (std::chrono::steady_clock::now() < deadline) {
    if (!proc_->running()) return {};
    std::this_thread::sleep_for(20ms);
  }
  return {Errc::unavailable, "nginx did not exit on SIGQUIT"};
}

}  // namespace fieldcase::test
