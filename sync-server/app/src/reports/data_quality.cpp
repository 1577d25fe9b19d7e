// The data-quality list: the flagged and left-out records behind a unit's figures, per team.
#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "fieldcase/server/reports.hpp"

namespace fieldcase::server::reports {

namespace fg = figures;

namespace {

struct Names {
  std::string worker_name, team_id, team_name;
};

// Worker and team names of the current allocations, read once per list.
class Directory {
 public:
  explicit Directory(ServerStore& store) : store_(store) {}

  Result<Names> of_worker(const std::string& worker_id) {
    if (worker_id.empty()) return Names{};
    if (auto it = cache_.find(worker_id); it != cache_.end()) return it->second;
    Names n;
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (*worker) {
      n.worker_name = (*worker)->name;
      n.team_id = (*worker)->team_id;
      if (!n.team_id.empty()) {
        auto team = store_.find_team(n.team_id);
        if (!team.ok()) return team.status();
        if (*team) n.team_name = (*team)->name;
      }
    }
    cache_.emplace(worker_id, n);
    return n;
  }

 private:
  ServerStore& store_;
  std::map<std::string, Names> cache_;
};

}  // namespace

std::string flag_reason(std::string_view flag, const fg::FiguresConfig& config) {
  if (flag == fg::kFlagMissingStart) {
    return "The date the work started is missing or unreadable (for an assessment, its "
           "referral's date or its own start date), so the record is left out of the figure. "
           "Record the start date.";
  }
  if (flag == fg::kFlagEndBeforeStart) {
    return "The date the work ended is before the date it started, so the record is left out "
           "of the figure. Check both dates.";
  }
  if (flag == fg::kFlagClockAfterReceipt) {
    return "The tablet recorded a time later than the moment the server received it: the "
           "tablet's clock was wrong. Check the time and correct it if needed.";
  }
  if (flag == fg::kFlagClockBeforeStart) {
    return "The time recorded on the tablet is before the work it belongs to started. Check "
           "the time and correct it if needed.";
  }
  if (flag == fg::kFlagClockOffset) {
    return "The tablet's clock was far from the right time when it synced; the server "
           "corrected the time it recorded. Check the time, and the tablet's clock settings.";
  }
  if (flag == "synced_late") {
    return "The record reached the server more than " + std::to_string(config.late_sync_days) +
           " days after the work was done, so managers could not see it in time. Sync the "
           "tablet at least daily.";
  }
  if (flag == fg::kFlagBadReview) {
    return "A review conference date is before the plan started or is unreadable, so the plan "
           "is left out of the reviews figure. Correct the review dates.";
  }
  return "The record carries the data-quality flag '" + std::string(flag) + "'.";
}

Result<DataQualityList> data_quality(ServerStore& store, const fg::FiguresConfig& config,
                                     const Unit& unit, const fg::Period& period, Date as_of) {
  fg::FactsCache facts(store);  // each indicator's facts read once for the whole list
  return data_quality(store, facts, config, unit, period, as_of);
}

Result<DataQualityList> data_quality(ServerStore& store, fg::FactsCache& facts,
                                     const fg::FiguresConfig& config, const Unit& unit,
                                     const fg::Period& period, Date as_of) {
  DataQualityList list;
  list.unit = unit;
  list.period = period;
  list.as_of = as_of;
  std::map<std::string, QualityRecord> by_record;
  std::map<std::string, std::set<std::string>> flags_of;
  for (const auto& def : fg::definitions()) {
    auto figure = fg::compute(facts, config, unit_query(def, unit, period, as_of));
    if (!figure.ok()) return figure.status();
    auto take = [&](const fg::DrillRow& row, bool left_out) {
      if (row.flags.empty()) return;
      auto [it, fresh] = by_record.try_emplace(row.record_id);
      QualityRecord& r = it->second;
      if (fresh) {
        r.record_id = row.record_id;
        r.case_id = row.case_id;
        r.kind = def.kind;
        r.worker_id = row.worker_id;
        r.start = row.start;
        r.end = row.end;
      }
      if (std::find(r.indicators.begin(), r.indicators.end(), def.id) == r.indicators.end()) {
        r.indicators.emplace_back(def.id);
      }
      r.left_out = r.left_out || left_out;
      flags_of[row.record_id].insert(row.flags.begin(), row.flags.end());
    };
    for (const auto& row : figure->records) take(row, false);
    for (const auto& row : figure->excluded_records) take(row, true);
  }
  Directory directory(store);
  for (auto& [id, r] : by_record) {
    auto names = directory.of_worker(r.worker_id);
    if (!names.ok()) return names.status();
    r.worker_name = names->worker_name;
    r.team_id = names->team_id;
    r.team_name = names->team_name;
    const auto& flags = flags_of[id];
    r.flags.assign(flags.begin(), flags.end());
    for (const auto& f : r.flags) r.reasons.push_back(flag_reason(f, config));
    list.records.push_back(std::move(r));
  }
  std::sort(list.records.begin(), list.records.end(),
            [](const QualityRecord& a, const QualityRecord& b) {
              // Unallocated (no team) last.
              return std::make_tuple(a.team_id.empty(), a.team_name, a.team_id, a.worker_name,
                                     a.worker_id, a.case_id, a.record_id) <
                     std::make_tuple(b.team_id.empty(), b.team_name, b.team_id, b.worker_name,
                                     b.worker_id, b.case_id, b.record_id);
            });
  return list;
}

std::string data_quality_csv(const DataQualityList& list) {
  std::string out =
      "team_id,team,worker_id,worker,case_id,record_id,record_kind,start,end,flags,reasons,"
      "indicators,left_out\r\n";
  auto join = [](const std::vector<std::string>& parts, std::string_view sep) {
    std::string s;
    for (const auto& p : parts) {
      if (!s.empty()) s += sep;
      s += p;
    }
    return s;
  };
  for (const auto& r : list.records) {
    const std::vector<std::string> cells{r.team_id,
                                         r.team_name,
                                         r.worker_id,
                                         r.worker_name,
                                         r.case_id,
                                         r.record_id,
                                         std::string(to_string(r.kind)),
                                         r.start,
                                         r.end,
                                         join(r.flags, ";"),
                                         join(r.reasons, " "),
                                         join(r.indicators, ";"),
                                         r.left_out ? "yes" : "no"};
    for (std::size_t i = 0; i < cells.size(); ++i) {
      if (i > 0) out += ',';
      out += csv_cell(cells[i]);
    }
    out += "\r\n";
  }
  return out;
}

}  // namespace fieldcase::server::reports
