#include "fieldcase/server/config.hpp"

#include "fieldcase/server/ports/store_engine.hpp"

#include <type_traits>

#include <algorithm>
#include <array>
#include <charconv>
#include <fstream>

namespace fieldcase::server {
namespace {

constexpr std::array<std::string_view, 37> kKeys{
    "listen",
    "database",
    "database_pool_size",
    "threads",
    "keep_alive_seconds",
    "max_body_bytes",
    "read_timeout_seconds",
    "write_timeout_seconds",
    "offset_threshold_seconds",
    "plausibility_slack_seconds",
    "reallocation_grace_hours",
    "clock_window",
    "clock_step_seconds",
    "clock_max_age_hours",
    "max_page_bytes",
    "enrollment_ttl_hours",
    "enrollment_attempts",
    "session_idle_minutes",
    "session_absolute_hours",
    "signin_lockout_failures",
    "signin_lockout_minutes",
    "body_deadline_seconds",
    "tls_cert",
    "tls_key",
    "allow_plain_http",
    "rate_limit_per_minute",
    "rate_limit_burst",
    "offline_limit_days",
    "max_queued_connections",
    "population_under_18",
    "head_timeout_seconds",
    "max_head_bytes",
    "max_web_body_bytes",
    "max_inflight_body_bytes",
    "max_pending_per_address",
    "max_stamp_ahead_seconds",
    "code_secret_file",
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

Result<std::int64_t> number(std::string_view key, std::string_view value, std::int64_t min,
                            std::int64_t max) {
  std::int64_t v = 0;
  auto r = std::from_chars(value.data(), value.data() + value.size(), v);
  if (r.ec != std::errc() || r.ptr != value.data() + value.size() || v < min || v > max) {
    return Status(Errc::invalid_argument, std::string(key) + " must be a whole number from " +
                                              std::to_string(min) + " to " + std::to_string(max));
  }
  return v;
}

}  // namespace

Status parse_listen(std::string_view listen, std::string& host, int& port) {
  auto colon = listen.rfind(':');
  if (colon == std::string_view::npos || colon == 0) {
    return {Errc::invalid_argument, "listen expects HOST:PORT, got '" + std::string(listen) + "'"};
  }
  std::string_view h = listen.substr(0, colon);
  if (h.size() >= 2 && h.front() == '[' && h.back() == ']') h = h.substr(1, h.size() - 2);
  auto p = number("the port", listen.substr(colon + 1), 0, 65535);
  if (!p.ok()) return p.status();
  host = std::string(h);
  port = static_cast<int>(*p);
  return {};
}

Status set_config_value(ServerConfig& c, std::string_view key, std::string_view value) {
  auto seconds = [&](std::chrono::seconds& out, std::int64_t min, std::int64_t max) -> Status {
    auto v = number(key, value, min, max);
    if (!v.ok()) return v.status();
    out = std::chrono::seconds(*v);
    return {};
  };
  if (key == "listen") {
    std::string host;
    int port = 0;
    FC_TRY(parse_listen(value, host, port));
    c.listen = std::string(value);
    return {};
  }
  if (key == "database") {
    if (value.empty()) {
      return {Errc::invalid_argument, "database must name a SQLite file or a PostgreSQL URI"};
    }
    c.database = std::string(value);
    return {};
  }
  if (key == "database_pool_size") {
    auto v = number(key, value, 1, 1000);
    if (!v.ok()) return v.status();
    c.database_pool_size = static_cast<std::size_t>(*v);
    return {};
  }
  if (key == "threads") {
    auto v = number(key, value, 1, 1024);
    if (!v.ok()) return v.status();
    c.threads = static_cast<int>(*v);
    return {};
  }
  if (key == "max_body_bytes") {
    auto v = number(key, value, 1024, std::int64_t{1} << 30);
    if (!v.ok()) return v.status();
    c.max_body_bytes = static_cast<std::size_t>(*v);
    return {};
  }
  if (key == "keep_alive_seconds") return seconds(c.keep_alive, 1, 300);
  if (key == "read_timeout_seconds") return seconds(c.read_timeout, 1, 3600);
  if (key == "write_timeout_seconds") return seconds(c.write_timeout, 1, 3600);
  if (key == "offset_threshold_seconds") return seconds(c.service.offset_threshold, 0, 86400 * 365);
  if (key == "plausibility_slack_seconds") {
    return seconds(c.service.plausibility_slack, 0, 86400);
  }
  if (key == "max_stamp_ahead_seconds") {
    return seconds(c.service.max_stamp_ahead, 60, 86400 * 7);
  }
  if (key == "clock_step_seconds") return seconds(c.service.clock.step, 1, 86400 * 365);
  if (key == "reallocation_grace_hours") {
    auto v = number(key, value, 0, 24 * 365);
    if (!v.ok()) return v.status();
    c.service.reallocation_grace = std::chrono::hours(*v);
    return {};
  }
  if (key == "clock_max_age_hours") {
    auto v = number(key, value, 1, 24 * 365);
    if (!v.ok()) return v.status();
    c.service.clock.max_age = std::chrono::hours(*v);
    return {};
  }
  if (key == "max_page_bytes") {
    auto v = number(key, value, 1024, std::int64_t{1} << 30);
    if (!v.ok()) return v.status();
    c.service.max_page_bytes = static_cast<std::size_t>(*v);
    return {};
  }
  if (key == "max_queued_connections") {
    auto v = number(key, value, 0, 100'000);
    if (!v.ok()) return v.status();
    c.max_queued_connections = static_cast<std::size_t>(*v);
    return {};
  }
  if (key == "body_deadline_seconds") return seconds(c.body_deadline, 1, 3600);
  if (key == "head_timeout_seconds") return seconds(c.head_timeout, 1, 300);
  auto bytes = [&](std::size_t& out, std::int64_t min, std::int64_t max) -> Status {
    auto v = number(key, value, min, max);
    if (!v.ok()) return v.status();
    out = static_cast<std::size_t>(*v);
    return {};
  };
  if (key == "max_head_bytes") return bytes(c.max_head_bytes, 1024, 1 << 20);
  if (key == "max_web_body_bytes") return bytes(c.max_web_body_bytes, 1024, std::int64_t{1} << 30);
  if (key == "max_inflight_body_bytes") {
    return bytes(c.max_inflight_body_bytes, 1024, std::int64_t{1} << 40);
  }
  if (key == "max_pending_per_address") return bytes(c.max_pending_per_address, 1, 100'000);
  if (key == "code_secret_file") {
    if (value.empty()) return {Errc::invalid_argument, "code_secret_file must name a file"};
    c.code_secret_file = std::filesystem::path(std::string(value));
    return {};
  }
  if (key == "tls_cert") {
    c.tls_cert = std::string(value);
    return {};
  }
  if (key == "tls_key") {
    c.tls_key = std::string(value);
    return {};
  }
  if (key == "allow_plain_http") {
    if (value != "true" && value != "false") {
      return {Errc::invalid_argument, "allow_plain_http must be true or false"};
    }
    c.allow_plain_http = value == "true";
    return {};
  }
  if (key == "rate_limit_per_minute") {
    auto v = number(key, value, 0, 1'000'000);
    if (!v.ok()) return v.status();
    c.rate_limit_per_minute = static_cast<int>(*v);
    return {};
  }
  if (key == "rate_limit_burst") {
    auto v = number(key, value, 1, 1'000'000);
    if (!v.ok()) return v.status();
    c.rate_limit_burst = static_cast<int>(*v);
    return {};
  }
  if (key == "offline_limit_days") {
    auto v = number(key, value, 0, 3650);
    if (!v.ok()) return v.status();
    c.service.offline_limit_days = static_cast<int>(*v);
    return {};
  }
  if (key == "population_under_18") {
    auto v = number(key, value, 0, 100'000'000);
    if (!v.ok()) return v.status();
    c.population_under_18 = *v;
    return {};
  }
  if (key == "clock_window") {
    auto v = number(key, value, 1, 1000);
    if (!v.ok()) return v.status();
    c.service.clock.window = static_cast<std::size_t>(*v);
    return {};
  }
  auto whole = [&](std::int64_t min, std::int64_t max, auto& out) -> Status {
    auto v = number(key, value, min, max);
    if (!v.ok()) return v.status();
    out = static_cast<std::remove_reference_t<decltype(out)>>(*v);
    return {};
  };
  if (key == "enrollment_ttl_hours") {
    std::int64_t h = 0;
    FC_TRY(whole(1, 24 * 30, h));
    c.access.enrollment_ttl = std::chrono::hours(h);
    return {};
  }
  if (key == "enrollment_attempts") return whole(1, 100, c.access.enrollment_attempts);
  if (key == "session_idle_minutes") {
    std::int64_t m = 0;
    FC_TRY(whole(1, 24 * 60, m));
    c.access.session_idle = std::chrono::minutes(m);
    return {};
  }
  if (key == "session_absolute_hours") {
    std::int64_t h = 0;
    FC_TRY(whole(1, 24 * 7, h));
    c.access.session_absolute = std::chrono::hours(h);
    return {};
  }
  if (key == "signin_lockout_failures") return whole(1, 100, c.access.signin_failures);
  if (key == "signin_lockout_minutes") {
    std::int64_t m = 0;
    FC_TRY(whole(1, 24 * 60, m));
    c.access.lockout = std::chrono::minutes(m);
    return {};
  }
  return {Errc::invalid_argument, "unknown setting '" + std::string(key) + "'"};
}

Result<std::filesystem::path> code_secret_path(const ServerConfig& config) {
  if (!config.code_secret_file.empty()) return config.code_secret_file;
  if (store_engine_of(config.database) == StoreEngine::postgres) {
    return Status(Errc::invalid_argument,
                  "with a PostgreSQL database, code_secret_file must name the server secret's "
                  "file (the same file on every instance)");
  }
  std::filesystem::path p = config.database;
  p += ".code-secret";
  return p;
}

Status check_config(const ServerConfig& c) {
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    return {Errc::invalid_argument, "tls_cert and tls_key must be set together"};
  }
  return {};
}

Status load_config_file(const std::filesystem::path& path, ServerConfig& config) {
  std::ifstream in(path);
  if (!in) return {Errc::not_found, "cannot read the config file " + path.string()};
  std::string line;
  int number_of_line = 0;
  while (std::getline(in, line)) {
    ++number_of_line;
    std::string_view l = trim(line);
    if (l.empty() || l.front() == '#') continue;
    auto eq = l.find('=');
    const std::string where = path.string() + ":" + std::to_string(number_of_line) + ": ";
    if (eq == std::string_view::npos) {
      return {Errc::invalid_argument, where + "expected 'key = value'"};
    }
    Status st = set_config_value(config, trim(l.substr(0, eq)), trim(l.substr(eq + 1)));
    if (!st.ok()) return {st.code(), where + st.message()};
  }
  if (in.bad()) return {Errc::io, "reading the config file " + path.string() + " failed"};
  return {};
}

Status apply_environment(ServerConfig& config,
                         const std::function<const char*(const char*)>& getenv) {
  for (std::string_view key : kKeys) {
    std::string name = "FIELDCASE_";
    for (char ch : key) name += static_cast<char>(ch >= 'a' && ch <= 'z' ? ch - 'a' + 'A' : ch);
    const char* value = getenv(name.c_str());
    if (value == nullptr) continue;
    Status st = set_config_value(config, key, trim(value));
    if (!st.ok()) return {st.code(), name + ": " + st.message()};
  }
  return {};
}

}  // namespace fieldcase::server
