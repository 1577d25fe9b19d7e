// What was answered for each transaction and which operations were applied, so a retry gets the
// same answer and nothing is applied twice.
// Contract: transaction and operation ids are unique keys: of two writers putting the same id,
// exactly one succeeds and the other's put fails (its transaction rolls back); a writer that
// looks first inside its serialised transaction finds the first one's outcome instead.
#pragma once

#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>

#include "fieldcase/server/case_records.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

class IdempotencyStore {
 public:
  virtual ~IdempotencyStore() = default;

  virtual Result<std::optional<TxOutcome>> find_tx(std::string_view tx_id) = 0;
  virtual Status put_tx(const TxOutcome& outcome) = 0;
  virtual Result<bool> op_applied(std::string_view op_id) = 0;
  virtual Status put_op(std::string_view op_id, std::string_view tx_id) = 0;

  // The batch forms a transaction's operations use (one statement where the engine can):
  // which of `op_ids` are applied already, and putting them all, with put_op's contract for each.
  virtual Result<std::set<std::string>> applied_ops(std::span<const std::string> op_ids) {
    std::set<std::string> applied;
    for (const auto& id : op_ids) {
      auto found = op_applied(id);
      if (!found.ok()) return found.status();
      if (*found) applied.insert(id);
    }
    return applied;
  }
  virtual Status put_ops(std::span<const std::string> op_ids, std::string_view tx_id) {
    for (const auto& id : op_ids) FC_TRY(put_op(id, tx_id));
    return {};
  }
};

}  // namespace fieldcase::server
