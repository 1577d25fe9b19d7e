// The Department for Education's Children in Need census: one collection year's XML file for
// the authority, mapped from the server's records (docs/exports.md describes every item).
//
// A collection year YYYY runs from 1 April YYYY-1 to 31 March YYYY, its reference date. A
// child is in the census when one of their referrals (a CIN episode) was open at some point of
// the year; each such referral is one CINdetails, holding the assessments, CIN plans, section 47
// enquiries and child protection plans of that episode that were open during the year.
//
// The file must validate against the 2024 schema. Every value is checked against the schema's
// types and code lists before it is written: a record that cannot be written cleanly is left out
// (or, when an item the schema requires is missing or invalid, its episode or child is) and
// listed in the exceptions with the reason, never written invalid and never silently dropped.
// Where the schema forces a choice that changes nothing a council reports (an ethnicity not
// recorded is "NOBT", information not yet obtained), the value is written and the exception says
// so.
//
// Free functions over a ServerStore; thread-safety is the store's. Reading every case is the
// caller's to audit (export_census returns the cases it read).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server::cin {

struct CensusYear {
  int year = 0;
  Date first;  // 1 April of the year before
  Date last;   // 31 March: the reference date
};
// invalid_argument outside 2000..9998.
Result<CensusYear> census_year(int year);

enum class Outcome : std::uint8_t {
  child_left_out,      // the child is not in the file
  episode_left_out,    // one referral (CINdetails) is not in the file
  record_left_out,     // one assessment, plan, enquiry or review is not in the file
  exported_with_note,  // written, with a value the reason explains
};
std::string_view to_string(Outcome outcome) noexcept;

// A record that could not be exported cleanly.
struct Exception {
  std::string case_id;
  std::string la_child_id;  // the child's local id, when it has one
  std::string record_id;    // the record concerned (the child record for the child's own items)
  RecordKind kind = RecordKind::child;
  Outcome outcome = Outcome::record_left_out;
  std::string reason;  // names the census item and what is wrong, in words
};

struct CensusExport {
  CensusYear year;
  std::string la_code;
  // The file; empty when no child is in the census (the schema needs at least one Child, so
  // there is no valid file to write).
  std::string xml;
  std::int64_t children = 0;            // Child elements in the file
  std::int64_t episodes = 0;            // CINdetails elements
  std::vector<Exception> exceptions;    // by case id, then record id
  std::vector<std::string> cases_read;  // every case in the file or in the exceptions
};

// The census of `year`. `generated_at` (an ISO datetime) goes in the header's DateTime.
// Errors: invalid_argument (the year), not_found (no authority: its LA code is the header's
// LEA), or a storage error.
Result<CensusExport> export_census(ServerStore& store, int year, std::string_view generated_at);

// The exceptions as CSV (case_id, la_child_id, record_id, record_kind, outcome, reason), cells
// as reports::csv_cell.
std::string exceptions_csv(const CensusExport& census);

}  // namespace fieldcase::server::cin
