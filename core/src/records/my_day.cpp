// "My day": what is overdue, due today and due in the next five working days for the signed-in
// worker, from the record table's indexed columns (only the children's bodies are parsed).
#include <algorithm>
#include <map>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/record_store.hpp"

namespace fieldcase {
namespace {

std::optional<Date> date_prefix(const std::string& text) {
  if (text.size() < 10) return std::nullopt;
  auto d = Date::parse(std::string_view(text).substr(0, 10));
  return d.ok() ? std::optional<Date>(*d) : std::nullopt;
}

std::string label_for(std::string_view assessment_kind) {
  return std::string(assessment_kind) + " assessment";
}

}  // namespace

Result<MyDay> RecordStore::my_day(Date today) {
  MyDay day;
  day.today = today;
  const WorkingCalendar& cal = timescales_.calendar();

  // The caseload: children allocated to me, with their names.
  std::map<std::string, std::string> names;
  {
    auto kids = caseload();
    if (!kids.ok()) return kids.status();
    for (const auto& c : *kids) {
      names[c.id] = std::string(text_of(c.fields, "first_name").value_or("")) + " " +
                    std::string(text_of(c.fields, "last_name").value_or(""));
    }
  }
  std::vector<DueItem> items;
  auto in_caseload = [&](const std::string& case_id) { return names.contains(case_id); };

  // Assessments not yet completed, by due date.
  {
    auto st = store_.prepare(
        "SELECT r.id, r.case_id, r.key_date, r.subtype FROM record c CROSS JOIN record r "
        "ON r.case_id = c.id AND r.kind = 'assessment' AND r.deleted = 0 "
        "AND r.status IN ('draft', 'in_progress', 'returned') AND r.key_date IS NOT NULL "
        "WHERE c.kind = 'child' AND c.subtype = ?1 AND c.deleted = 0");
    if (!st.ok()) return st.status();
    st->bind(1, who_.worker_id);
    for (;;) {
      auto row = st->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      auto due = date_prefix(st->column_text(2));
      if (!due) continue;
      std::string case_id = st->column_text(1);
      items.push_back({DueItem::What::assessment, st->column_text(0), case_id, names[case_id],
                       label_for(st->column_text(3)), *due, 0});
    }
  }

  // The latest statutory visit of each kind per child in the caseload. A visit where the
  // child was not seen (no access) is recorded but is not a statutory visit: the next one
  // stays due from the last time the child was seen.
  std::map<std::pair<std::string, std::string>, Date> last_visit;
  {
    auto st = store_.prepare(
        "SELECT r.case_id, r.subtype, max(r.key_date) FROM record c CROSS JOIN record r "
        "ON r.case_id = c.id AND r.kind = 'visit' AND r.deleted = 0 "
        "AND r.subtype IN ('cp_statutory', 'lac_statutory') AND r.status = 'seen' "
        "WHERE c.kind = 'child' AND c.subtype = ?1 AND c.deleted = 0 "
        "GROUP BY r.case_id, r.subtype");
    if (!st.ok()) return st.status();
    st->bind(1, who_.worker_id);
    for (;;) {
      auto row = st->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      if (auto d = date_prefix(st->column_text(2))) {
        last_visit[{st->column_text(0), st->column_text(1)}] = *d;
      }
    }
  }

  // Open child protection plans and looked-after episodes.
  {
    auto st = store_.prepare(
        "SELECT r.id, r.case_id, r.kind, r.key_date, r.subtype FROM record c CROSS JOIN record r "
        "ON r.case_id = c.id AND r.kind IN ('cp_plan', 'lac_episode') AND r.deleted = 0 "
        "AND r.status = 'open' "
        "WHERE c.kind = 'child' AND c.subtype = ?1 AND c.deleted = 0");
    if (!st.ok()) return st.status();
    st->bind(1, who_.worker_id);
    for (;;) {
      auto row = st->step();
      if (!row.ok()) return row.status();
      if (!*row) break;
      std::string case_id = st->column_text(1);
      if (!in_caseload(case_id)) continue;
      auto start = date_prefix(st->column_text(3));
      if (!start) continue;
      if (st->column_text(2) == "cp_plan") {
        auto it = last_visit.find({case_id, "cp_statutory"});
        Date from = it != last_visit.end() && it->second >= *start ? it->second : *start;
        auto due = timescales_.cp_visit_due(from);
        if (due.ok()) {
          items.push_back({DueItem::What::cp_visit, st->column_text(0), case_id, names[case_id],
                           "child protection visit", *due, 0});
        }
      } else {
        const Date placement = *start;  // key_date is the placement start for episodes
        const bool until_18 = st->column_text(4) == "until_18";
        auto it = last_visit.find({case_id, "lac_statutory"});
        std::optional<Date> last;
        if (it != last_visit.end()) last = it->second;
        auto due = timescales_.lac_visit_due(placement, last, until_18);
        if (due.ok()) {
          items.push_back({DueItem::What::lac_visit, st->column_text(0), case_id, names[case_id],
                           "looked-after child visit", *due, 0});
        }
      }
    }
  }

  auto week_end = cal.add_working_days(today, 5);
  if (!week_end.ok()) return week_end.status();
  for (auto& item : items) {
    item.working_days_left = cal.working_days_between(today, item.due);
    if (item.due < today) {
      day.overdue.push_back(std::move(item));
    } else if (item.due == today) {
      day.due_today.push_back(std::move(item));
    } else if (item.due <= *week_end) {
      day.due_this_week.push_back(std::move(item));
    }
  }
  auto by_due = [](const DueItem& a, const DueItem& b) {
    return a.due != b.due ? a.due < b.due : a.record_id < b.record_id;
  };
  std::sort(day.overdue.begin(), day.overdue.end(), by_due);
  std::sort(day.due_today.begin(), day.due_today.end(), by_due);
  std::sort(day.due_this_week.begin(), day.due_this_week.end(), by_due);

  auto pending = pending_transactions();
  if (!pending.ok()) return pending.status();
  day.changes_waiting = *pending;
  return day;
}

}  // namespace fieldcase
