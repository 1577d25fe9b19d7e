// One libpq connection with its prepared statements, the result rows the stores read, and the
// mapping of PostgreSQL's errors onto Errc. Internal to the PostgreSQL store.
//
// A Connection is used by one thread at a time (the pool hands it out); Rows own their
// PGresult and are movable values.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase::server::pg {

// One statement parameter in text form; nullopt is SQL NULL.
using Param = std::optional<std::string>;
using Params = std::vector<Param>;
inline Param text(std::string_view s) { return std::string(s); }
inline Param num(std::int64_t v) { return std::to_string(v); }
inline Param flag(bool b) { return std::string(b ? "1" : "0"); }
inline Param null() { return std::nullopt; }
// An array parameter in PostgreSQL's text form ("{...}", cast in the statement: $1::text[]),
// for writing many rows in one statement; nullopt elements are NULL.
Param array(const Params& elements);

// "?N" placeholders (the statements shared with SQLite) as PostgreSQL's "$N", outside quotes.
std::string dollar_placeholders(std::string_view sql);

// One row of a result, read the way rows.hpp reads rows.
class Row {
 public:
  Row(const PGresult* r, int i) : r_(r), i_(i) {}
  std::string column_text(int c) const;
  std::int64_t column_int(int c) const;
  bool column_is_null(int c) const { return PQgetisnull(r_, i_, c) != 0; }

 private:
  const PGresult* r_;
  int i_;
};

class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : r_(r, &PQclear) {}
  int size() const { return r_ ? PQntuples(r_.get()) : 0; }
  bool empty() const { return size() == 0; }
  Row operator[](int i) const { return Row(r_.get(), i); }
  // Rows an INSERT, UPDATE or DELETE changed.
  std::int64_t affected() const;

 private:
  std::unique_ptr<PGresult, void (*)(PGresult*)> r_{nullptr, &PQclear};
};

class Connection {
 public:
  // Connects; `lock_timeout` (0: none) bounds every wait for a lock on this connection.
  static Result<std::unique_ptr<Connection>> open(const std::string& conninfo,
                                                  std::chrono::seconds connect_timeout,
                                                  std::chrono::milliseconds lock_timeout);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs one statement (with ?N or $N placeholders), prepared on this connection at its first
  // use and reused after.
  Result<Rows> exec(const std::string& sql, const Params& params = {});
  // Runs one statement unprepared (for statements used once, such as DECLARE CURSOR).
  Result<Rows> exec_once(const std::string& sql, const Params& params = {});
  // Runs one or more statements without parameters (BEGIN, COMMIT, migrations).
  Status exec_script(std::string_view sql);

  // Whether the server is still there: reads what it sent while idle (a shutdown or
  // termination notice) without blocking.
  bool alive();
  // Lost, or left in a state it cannot be reused from: the pool drops it.
  bool broken() const { return broken_; }
  // Not inside a transaction block (what a connection must be to return to the pool).
  bool idle() const { return PQtransactionStatus(conn_) == PQTRANS_IDLE; }
  int backend_pid() const { return PQbackendPID(conn_); }

 private:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  Status check(PGresult* r, std::string_view what, Rows& out);
  Status failure(const PGresult* r, std::string_view what);

  PGconn* conn_;
  std::unordered_map<std::string, std::string> prepared_;  // statement text -> name
  bool broken_ = false;
};

}  // namespace fieldcase::server::pg
