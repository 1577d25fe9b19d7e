// The unit of work every port's writes take part in: one storage transaction.
//
// Contract: transaction(fn) runs fn atomically, a savepoint when nested; it commits when fn
// returns ok and rolls back otherwise, and an outermost commit is durable before it returns.
// Outermost write transactions are serialised against every other writer on the same database
// (other threads, other server processes): what fn reads, no other writer changes before fn
// commits. A failure the caller may retry (a lost connection, a conflict between writers) is
// Errc::unavailable; nothing of fn is committed then.
#pragma once

#include <functional>

#include "fieldcase/status.hpp"

namespace fieldcase::server {

class UnitOfWork {
 public:
  virtual ~UnitOfWork() = default;

  // Runs fn atomically (a savepoint when nested): commits if it returns ok, rolls back
  // otherwise. An outermost commit is durable (fsynced) before this returns.
  virtual Status transaction(const std::function<Status()>& fn) = 0;
};

}  // namespace fieldcase::server
