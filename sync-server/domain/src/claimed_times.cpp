#include "fieldcase/server/claimed_times.hpp"

#include <array>

namespace fieldcase::server {
namespace {

constexpr std::array kRules{
    // An assessment is completed after the day it started, and authorised after completion.
    ClaimedTimeRule{RecordKind::assessment, "completed_at", "", "start_date", ClaimedStart::date},
    ClaimedTimeRule{RecordKind::assessment, "authorised_at", "", "completed_at",
                    ClaimedStart::claimed_time},
    // A visit made for an assessment starts after the day the assessment started.
    ClaimedTimeRule{RecordKind::visit, "start_at", "assessment_id", "start_date",
                    ClaimedStart::date},
    // A note belongs to the day of its visit.
    ClaimedTimeRule{RecordKind::case_note, "contact_at", "visit_id", "start_at",
                    ClaimedStart::claimed_day},
};

}  // namespace

std::span<const ClaimedTimeRule> claimed_time_rules() noexcept { return kRules; }

const ClaimedTimeRule* claimed_time_rule(RecordKind kind, std::string_view field) noexcept {
  for (const auto& rule : kRules) {
    if (rule.kind == kind && rule.field == field) return &rule;
  }
  return nullptr;
}

bool is_claimed_time(RecordKind kind, std::string_view field) noexcept {
  return claimed_time_rule(kind, field) != nullptr;
}

}  // namespace fieldcase::server
