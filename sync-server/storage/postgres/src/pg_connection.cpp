#include "pg_connection.hpp"

#include <charconv>
#include <cstring>

namespace fieldcase::server::pg {
namespace {

std::string trimmed(const char* text) {
  std::string s = text != nullptr ? text : "";
  while (!s.empty() && (s.back() == '\n' || s.back() == ' ')) s.pop_back();
  return s;
}

bool is_unavailable(std::string_view state) {
  return state.substr(0, 2) == "08" || state == "57P01" || state == "57P02" ||
         state == "57P03" || state == "40001" || state == "40P01" || state == "53300";
}

Errc errc_of(std::string_view state) {
  if (is_unavailable(state)) return Errc::unavailable;
  if (state == "55P03" || state == "57014") return Errc::busy;
  const std::string_view cls = state.substr(0, 2);
  if (cls == "23") return Errc::validation;
  if (cls == "22") return Errc::invalid_argument;
  if (state == "53100") return Errc::disk_full;
  if (cls == "42" || cls == "0A" || cls == "25" || cls == "26" || cls == "34") return Errc::internal;
  return Errc::io;
}

}  // namespace

Param array(const Params& elements) {
  std::string out = "{";
  for (const Param& e : elements) {
    if (out.size() > 1) out += ',';
    if (!e) {
      out += "NULL";
      continue;
    }
    out += '"';
    for (char ch : *e) {
      if (ch == '"' || ch == '\\') out += '\\';
      out += ch;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string dollar_placeholders(std::string_view sql) {
  std::string out;
  out.reserve(sql.size());
  bool quoted = false;
  for (std::size_t i = 0; i < sql.size(); ++i) {
    const char c = sql[i];
    if (c == '\'') quoted = !quoted;
    const bool placeholder =
        !quoted && c == '?' && i + 1 < sql.size() && sql[i + 1] >= '0' && sql[i + 1] <= '9';
    out += placeholder ? '$' : c;
  }
  return out;
}

std::string Row::column_text(int c) const {
  const char* v = PQgetvalue(r_, i_, c);
  return std::string(v, static_cast<std::size_t>(PQgetlength(r_, i_, c)));
}

std::int64_t Row::column_int(int c) const {
  const char* v = PQgetvalue(r_, i_, c);
  const auto n = static_cast<std::size_t>(PQgetlength(r_, i_, c));
  std::int64_t out = 0;
  std::from_chars(v, v + n, out);
  return out;
}

std::int64_t Rows::affected() const {
  if (!r_) return 0;
  const char* n = PQcmdTuples(r_.get());
  std::int64_t out = 0;
  std::from_chars(n, n + std::strlen(n), out);
  return out;
}

Result<std::unique_ptr<Connection>> Connection::open(const std::string& conninfo,
                                                     std::chrono::seconds connect_timeout,
                                                     std::chrono::milliseconds lock_timeout) {
  const std::string timeout = std::to_string(connect_timeout.count());
  // The conninfo is expanded first; the keywords after it fill what it leaves unset only
  // where libpq has a fallback, and client_encoding is always UTF-8.
  const char* keys[] = {"dbname", "connect_timeout", "fallback_application_name",
                        "client_encoding", nullptr};
  const char* values[] = {conninfo.c_str(), timeout.c_str(), "fieldcase-server", "UTF8", nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, 1);
  if (raw == nullptr) return Status(Errc::internal, "out of memory connecting to the database");
  if (PQstatus(raw) != CONNECTION_OK) {
    std::string why = trimmed(PQerrorMessage(raw));
    PQfinish(raw);
    return Status(Errc::unavailable, "cannot connect to the database: " + why);
  }
  // Notices (a termination notice while idle, "already exists, skipping") are not for logs.
  PQsetNoticeProcessor(raw, [](void*, const char*) {}, nullptr);
  std::unique_ptr<Connection> c(new Connection(raw));
  FC_TRY(c->exec_script("SET lock_timeout = " + std::to_string(lock_timeout.count())));
  return c;
}

Connection::~Connection() { PQfinish(conn_); }

Status Connection::failure(const PGresult* r, std::string_view what) {
  const char* state = r != nullptr ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : nullptr;
  const char* primary = r != nullptr ? PQresultErrorField(r, PG_DIAG_MESSAGE_PRIMARY) : nullptr;
  // Only the primary message: the detail may quote the values of a row.
  std::string message = primary != nullptr ? std::string(primary) : trimmed(PQerrorMessage(conn_));
  if (PQstatus(conn_) != CONNECTION_OK || state == nullptr) broken_ = true;
  if (broken_) {
    return {Errc::unavailable, "the database connection was lost (" + std::string(what) +
                                   "): " + message};
  }
  const Errc code = errc_of(state);
  if (code == Errc::unavailable) {
    return {code, "the database is unavailable (" + std::string(what) + "): " + message};
  }
  return {code, std::string(what) + ": " + message + " (SQLSTATE " + state + ")"};
}

Status Connection::check(PGresult* r, std::string_view what, Rows& out) {
  if (r != nullptr) {
    const ExecStatusType st = PQresultStatus(r);
    if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK || st == PGRES_EMPTY_QUERY) {
      out = Rows(r);
      return {};
    }
  }
  Status s = failure(r, what);
  PQclear(r);
  return s;
}

namespace {

// The parameter values as libpq takes them; NUL characters cannot pass in text.
Status param_values(const Params& params, std::vector<const char*>& out) {
  out.clear();
  out.reserve(params.size());
  for (const auto& p : params) {
    if (p && p->find('\0') != std::string::npos) {
      return {Errc::invalid_argument, "text with a NUL character cannot be stored"};
    }
    out.push_back(p ? p->c_str() : nullptr);
  }
  return {};
}

}  // namespace

Result<Rows> Connection::exec(const std::string& sql, const Params& params) {
  if (broken_) return Status(Errc::unavailable, "the database connection was lost");
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    const std::string name = "fc" + std::to_string(prepared_.size() + 1);
    Rows ignored;
    FC_TRY(check(PQprepare(conn_, name.c_str(), dollar_placeholders(sql).c_str(), 0, nullptr),
                 "prepare", ignored));
    it = prepared_.emplace(sql, name).first;
  }
  std::vector<const char*> values;
  FC_TRY(param_values(params, values));
  Rows out;
  FC_TRY(check(PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(values.size()),
                              values.data(), nullptr, nullptr, 0),
               "statement", out));
  return out;
}

Result<Rows> Connection::exec_once(const std::string& sql, const Params& params) {
  if (broken_) return Status(Errc::unavailable, "the database connection was lost");
  std::vector<const char*> values;
  FC_TRY(param_values(params, values));
  Rows out;
  FC_TRY(check(PQexecParams(conn_, dollar_placeholders(sql).c_str(),
                            static_cast<int>(values.size()), nullptr, values.data(), nullptr,
                            nullptr, 0),
               "statement", out));
  return out;
}

Status Connection::exec_script(std::string_view sql) {
  if (broken_) return Status(Errc::unavailable, "the database connection was lost");
  Rows ignored;
  return check(PQexec(conn_, std::string(sql).c_str()), "script", ignored);
}

bool Connection::alive() {
  if (broken_) return false;
  if (PQconsumeInput(conn_) == 0 || PQstatus(conn_) != CONNECTION_OK) broken_ = true;
  return !broken_;
}

}  // namespace fieldcase::server::pg
