// What was answered for each transaction and which operations were applied, so a retry gets the
// same answer and nothing is applied twice.
// Contract: transaction and operation ids are unique keys: of two writers putting the same id,
// exactly one succeeds and the other's put fails (its transaction rolls back); a writer that
// looks first inside its serialised transaction finds the first one's outcome instead.
#pragma once

#include <optional>
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
};

}  // namespace fieldcase::server
