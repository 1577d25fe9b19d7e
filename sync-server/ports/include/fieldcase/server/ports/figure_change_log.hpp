// The figure change log: which cases' figures may have moved, in the order the changes
// committed, shared by every server instance on the database. The dashboard's facts cache
// re-reads the cases named after its cursor, and its change feed's version is the log's head,
// so a long-poll that lands on another instance keeps its cursor.
//
// Contract: every write that can move a figure appends to the log itself, in the same
// transaction: replace_figure_facts (its case), rebuild_figure_facts and clear_figure_facts
// (an entry with no case: every case), put_allocation (its case). Ids grow in commit order
// (appends run under the single writer of UnitOfWork): a reader that saw head H has seen
// every entry up to H, and no entry with a lower id commits later. prune keeps the newest
// entry, so the head never goes back; a reader whose cursor is older than the pruned entries
// is told (complete = false) and must read everything again.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct FigureChange {
  std::int64_t id = 0;
  std::string case_id;  // empty: every case
};

struct FigureChangePage {
  std::vector<FigureChange> changes;  // oldest first
  // False when entries after the cursor were pruned: what they named is no longer known.
  bool complete = true;
};

class FigureChangeLog {
 public:
  virtual ~FigureChangeLog() = default;

  // Appends an entry for `case_id` (empty: every case), in the caller's transaction if any.
  virtual Status append_figure_change(std::string_view case_id) = 0;
  // The newest entry's id; 0 before the first.
  virtual Result<std::int64_t> figure_change_head() = 0;
  // At most `limit` entries after `cursor`.
  virtual Result<FigureChangePage> figure_changes_after(std::int64_t cursor,
                                                        std::size_t limit) = 0;
  // Forgets the entries appended before `before_ms` (wall clock), except the newest.
  virtual Status prune_figure_changes(std::int64_t before_ms) = 0;
};

}  // namespace fieldcase::server
