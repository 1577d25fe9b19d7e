// Reading algorithms both SQL stores share: the log's paging in widening windows, and the
// case-by-case merge of the figure inputs. A Stream is a statement being stepped: Result<bool>
// step() moves to the next row (false past the last) and the Row accessors of rows.hpp read the
// current one. Stateless templates; thread-safe.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <string>
#include <unordered_map>
#include <vector>

#include "fieldcase/server/server_store.hpp"
#include "sql/rows.hpp"

namespace fieldcase::server::storage {

// What a log window's runner calls for each entry, in seq order: false when the page is full
// (the runner stops reading).
using AcceptEntry = std::function<bool(LogEntry&&)>;

// Pages the visible log after `cursor` up to `head` (ServerStore::log_after). The log is read
// in windows of sequence numbers (lo, hi], each twice as wide as the one before, so a sparse
// scope is found in a few queries and a dense one reads little more than the page: across a
// bootstrap the log is read once. `run(lo, hi, limit, accept)` reads one window's visible
// entries, at most `limit`, and returns a Status.
template <typename RunWindow>
Result<LogPage> page_log(std::int64_t head, std::int64_t cursor, std::size_t max_entries,
                         std::size_t max_bytes, RunWindow&& run) {
  LogPage page;
  std::size_t bytes = 0;
  std::int64_t lo = cursor;
  std::int64_t width = static_cast<std::int64_t>(max_entries) + 1;
  bool full = false;
  const AcceptEntry accept = [&](LogEntry&& e) {
    if (page.entries.size() >= max_entries || (bytes >= max_bytes && !page.entries.empty())) {
      page.more = true;
      full = true;
      return false;
    }
    bytes += approx_entry_size(e);
    page.entries.push_back(std::move(e));
    return true;
  };
  while (!full && lo < head) {
    const std::int64_t hi = std::min(head, lo + width);
    const auto limit = static_cast<std::int64_t>(max_entries - page.entries.size()) + 1;
    FC_TRY(run(lo, hi, limit, accept));
    lo = hi;
    width = std::min<std::int64_t>(width * 2, std::int64_t{1} << 40);
  }
  return page;
}

// Reads rows of a figure-inputs records statement (sql::inputs) while they belong to
// `case_id` (the stream is on a row of it when called) into `out`; returns whether a row of a
// later case is current.
template <typename Stream>
Result<bool> read_case_records(Stream& u, const std::string& case_id,
                               std::vector<StoredRecord>& out) {
  std::unordered_map<std::string, std::size_t> at;
  for (;;) {
    std::string id = u.column_text(1);
    auto it = at.find(id);
    if (it == at.end()) {
      StoredRecord r;
      r.id = id;
      auto kind = kind_from_text(u.column_text(2));
      if (!kind.ok()) return kind.status();
      r.kind = *kind;
      r.case_id = case_id;
      r.deleted = u.column_int(3) != 0;
      it = at.emplace(std::move(id), out.size()).first;
      out.push_back(std::move(r));
    }
    if (!u.column_is_null(4)) {
      auto v = value_from_text(u.column_text(5));
      if (!v.ok()) return v.status();
      out[it->second].fields.emplace(u.column_text(4), FieldState{std::move(*v), {}, {}});
    }
    auto row = u.step();
    if (!row.ok()) return row.status();
    if (!*row) return false;
    if (u.column_text(0) != case_id) return true;
  }
}

inline void sort_by_id(std::vector<StoredRecord>& records) {
  std::sort(records.begin(), records.end(),
            [](const StoredRecord& a, const StoredRecord& b) { return a.id < b.id; });
}

// ServerStore::each_case_figure_inputs over the two every-case statements of sql::inputs,
// both ordered by case id (byte order), neither stepped yet.
template <typename Stream>
Status each_case_inputs(Stream& records, Stream& claims,
                        const std::function<Status(CaseFigureInputs&)>& fn) {
  auto record_row = records.step();
  if (!record_row.ok()) return record_row.status();
  bool more = *record_row;
  auto claim_row = claims.step();
  if (!claim_row.ok()) return claim_row.status();
  bool more_claims = *claim_row;
  while (more) {
    CaseFigureInputs in;
    in.case_id = records.column_text(0);
    auto next = read_case_records(records, in.case_id, in.records);
    if (!next.ok()) return next.status();
    more = *next;
    sort_by_id(in.records);
    // Claims are in case order too: skip those of cases without selected records.
    while (more_claims) {
      const std::string claim_case = claims.column_text(2);
      if (claim_case > in.case_id) break;
      if (claim_case == in.case_id) {
        auto claim = read_claim(claims);
        if (!claim.ok()) return claim.status();
        in.claims.push_back(std::move(*claim));
      }
      auto row = claims.step();
      if (!row.ok()) return row.status();
      more_claims = *row;
    }
    FC_TRY(fn(in));
  }
  return {};
}

}  // namespace fieldcase::server::storage
