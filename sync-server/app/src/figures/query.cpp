// Answers figure queries from the facts: attribution, periods, measures, RAG, data quality.
#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <deque>
#include <iterator>
#include <limits>
#include <map>
#include <optional>
#include <ranges>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/figures.hpp"

namespace fieldcase::server::figures {

namespace {

std::string date_part(const std::string& v) { return v.size() >= 10 ? v.substr(0, 10) : v; }

std::optional<Date> date_of(const std::string& v) {
  if (v.empty()) return std::nullopt;
  auto d = Date::parse(date_part(v));
  return d.ok() ? std::optional<Date>(*d) : std::nullopt;
}

// Seconds since the epoch of a datetime, or of the start of a date's day.
std::optional<std::int64_t> seconds_of(const std::string& v) {
  if (v.size() > 10) return parse_iso_datetime(v);
  auto d = date_of(v);
  if (!d) return std::nullopt;
  return static_cast<std::int64_t>(d->days_since_epoch()) * 86'400;
}

std::optional<CivilTime> civil_of(const std::optional<std::int64_t>& s) {
  if (!s) return std::nullopt;
  const std::int64_t day = (*s >= 0 ? *s : *s - 86'399) / 86'400;
  auto d = Date::from_days_since_epoch(day);
  if (!d.ok()) return std::nullopt;
  return CivilTime{*d, static_cast<std::int32_t>(*s - day * 86'400)};
}

std::vector<std::string> split_commas(const std::string& flags) {
  std::vector<std::string> out;
  std::size_t pos = 0;
  while (pos < flags.size()) {
    std::size_t comma = flags.find(',', pos);
    if (comma == std::string::npos) comma = flags.size();
    if (comma > pos) out.push_back(flags.substr(pos, comma - pos));
    pos = comma + 1;
  }
  return out;
}

// Whether the comma-separated `flags` hold `flag` (without splitting them).
bool has_flag(std::string_view flags, std::string_view flag) {
  std::size_t pos = 0;
  while (pos <= flags.size()) {
    std::size_t comma = flags.find(',', pos);
    if (comma == std::string_view::npos) comma = flags.size();
    if (flags.substr(pos, comma - pos) == flag) return true;
    pos = comma + 1;
  }
  return false;
}

std::int32_t limit_of(const Timescales& t, LimitKind kind) {
  const auto& s = t.settings();
  switch (kind) {
    case LimitKind::contact_decision:
      return s.contact_decision_working_days;
    case LimitKind::initial_assessment:
      return s.initial_assessment_working_days;
    case LimitKind::core_assessment:
      return s.core_assessment_working_days;
    case LimitKind::single_assessment:
      return s.single_assessment_working_days;
    case LimitKind::initial_conference:
      return s.initial_conference_working_days;
    case LimitKind::cp_visit:
      return s.cp_visit_interval_working_days;
    case LimitKind::none:
    case LimitKind::recording_standard:
    case LimitKind::cp_reviews:
      break;
  }
  return 0;
}

// Nearest rank: the smallest value with at least p of the values at or below it. `sorted` is
// in ascending order and not empty.
double percentile(const std::vector<double>& sorted, double p) {
  auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
  if (rank == 0) rank = 1;
  return sorted[rank - 1];
}

std::string fmt(double v) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string quality_note(const DataQuality& q) {
  if (q.records == 0 && q.excluded == 0) return "no records";
  std::string note = std::to_string(q.records) + " record" + (q.records == 1 ? "" : "s");
  if (q.flagged == 0 && q.excluded == 0) return note + "; no data-quality flags";
  if (q.flagged > 0) {
    note += "; " + std::to_string(q.flagged) + " flagged (";
    bool first = true;
    for (const auto& [flag, n] : q.by_flag) {
      if (!first) note += ", ";
      first = false;
      note += std::to_string(n) + " " + flag;
    }
    note += ")";
  }
  if (q.excluded > 0) {
    note += "; " + std::to_string(q.excluded) + " left out for missing or inconsistent dates";
  }
  return note;
}

}  // namespace

namespace {

constexpr std::int32_t kNoDay = std::numeric_limits<std::int32_t>::max();

std::int32_t day_key(const std::optional<Date>& d) { return d ? d->days_since_epoch() : kNoDay; }

// A fact as compute() reads it, its dates parsed once.
struct Entry {
  FigureFact fact;
  std::uint32_t case_slot = 0;
  std::optional<Date> start, end;
  std::optional<std::int64_t> start_s, end_s, received_s;  // seconds since the epoch
  bool live = false;                                       // a removed entry's slot waits for reuse

  std::int32_t start_key() const { return day_key(start); }
  std::int32_t end_key() const { return day_key(end); }
};

// (day, slot), in order: an index of one indicator's entries by a date.
using DayIndex = std::vector<std::pair<std::int32_t, std::uint32_t>>;

void index_insert(DayIndex& index, std::int32_t day, std::uint32_t slot) {
  const std::pair<std::int32_t, std::uint32_t> key{day, slot};
  index.insert(std::lower_bound(index.begin(), index.end(), key), key);
}

void index_erase(DayIndex& index, std::int32_t day, std::uint32_t slot) {
  const std::pair<std::int32_t, std::uint32_t> key{day, slot};
  auto it = std::lower_bound(index.begin(), index.end(), key);
  if (it != index.end() && *it == key) index.erase(it);
}

// One indicator's facts, by start and by end date: a figure reads only the facts whose dates
// can put them in its period, not the indicator's whole history.
struct IndicatorFacts {
  // A deque: a fact added after the first read never moves the others (a vector's growth
  // would copy every fact of the indicator inside one request).
  std::deque<Entry> entries;
  std::vector<std::uint32_t> free;
  DayIndex by_start, by_end;

  std::uint32_t add(Entry e) {
    e.live = true;
    std::uint32_t slot = 0;
    if (!free.empty()) {
      slot = free.back();
      free.pop_back();
      entries[slot] = std::move(e);
    } else {
      slot = static_cast<std::uint32_t>(entries.size());
      entries.push_back(std::move(e));
    }
    index_insert(by_start, entries[slot].start_key(), slot);
    index_insert(by_end, entries[slot].end_key(), slot);
    return slot;
  }

  void remove(std::uint32_t slot) {
    Entry& e = entries[slot];
    index_erase(by_start, e.start_key(), slot);
    index_erase(by_end, e.end_key(), slot);
    e = Entry{};
    free.push_back(slot);
  }

  // The slots whose index day lies in [from, to], in day order.
  template <typename F>
  void each(const DayIndex& index, std::int32_t from, std::int32_t to, F&& f) const {
    if (to < from) return;
    auto it = std::lower_bound(index.begin(), index.end(), std::pair{from, std::uint32_t{0}});
    for (; it != index.end() && it->first <= to; ++it) f(entries[it->second]);
  }
};

// The facts a figure reads, by the date that puts them in it: ended (or started) in the
// period, or not ended by the day the figure is taken on.
struct FactsRange {
  bool by_start = false;
  std::int32_t from = 0, to = 0;
};

FactsRange facts_range(const IndicatorDefinition& def, const FigureQuery& query) {
  const Date day = std::min(query.as_of, query.period.last);
  const std::int32_t first_day = query.period.first.days_since_epoch();
  const std::int32_t last_day = std::min(query.period.last, query.as_of).days_since_epoch();
  const std::int32_t after_day = day.days_since_epoch() + 1;
  FactsRange r{false, first_day, last_day};
  switch (def.measure) {
    case Measure::timeliness:
    case Measure::lac_visit_schedule:
      break;
    case Measure::proportion:
    case Measure::delay:
      r.by_start = def.period_event == PeriodEvent::start;
      break;
    case Measure::count_as_of:
    case Measure::backlog_outstanding:
    case Measure::backlog_overdue:
      r.from = after_day;
      r.to = kNoDay;
      break;
    case Measure::reviews_on_time:
      r.from = std::min(first_day, after_day);
      r.to = kNoDay;
      break;
  }
  return r;
}

// The worker, team and area a case is attributed to, as unit numbers (-1: none).
struct CaseUnits {
  std::int32_t worker = -1, team = -1, area = -1;
  friend bool operator==(const CaseUnits&, const CaseUnits&) = default;
};

}  // namespace

struct FactsCache::Impl {
  explicit Impl(ServerStore& s) : store(s) {}

  std::int32_t unit_number(const std::string& id) {
    if (id.empty()) return -1;
    auto [it, added] = units.try_emplace(id, static_cast<std::int32_t>(unit_ids.size()));
    if (added) unit_ids.push_back(id);
    return it->second;
  }
  std::optional<std::int32_t> find_unit(const std::string& id) const {
    auto it = units.find(id);
    if (it == units.end()) return std::nullopt;
    return it->second;
  }

  // The case's slot, its attribution set to the fact's.
  std::uint32_t case_of(const AttributedFact& a) {
    auto [it, added] =
        case_slots.try_emplace(a.fact.case_id, static_cast<std::uint32_t>(cases.size()));
    if (added) {
      cases.emplace_back();
      case_entries.emplace_back();
    }
    cases[it->second] = {unit_number(a.worker), unit_number(a.team), unit_number(a.area)};
    return it->second;
  }

  static Entry entry_of(AttributedFact&& a, std::uint32_t case_slot) {
    Entry e;
    e.start = date_of(a.fact.start);
    e.end = date_of(a.fact.end);
    e.start_s = seconds_of(a.fact.start);
    e.end_s = seconds_of(a.fact.end);
    e.received_s = seconds_of(a.fact.end_received_at);
    e.fact = std::move(a.fact);
    e.case_slot = case_slot;
    return e;
  }

  // The facts of one indicator, read from the store the first time (one statement: the store
  // joins each fact to its case's allocation).
  Result<const IndicatorFacts*> of(std::string_view indicator) {
    auto it = facts.find(indicator);
    if (it == facts.end()) {
      auto read = store.attributed_figure_facts(indicator);
      if (!read.ok()) return read.status();
      IndicatorFacts loaded;
      for (auto& a : *read) {
        const std::uint32_t c = case_of(a);
        loaded.entries.push_back(entry_of(std::move(a), c));
        loaded.entries.back().live = true;
      }
      for (std::uint32_t slot = 0; slot < loaded.entries.size(); ++slot) {
        loaded.by_start.emplace_back(loaded.entries[slot].start_key(), slot);
        loaded.by_end.emplace_back(loaded.entries[slot].end_key(), slot);
      }
      std::sort(loaded.by_start.begin(), loaded.by_start.end());
      std::sort(loaded.by_end.begin(), loaded.by_end.end());
      it = facts.emplace(std::string(indicator), std::move(loaded)).first;
      const std::string& name = it->first;
      const auto& entries = it->second.entries;
      for (std::uint32_t slot = 0; slot < entries.size(); ++slot) {
        case_entries[entries[slot].case_slot].emplace_back(&name, slot);
      }
    }
    return &it->second;
  }

  // Replaces the cached facts of one case with `fresh` (every indicator's facts of the case,
  // attributed), touching only the facts that changed.
  void replace_case(const std::string& case_id, std::vector<AttributedFact> fresh) {
    auto found = case_slots.find(case_id);
    if (found == case_slots.end() && fresh.empty()) return;
    std::uint32_t c = 0;
    CaseUnits before;
    if (found != case_slots.end()) {
      c = found->second;
      before = cases[c];
      cases[c] = {};
    }
    // What the cache holds of the case now, by (indicator, record).
    std::map<std::pair<std::string_view, std::string_view>,
             std::pair<const std::string*, std::uint32_t>>
        held;
    if (found != case_slots.end()) {
      for (const auto& [name, slot] : case_entries[c]) {
        held.emplace(std::pair<std::string_view, std::string_view>(
                         *name, facts.find(*name)->second.entries[slot].fact.record_id),
                     std::pair(name, slot));
      }
    }
    std::vector<std::pair<const std::string*, std::uint32_t>> kept;
    std::vector<std::pair<const std::string*, AttributedFact*>> added;
    for (auto& a : fresh) {
      c = case_of(a);
      auto cached = facts.find(a.fact.indicator);
      if (cached == facts.end()) continue;  // an indicator not read yet reads the store later
      auto h = held.find({a.fact.indicator, a.fact.record_id});
      if (h != held.end() && cached->second.entries[h->second.second].fact == a.fact) {
        kept.push_back(h->second);
        held.erase(h);
        continue;
      }
      added.emplace_back(&cached->first, &a);
    }
    const CaseUnits after = found != case_slots.end() || !fresh.empty() ? cases[c] : CaseUnits{};
    if (!(before == after)) {
      // Moved to another unit: the figures of both units change.
      for (const auto& [name, slot] : kept) {
        const Entry& e = facts.find(*name)->second.entries[slot];
        note_change(*name, e, before);
        note_change(*name, e, after);
      }
    }
    for (const auto& [key, where] : held) {
      auto& list = facts.find(*where.first)->second;
      note_change(*where.first, list.entries[where.second], before);
      list.remove(where.second);
    }
    for (auto& [name, a] : added) {
      auto& list = facts.find(*name)->second;
      const std::uint32_t slot = list.add(entry_of(std::move(*a), c));
      note_change(*name, list.entries[slot], after);
      kept.emplace_back(name, slot);
    }
    if (found == case_slots.end() && kept.empty()) return;
    case_entries[case_slots.at(case_id)] = std::move(kept);
  }

  void note_change(const std::string& indicator, const Entry& e, const CaseUnits& u) {
    auto id = [&](std::int32_t n) { return n >= 0 ? unit_ids[n] : std::string(); };
    changes.push_back({indicator, e.start, e.end, id(u.worker), id(u.team), id(u.area)});
  }

  ServerStore& store;
  std::vector<FactsCache::Change> changes;  // since take_changes()
  std::map<std::string, IndicatorFacts, std::less<>> facts;
  std::unordered_map<std::string, std::int32_t> units;  // worker, team and area ids
  std::vector<std::string> unit_ids;
  std::unordered_map<std::string, std::uint32_t> case_slots;
  std::vector<CaseUnits> cases;
  // Each case's cached entries: (indicator name in `facts`, slot).
  std::vector<std::vector<std::pair<const std::string*, std::uint32_t>>> case_entries;
};

FactsCache::FactsCache(ServerStore& store) : impl_(std::make_unique<Impl>(store)) {}
FactsCache::~FactsCache() = default;

std::vector<FactsCache::Change> FactsCache::take_changes() {
  return std::exchange(impl_->changes, {});
}

bool may_change(const std::vector<FactsCache::Change>& changes, const FigureQuery& query) {
  const IndicatorDefinition* def = find_definition(query.indicator);
  if (def == nullptr) return false;
  const FactsRange range = facts_range(*def, query);
  std::vector<std::string_view> sources = def->sources;
  if (sources.empty()) sources.push_back(def->id);
  for (const auto& c : changes) {
    if (std::find(sources.begin(), sources.end(), c.indicator) == sources.end()) continue;
    const std::int32_t key = day_key(range.by_start ? c.start : c.end);
    if (key < range.from || key > range.to) continue;
    switch (query.level) {
      case Level::authority:
        return true;
      case Level::area:
        if (c.area == query.id) return true;
        break;
      case Level::team:
        if (c.team == query.id) return true;
        break;
      case Level::worker:
        if (c.worker == query.id) return true;
        break;
    }
  }
  return false;
}

Status FactsCache::read_all(const std::function<bool()>& stop) {
  for (const auto& def : definitions()) {
    if (stop && stop()) break;
    if (!def.sources.empty()) continue;  // reads other indicators' facts
    auto read = impl_->of(def.id);
    if (!read.ok()) return read.status();
  }
  return {};
}

Status FactsCache::refresh_cases(const std::set<std::string>& case_ids) {
  if (case_ids.empty() || impl_->facts.empty()) return {};
  for (const auto& case_id : case_ids) {
    auto facts = impl_->store.attributed_case_figure_facts(case_id);
    if (!facts.ok()) return facts.status();
    impl_->replace_case(case_id, std::move(*facts));
  }
  return {};
}

Result<FigureResult> compute(ServerStore& store, const FiguresConfig& config,
                             const FigureQuery& query) {
  FactsCache cache(store);
  return compute(cache, config, query);
}

Result<FigureResult> compute(FactsCache& cache, const FiguresConfig& config,
                             const FigureQuery& query) {
  const IndicatorDefinition* def = find_definition(query.indicator);
  if (def == nullptr) return Status{Errc::not_found, "no indicator " + query.indicator};

  FigureResult out;
  out.indicator = std::string(def->id);
  out.title = std::string(def->title);
  out.period = query.period.label;
  out.unit = std::string(def->unit);
  out.direction = def->direction;
  out.target = def->target;
  out.baseline = def->baseline;

  FactsCache::Impl& cache_impl = cache.impl();
  const WorkingCalendar& cal = config.timescales.calendar();
  std::vector<const IndicatorFacts*> facts;
  std::vector<std::string_view> sources = def->sources;
  if (sources.empty()) sources.push_back(def->id);
  for (auto src : sources) {
    auto f = cache_impl.of(src);
    if (!f.ok()) return f.status();
    facts.push_back(*f);
  }

  // The unit's number; a unit no case is attributed to has no facts.
  std::int32_t unit = -1;
  if (query.level != Level::authority) {
    auto found = cache_impl.find_unit(query.id);
    unit = found ? *found : -2;
  }
  const auto in_scope = [&](const CaseUnits& c) {
    switch (query.level) {
      case Level::authority:
        return true;
      case Level::area:
        return c.area == unit;
      case Level::team:
        return c.team == unit;
      case Level::worker:
        return c.worker == unit;
    }
    return false;
  };

  const Date day = std::min(query.as_of, query.period.last);  // count and backlog measures
  const auto in_period = [&](const std::optional<Date>& d) {
    return d && *d >= query.period.first && *d <= query.period.last && *d <= query.as_of;
  };
  const FactsRange range = facts_range(*def, query);
  std::vector<double> measured_values;
  std::vector<double> device_values;
  const auto take = [&](const Entry& e) {
    const FigureFact& f = e.fact;
    const CaseUnits& who = cache_impl.cases[e.case_slot];
    if (!in_scope(who)) return;
    const auto& start = e.start;
    const auto& end = e.end;
    // The row is filled in only for the facts the figure takes in or leaves out (most facts
    // fall outside the period): the measures below set start, measured, in_numerator and add
    // flags of their own.
    DrillRow row;
    const bool bad_dates = !start || has_flag(f.flags, kFlagEndBeforeStart);
    bool include = false;
    bool excluded = false;

    switch (def->measure) {
      case Measure::timeliness: {
        if (!in_period(end)) break;
        if (bad_dates) {
          excluded = true;
          break;
        }
        const std::int32_t duration = cal.working_days_between(*start, *end);
        row.measured = duration;
        row.in_numerator = duration <= limit_of(config.timescales, def->limit);
        include = true;
        break;
      }
      case Measure::proportion: {
        const auto& when = def->period_event == PeriodEvent::start ? start : end;
        if (!in_period(when)) break;
        if (def->period_event == PeriodEvent::end && bad_dates) {
          excluded = true;
          break;
        }
        row.in_numerator = f.hit;
        include = true;
        break;
      }
      case Measure::count_as_of: {
        if (!start || *start > day || (end && *end <= day)) break;
        if (!f.hit) break;  // not counted (an unaccompanied asylum-seeking child)
        row.in_numerator = true;
        include = true;
        break;
      }
      case Measure::backlog_outstanding:
      case Measure::backlog_overdue: {
        if (!start || *start > day || (end && *end <= day)) break;
        const std::int32_t so_far = cal.working_days_between(*start, day);
        row.measured = so_far;
        const IndicatorDefinition* src = find_definition(f.indicator);
        const bool overdue = src != nullptr && so_far > limit_of(config.timescales, src->limit);
        if (def->measure == Measure::backlog_overdue && !overdue) break;
        row.in_numerator = true;
        include = true;
        break;
      }
      case Measure::lac_visit_schedule: {
        if (!in_period(end)) break;
        const auto parts = split_commas(f.detail);
        std::optional<Date> last;
        if (!parts.empty() && parts[0] != "none") last = date_of(parts[0]);
        if (bad_dates || parts.size() != 2 || (parts[0] != "none" && !last)) {
          excluded = true;
          break;
        }
        auto due = config.timescales.lac_visit_due(*start, last, parts[1] == "until18");
        if (!due.ok()) {
          excluded = true;
          break;
        }
        row.start = last ? last->to_string() : f.start;
        row.measured = (last ? *last : *start).days_until(*end);  // calendar days
        row.in_numerator = *end <= *due;
        include = true;
        break;
      }
      case Measure::reviews_on_time: {
        if (!start) break;
        const bool open_on_day = *start <= day && (!end || *end > day);
        const bool ended_in_period = end && in_period(end);
        if (!open_on_day && !ended_in_period) break;
        const Date until = open_on_day ? day : *end;
        auto first_due = start->add_months(config.timescales.settings().cp_first_review_months);
        if (!first_due.ok() || until < *first_due) break;  // not yet due a review
        if (bad_dates) {
          excluded = true;
          break;
        }
        std::vector<Date> reviews;
        bool readable = true;
        for (const auto& text : split_commas(f.detail)) {
          auto r = Date::parse(text);
          if (!r.ok() || *r < *start) {
            readable = false;
            break;
          }
          if (*r <= until) reviews.push_back(*r);
        }
        if (!readable) {
          row.flags.emplace_back(kFlagBadReview);
          excluded = true;
          break;
        }
        std::sort(reviews.begin(), reviews.end());
        bool on_time = true;
        std::optional<Date> last;
        for (Date r : reviews) {
          auto due = config.timescales.review_conference_due(*start, last);
          on_time = on_time && due.ok() && r <= *due;
          last = r;
        }
        auto next = config.timescales.review_conference_due(*start, last);
        on_time = on_time && next.ok() && *next >= until;
        row.measured = static_cast<double>(reviews.size());
        row.in_numerator = on_time;
        include = true;
        break;
      }
      case Measure::delay: {
        const auto& when = def->period_event == PeriodEvent::start ? start : end;
        if (!in_period(when)) break;
        if (def->limit == LimitKind::recording_standard) {
          // Visit start to the server's receipt, in hours.
          const auto& s = e.start_s;
          const auto& r = e.received_s;
          auto contact = civil_of(s);
          auto received = civil_of(r);
          if (!s || !r || !contact || !received || *r < *s) {
            excluded = true;
            break;
          }
          row.measured = static_cast<double>(*r - *s) / 3600.0;
          if (const auto& rec = e.end_s; rec && *rec >= *s) {
            device_values.push_back(static_cast<double>(*rec - *s) / 3600.0);
          }
          const RecordingKind kind = f.detail == "cp_statutory" || f.detail == "lac_statutory"
                                         ? RecordingKind::statutory_visit
                                         : RecordingKind::other;
          auto due = config.timescales.recording_due(kind, *contact);
          row.in_numerator = due.ok() && *received <= *due;
        } else {
          if (!end) break;  // not ended yet
          if (bad_dates) {
            excluded = true;
            break;
          }
          row.measured = cal.working_days_between(*start, *end);
        }
        measured_values.push_back(*row.measured);
        include = true;
        break;
      }
    }

    if (!excluded && !include) return;
    const bool keep = query.with_records;  // else only the counts are wanted
    if (keep) {
      row.record_id = f.record_id;
      row.case_id = f.case_id;
      if (who.worker >= 0) row.worker_id = cache_impl.unit_ids[who.worker];
      if (row.start.empty()) row.start = f.start;
      row.end = f.end;
    }
    {
      auto added = std::move(row.flags);
      row.flags = split_commas(f.flags);
      row.flags.insert(row.flags.end(), added.begin(), added.end());
    }
    if (excluded) {
      ++out.quality.excluded;
      if (!start &&
          std::find(row.flags.begin(), row.flags.end(), kFlagMissingStart) == row.flags.end()) {
        row.flags.emplace_back(kFlagMissingStart);  // a start that is not a date
      }
      for (const auto& fl : row.flags) ++out.quality.by_flag[fl];
      if (keep) out.excluded_records.push_back(std::move(row));
      return;
    }
    if (!include) return;
    // Synced late: the server received the work more than late_sync_days after it was done.
    const auto& done_s = f.end.empty() ? e.start_s : e.end_s;
    const auto& recv_s = e.received_s;
    if (done_s && recv_s &&
        *recv_s - *done_s > static_cast<std::int64_t>(config.late_sync_days) * 86'400) {
      row.flags.emplace_back("synced_late");
    }
    ++out.quality.records;
    if (!row.flags.empty()) ++out.quality.flagged;
    for (const auto& fl : row.flags) ++out.quality.by_flag[fl];
    if (row.in_numerator) ++out.numerator;
    ++out.denominator;
    if (keep) out.records.push_back(std::move(row));
  };
  for (const IndicatorFacts* list : facts) {
    list->each(range.by_start ? list->by_start : list->by_end, range.from, range.to, take);
  }

  switch (def->measure) {
    case Measure::timeliness:
    case Measure::proportion:
    case Measure::reviews_on_time:
    case Measure::lac_visit_schedule:
      if (out.denominator > 0) {
        out.value =
            100.0 * static_cast<double>(out.numerator) / static_cast<double>(out.denominator);
      }
      break;
    case Measure::count_as_of:
    case Measure::backlog_outstanding:
    case Measure::backlog_overdue:
      if (def->unit == "per 10,000") {
        // The population is known for the whole authority only.
        out.denominator = query.level == Level::authority ? config.population_under_18 : 0;
        if (out.denominator > 0) {
          out.value =
              10'000.0 * static_cast<double>(out.numerator) / static_cast<double>(out.denominator);
        }
      } else {
        out.value = static_cast<double>(out.numerator);
      }
      break;
    case Measure::delay:
      if (!measured_values.empty()) {
        std::sort(measured_values.begin(), measured_values.end());
        out.median = percentile(measured_values, 0.5);
        out.p90 = percentile(measured_values, 0.9);
        out.value = out.median;
      }
      if (def->limit != LimitKind::recording_standard) out.numerator = 0;
      break;
  }
  out.rag = rag_for(*def, out.value);
  out.quality.note = quality_note(out.quality);
  if (def->limit == LimitKind::recording_standard && !device_values.empty()) {
    std::sort(device_values.begin(), device_values.end());
    out.quality.note += "; median to the device " + fmt(percentile(device_values, 0.5)) + " h";
  }
  const auto by_id = [](const DrillRow& a, const DrillRow& b) { return a.record_id < b.record_id; };
  std::sort(out.records.begin(), out.records.end(), by_id);
  std::sort(out.excluded_records.begin(), out.excluded_records.end(), by_id);
  return out;
}

Result<std::vector<FigureResult>> monthly_series(ServerStore& store, const FiguresConfig& config,
                                                 FigureQuery query, Date first, Date last) {
  if (last < first) return Status{Errc::invalid_argument, "a series ends before it starts"};
  FactsCache cache(store);
  std::vector<FigureResult> out;
  for (Period p = month_of(first); p.first <= last;) {
    query.period = p;
    auto r = compute(cache, config, query);
    if (!r.ok()) return r.status();
    out.push_back(std::move(*r));
    auto next = p.last.add_days(1);
    if (!next.ok()) break;
    p = month_of(*next);
  }
  return out;
}

std::string format_result(const FigureResult& r) {
  std::string s = r.indicator + " " + r.period + ": ";
  if (r.unit == "%") {
    s += std::to_string(r.numerator) + "/" + std::to_string(r.denominator) + " = " +
         (r.value ? fmt(*r.value) + "%" : std::string("n/a"));
  } else {
    s += (r.value ? fmt(*r.value) : std::string("n/a")) + " " + r.unit;
    if (r.p90) s += " (median; 90th percentile " + fmt(*r.p90) + ")";
    if (r.denominator > 0 && r.unit != "count") {
      s += " [" + std::to_string(r.numerator) + "/" + std::to_string(r.denominator) + "]";
    }
  }
  if (r.target) s += " target " + fmt(*r.target);
  if (r.rag != Rag::none) s += " " + std::string(to_string(r.rag));
  s += " | " + r.quality.note;
  return s;
}

}  // namespace fieldcase::server::figures
