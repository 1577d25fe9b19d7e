// Whether a transaction's worker may write an operation onto a case (internal to the app
// layer): the permission matrix for the record's kind and the case's relation to the worker,
// the grace period after a reallocation, or a brand-new child recorded in the field. One per
// transaction; remembers the cases it let in by grace and the new cases it found.
#pragma once

#include <map>
#include <set>
#include <string>

#include "sync/context.hpp"

namespace fieldcase::server::detail {

class WriteAccess {
 public:
  WriteAccess(SyncDeps deps, SyncRequestContext& ctx) : deps_(deps), ctx_(ctx) {}

  Result<bool> allowed(const std::string& case_id, const sync::Op& op);

  // Cases written only by the reallocation grace (audited reallocation_grace).
  const std::set<std::string>& grace_cases() const { return grace_cases_; }
  // Brand-new children: allocated to this worker when the transaction commits.
  const std::set<std::string>& new_cases() const { return new_cases_; }

 private:
  Result<bool> within_grace(const std::string& case_id, Action action);
  Result<bool> is_new_child(const std::string& case_id, const sync::Op& op);

  SyncDeps deps_;
  SyncRequestContext& ctx_;
  std::map<std::string, bool> grace_ok_;  // case -> held and within the grace period
  std::set<std::string> grace_cases_;
  std::set<std::string> new_cases_;
};

}  // namespace fieldcase::server::detail
