// The raw events figures are computed from, one per record and indicator, and what figures read
// of the records to derive them (domain entities, no I/O; figures.hpp derives and computes).
#pragma once

#include <functional>
#include <set>
#include <string>
#include <vector>

#include "fieldcase/record.hpp"
#include "fieldcase/server/case_records.hpp"

namespace fieldcase::server {

// One record's raw events for one indicator (figures.hpp derives them; the store keeps them).
// Dates are "YYYY-MM-DD" or ISO datetimes as the record holds them; empty when absent.
struct FigureFact {
  std::string indicator;
  std::string record_id;
  std::string case_id;
  std::string start;
  std::string end;
  std::string end_received_at;  // when the server received the end event, if known
  std::string detail;           // indicator-specific (the visit type of a recording delay)
  bool hit = false;             // proportion and count measures: counted in the numerator
  std::string flags;            // data-quality flags, comma separated, sorted

  friend bool operator==(const FigureFact&, const FigureFact&) = default;
};

// What figures read of the records: those of `kinds` and those named in `records` (every
// record when both are empty), each with only the fields named in `fields` (every field when
// empty), and the claimed times of those fields. Deleted records are included (with the
// selected fields they still hold).
struct FigureInputSelection {
  std::set<RecordKind> kinds;
  std::set<std::string, std::less<>> records;
  std::set<std::string, std::less<>> fields;
};

// One case's records as a FigureInputSelection selects them, in id order, and their claimed
// times. Records carry id, kind, case_id, deleted and the selected fields only.
struct CaseFigureInputs {
  std::string case_id;
  std::vector<StoredRecord> records;
  std::vector<ClaimedTime> claims;
};

// A figure fact with the current attribution of its case (see figures.hpp, "Attribution").
struct AttributedFact {
  FigureFact fact;
  std::string worker;  // the case's current allocation; empty when unallocated
  std::string team;    // that worker's team, and the team's area
  std::string area;
};

}  // namespace fieldcase::server
