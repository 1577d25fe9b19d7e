// Figure facts: the raw events of each record for each indicator, derived from a case's
// records and the server's claimed times, and kept current per case.
#include <algorithm>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/figures.hpp"

namespace fieldcase::server::figures {

namespace {

std::string text(const StoredRecord& r, std::string_view field) {
  if (field.empty()) return {};
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return {};
  const auto* s = std::get_if<std::string>(&it->second.value);
  return s ? *s : std::string();
}

// A text field, or a code list joined by commas.
std::string detail_of(const StoredRecord& r, std::string_view field) {
  if (field.empty()) return {};
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return {};
  if (const auto* s = std::get_if<std::string>(&it->second.value)) return *s;
  std::string out;
  if (const auto* list = std::get_if<CodeList>(&it->second.value)) {
    for (const auto& c : *list) {
      if (!out.empty()) out += ',';
      out += c;
    }
  }
  return out;
}

bool flag_true(const StoredRecord& r, std::string_view field) {
  if (field.empty()) return false;
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return false;
  const auto* b = std::get_if<bool>(&it->second.value);
  return b != nullptr && *b;
}

// An event's value as figures read it, with what the server's clock checks said of it.
struct Event {
  std::string value;
  std::string received_at;  // set for claimed times
  std::set<std::string> flags;
};

using ById = std::map<std::string, const StoredRecord*, std::less<>>;

// The store, and the events already read while deriving one case's facts (each claimed time
// is looked up once, however many indicators and visit intervals read it).
struct Reader {
  ServerStore& store;
  const ById& by_id;  // the records read with the case's inputs
  std::map<std::pair<std::string, std::string>, const ClaimedTime*> claims;  // and their claims
  std::map<std::pair<std::string, std::string>, Event> memo;
};

Result<Event> field_event(Reader& rd, const StoredRecord& r, std::string_view field) {
  auto key = std::make_pair(r.id, std::string(field));
  if (auto it = rd.memo.find(key); it != rd.memo.end()) return it->second;
  Event e;
  e.value = text(r, field);
  if (e.value.empty()) return e;
  Result<std::optional<ClaimedTime>> claim = std::optional<ClaimedTime>();
  if (auto in = rd.by_id.find(r.id); in != rd.by_id.end() && in->second == &r) {
    // A record of the inputs: its claims of the fields the indicators read came with it.
    if (auto it = rd.claims.find(key); it != rd.claims.end()) claim = std::optional(*it->second);
  } else {
    claim = rd.store.find_claimed_time(r.id, field);  // a record read on its own
  }
  if (!claim.ok()) return claim.status();
  // The corrected claim of the value the record holds now (a claim of an earlier value is
  // stale and ignored).
  if (*claim && (*claim)->claimed == e.value) {
    const ClaimedTime& c = **claim;
    e.value = c.corrected;
    e.received_at = c.received_at;
    if (c.after_receipt) e.flags.insert(std::string(kFlagClockAfterReceipt));
    if (c.before_start) e.flags.insert(std::string(kFlagClockBeforeStart));
    if (c.large_offset) e.flags.insert(std::string(kFlagClockOffset));
  }
  rd.memo.emplace(std::move(key), e);
  return e;
}

Result<Event> resolve(Reader& rd, const StoredRecord& r, const EventSource& src) {
  const ById& by_id = rd.by_id;
  if (!src.via.empty()) {
    const std::string ref = text(r, src.via);
    if (!ref.empty()) {
      const StoredRecord* target = nullptr;
      std::optional<StoredRecord> loaded;
      if (auto it = by_id.find(ref); it != by_id.end()) {
        target = it->second;
      } else {
        auto found = rd.store.find_record(ref);
        if (!found.ok()) return found.status();
        loaded = std::move(*found);
        if (loaded) target = &*loaded;
      }
      if (target != nullptr && !target->deleted) {
        auto e = field_event(rd, *target, src.via_field);
        if (!e.ok() || !e->value.empty()) return e;
      }
    }
  }
  auto e = field_event(rd, r, src.field);
  if (!e.ok() || !e->value.empty() || src.fallback.empty()) return e;
  return field_event(rd, r, src.fallback);
}

std::string date_part(const std::string& v) { return v.size() >= 10 ? v.substr(0, 10) : v; }

bool matches(const IndicatorDefinition& def, const StoredRecord& r) {
  if (r.deleted || r.kind != def.kind) return false;
  if (!def.filter_field.empty() && text(r, def.filter_field) != def.filter_value) return false;
  return !flag_true(r, def.exclude_if_true);
}

// What spans and relations read besides the definitions' own fields.
constexpr std::string_view kSpanEnd = "end_date";
constexpr std::string_view kUntil18 = "placement_until_18";
constexpr std::string_view kAssessmentReferral = "referral_id";
constexpr std::string_view kPlanStart = "start_date";
constexpr std::string_view kChildUasc = "uasc";

// The other records a relation reads, and their field.
std::optional<std::pair<RecordKind, std::string_view>> relation_input(Relation relation) {
  switch (relation) {
    case Relation::referral_has_assessment:
      return std::pair(RecordKind::assessment, kAssessmentReferral);
    case Relation::earlier_plan_for_child:
      return std::pair(RecordKind::cp_plan, kPlanStart);
    case Relation::child_not_uasc:
      return std::pair(RecordKind::child, kChildUasc);
    case Relation::none:
    case Relation::lasted_two_years:
      break;
  }
  return std::nullopt;
}

bool relation_holds(const IndicatorDefinition& def, const StoredRecord& r,
                    const std::vector<StoredRecord>& records, const std::string& start,
                    const std::string& end) {
  switch (def.relation) {
    case Relation::none:
      return false;
    case Relation::referral_has_assessment:
      return std::any_of(records.begin(), records.end(), [&](const StoredRecord& a) {
        return !a.deleted && a.kind == RecordKind::assessment &&
               text(a, kAssessmentReferral) == r.id;
      });
    case Relation::earlier_plan_for_child: {
      if (start.empty()) return false;
      return std::any_of(records.begin(), records.end(), [&](const StoredRecord& p) {
        if (p.deleted || p.kind != RecordKind::cp_plan || p.id == r.id) return false;
        const std::string s = text(p, kPlanStart);
        return !s.empty() && s < start;
      });
    }
    case Relation::lasted_two_years: {
      auto s = Date::parse(date_part(start));
      auto e = Date::parse(date_part(end));
      if (!s.ok() || !e.ok()) return false;
      auto anniversary = s->add_years(2);
      return anniversary.ok() && *e >= *anniversary;
    }
    case Relation::child_not_uasc: {
      auto child = std::find_if(records.begin(), records.end(), [&](const StoredRecord& c) {
        return c.kind == RecordKind::child && c.id == r.case_id;
      });
      return child == records.end() || !flag_true(*child, kChildUasc);
    }
  }
  return false;
}

std::string join(const std::set<std::string>& flags) {
  std::string out;
  for (const auto& f : flags) {
    if (!out.empty()) out += ',';
    out += f;
  }
  return out;
}

// The plans or episodes of one case and its visits of one type, read once per derivation.
struct SpanIndex {
  struct Span {
    std::string begin;  // date
    std::string end;    // date; empty while open
    const StoredRecord* record = nullptr;
  };
  std::vector<Span> spans;
  std::vector<std::pair<std::int64_t, std::string>> visits;  // (seconds, value), by time
};

// The facts already kept of records the inputs do not hold, by indicator (a sync that
// changed a few visits reads the other visits' times from their facts, not their records).
using KnownFacts = std::map<std::string, std::vector<FigureFact>, std::less<>>;

Result<SpanIndex> index_spans(Reader& rd, const IndicatorDefinition& def,
                              const std::vector<StoredRecord>& records, const KnownFacts* known) {
  SpanIndex index;
  for (const auto& s : records) {
    if (s.deleted || s.kind != *def.span_kind) continue;
    auto begin = resolve(rd, s, def.span_start);
    if (!begin.ok()) return begin.status();
    if (begin->value.empty()) continue;
    index.spans.push_back({date_part(begin->value), text(s, kSpanEnd), &s});
  }
  for (const auto& v : records) {
    if (!matches(def, v)) continue;
    auto t = resolve(rd, v, def.end);
    if (!t.ok()) return t.status();
    if (auto secs = parse_iso_datetime(t->value)) index.visits.emplace_back(*secs, t->value);
  }
  // A visit's fact holds its time as its end. Only visits during a span have facts, and only
  // those can be the previous visit within a span, so they are all the index needs.
  if (auto it = known != nullptr ? known->find(def.id) : KnownFacts::const_iterator();
      known != nullptr && it != known->end()) {
    for (const auto& f : it->second) {
      if (rd.by_id.contains(f.record_id)) continue;
      if (auto secs = parse_iso_datetime(f.end)) index.visits.emplace_back(*secs, f.end);
    }
  }
  std::sort(index.visits.begin(), index.visits.end());
  return index;
}

// A statutory visit's start: the previous visit of the same type within the plan or episode
// that covers it (the latest-starting one when several do), else the span's start. nullopt
// when no span covers the visit. `detail` gets "<previous visit date or none>,<until18|other>"
// (what the looked-after schedule needs).
std::optional<Event> span_events(const IndicatorDefinition& def, const SpanIndex& index,
                                 const std::string& when, std::string& detail) {
  const auto secs = parse_iso_datetime(when);
  if (!secs) return std::nullopt;
  const std::string day = date_part(when);
  const SpanIndex::Span* span = nullptr;
  for (const auto& s : index.spans) {
    if (s.begin > day || (!s.end.empty() && s.end < day)) continue;
    if (span == nullptr || s.begin > span->begin) span = &s;
  }
  if (span == nullptr) return std::nullopt;
  std::string previous;
  auto it = std::lower_bound(index.visits.begin(), index.visits.end(),
                             std::make_pair(*secs, std::string()));
  if (it != index.visits.begin() && date_part(std::prev(it)->second) >= span->begin) {
    previous = std::prev(it)->second;
  }
  detail = (previous.empty() ? std::string("none") : date_part(previous)) +
           (flag_true(*span->record, kUntil18) ? ",until18" : ",other");
  Event start;
  // The looked-after schedule runs from the placement start (with the previous visit in the
  // detail); the child protection interval from the previous visit.
  start.value = def.measure == Measure::lac_visit_schedule || previous.empty()
                    ? span->begin
                    : date_part(previous);
  return start;
}

// The record kinds an indicator's facts read, and the fields.
// Without `population`, the kinds it reads besides its population's records.
void add_inputs(const IndicatorDefinition& def, FigureInputSelection& select,
                bool population = true) {
  auto field = [&](std::string_view f) {
    if (!f.empty()) select.fields.emplace(f);
  };
  auto source = [&](const EventSource& src) {
    field(src.field);
    field(src.via);
    field(src.via_field);
    field(src.fallback);
    if (src.via_kind) select.kinds.insert(*src.via_kind);
  };
  if (population) select.kinds.insert(def.kind);
  field(def.filter_field);
  field(def.exclude_if_true);
  field(def.detail_field);
  source(def.start);
  source(def.end);
  if (def.span_kind) {
    select.kinds.insert(*def.span_kind);
    source(def.span_start);
    field(kSpanEnd);
    field(kUntil18);
  }
  if (auto rel = relation_input(def.relation)) {
    select.kinds.insert(rel->first);
    field(rel->second);
  }
}

// The indicators a derivation works out, and what it reads for them.
struct Scope {
  std::vector<const IndicatorDefinition*> definitions;
  std::set<std::string, std::less<>> indicators;
  FigureInputSelection select;
};

// The indicators whose facts read records of any of `kinds` (every kind when empty). Only
// indicators with facts of their own: those with sources read other indicators' facts.
Scope scope_of(const std::set<RecordKind>& kinds) {
  Scope scope;
  for (const auto& def : definitions()) {
    if (!def.sources.empty()) continue;
    FigureInputSelection reads;
    add_inputs(def, reads);
    const bool concerned =
        kinds.empty() || std::any_of(kinds.begin(), kinds.end(),
                                     [&](RecordKind k) { return reads.kinds.contains(k); });
    if (!concerned) continue;
    scope.definitions.push_back(&def);
    scope.indicators.emplace(def.id);
    scope.select.kinds.insert(reads.kinds.begin(), reads.kinds.end());
    scope.select.fields.insert(reads.fields.begin(), reads.fields.end());
  }
  return scope;
}

const Scope& every_indicator() {
  static const Scope scope = scope_of({});
  return scope;
}

// The facts of `definitions` for the case whose records and claims are `in` (the one
// derivation every path uses). Records `in` does not hold (another case's referral) are read
// from the store.
// With `targets`, only the facts of those records; `known` completes the span indexes.
Result<std::vector<FigureFact>> derive(ServerStore& store, const CaseFigureInputs& in,
                                       const std::vector<const IndicatorDefinition*>& defs,
                                       const std::set<std::string, std::less<>>* targets = nullptr,
                                       const KnownFacts* known = nullptr) {
  const std::vector<StoredRecord>& records = in.records;
  ById by_id;
  for (const auto& r : records) by_id.emplace(r.id, &r);
  Reader rd{store, by_id, {}, {}};
  for (const auto& c : in.claims) rd.claims.emplace(std::make_pair(c.record_id, c.field), &c);

  std::vector<FigureFact> facts;
  for (const IndicatorDefinition* d : defs) {
    const IndicatorDefinition& def = *d;
    std::optional<SpanIndex> span_index;
    for (const auto& r : records) {
      if (!matches(def, r) || (targets != nullptr && !targets->contains(r.id))) continue;
      Event end;
      if (!def.end.field.empty()) {
        auto e = resolve(rd, r, def.end);
        if (!e.ok()) return e.status();
        end = std::move(*e);
      }
      Result<Event> start = Event{};
      std::string span_detail;
      if (def.span_kind) {
        if (!span_index) {
          auto built = index_spans(rd, def, records, known);
          if (!built.ok()) return built.status();
          span_index = std::move(*built);
        }
        auto spanned = span_events(def, *span_index, end.value, span_detail);
        if (!spanned) continue;  // not during a plan or episode: not in the population
        start = std::move(*spanned);
      } else {
        start = resolve(rd, r, def.start);
        if (!start.ok()) return start.status();
      }
      FigureFact f;
      f.indicator = std::string(def.id);
      f.record_id = r.id;
      f.case_id = r.case_id;
      f.start = start->value;
      f.end = end.value;
      // When the server received the end (or, failing that, the start) of the work.
      f.end_received_at = !end.received_at.empty() ? end.received_at : start->received_at;
      f.detail = def.span_kind ? span_detail : detail_of(r, def.detail_field);
      f.hit = relation_holds(def, r, records, f.start, f.end);
      std::set<std::string> flags = start->flags;
      flags.insert(end.flags.begin(), end.flags.end());
      if (f.start.empty()) flags.insert(std::string(kFlagMissingStart));
      if (!f.start.empty() && !f.end.empty()) {
        const bool both_times = f.start.size() > 10 && f.end.size() > 10;
        const bool before = both_times ? parse_iso_datetime(f.end) < parse_iso_datetime(f.start)
                                       : date_part(f.end) < date_part(f.start);
        if (before) flags.insert(std::string(kFlagEndBeforeStart));
      }
      f.flags = join(flags);
      facts.push_back(std::move(f));
    }
  }
  std::sort(facts.begin(), facts.end(), [](const FigureFact& a, const FigureFact& b) {
    return std::tie(a.indicator, a.record_id) < std::tie(b.indicator, b.record_id);
  });
  return facts;
}

Status refresh_case(ServerStore& store, const std::string& case_id, const Scope& scope) {
  if (case_id.empty() || scope.definitions.empty()) return {};
  auto in = store.case_figure_inputs(case_id, scope.select);
  if (!in.ok()) return in.status();
  auto facts = derive(store, *in, scope.definitions);
  if (!facts.ok()) return facts.status();
  return store.replace_figure_facts(case_id, scope.indicators, {}, *facts);
}

// Whether a change of records of `kinds` can change only those records' own facts of `def`
// (and, through the span index, the facts of the next visit): `def` reads them only as its
// population, not as a span, a referral or a relation's other records.
bool population_only(const IndicatorDefinition& def, const std::set<RecordKind>& kinds) {
  FigureInputSelection others;
  add_inputs(def, others, false);
  return std::none_of(kinds.begin(), kinds.end(),
                      [&](RecordKind k) { return others.kinds.contains(k); });
}

// The facts of `scope` for the changed records `changed` of one case, and of the visits after
// them, when every definition of the scope reads the changed kinds only as its population:
// the inputs are the changed records and the other kinds the scope reads (plans, episodes),
// and the span indexes take the other visits' times from their facts.
Status refresh_changed(ServerStore& store, const std::string& case_id, const Scope& scope,
                       const std::set<std::string, std::less<>>& changed) {
  FigureInputSelection select;
  select.fields = scope.select.fields;
  for (const IndicatorDefinition* def : scope.definitions) add_inputs(*def, select, false);
  select.records = changed;
  KnownFacts known;
  for (const IndicatorDefinition* def : scope.definitions) {
    if (!def->span_kind) continue;
    auto facts = store.case_figure_facts(case_id, def->id);
    if (!facts.ok()) return facts.status();
    known.emplace(std::string(def->id), std::move(*facts));
  }
  auto in = store.case_figure_inputs(case_id, select);
  if (!in.ok()) return in.status();
  // The visits whose previous visit the change moved: their start and detail differ from
  // what their facts hold.
  std::set<std::string, std::less<>> targets = changed;
  {
    ById by_id;
    for (const auto& r : in->records) by_id.emplace(r.id, &r);
    Reader rd{store, by_id, {}, {}};
    for (const auto& c : in->claims) rd.claims.emplace(std::make_pair(c.record_id, c.field), &c);
    for (const IndicatorDefinition* def : scope.definitions) {
      if (!def->span_kind) continue;
      auto index = index_spans(rd, *def, in->records, &known);
      if (!index.ok()) return index.status();
      for (const auto& f : known[std::string(def->id)]) {
        if (by_id.contains(f.record_id)) continue;
        std::string detail;
        auto start = span_events(*def, *index, f.end, detail);
        if (!start || start->value != f.start || detail != f.detail) targets.insert(f.record_id);
      }
    }
  }
  if (targets.size() > changed.size()) {
    select.records = targets;
    in = store.case_figure_inputs(case_id, select);
    if (!in.ok()) return in.status();
  }
  auto facts = derive(store, *in, scope.definitions, &targets, &known);
  if (!facts.ok()) return facts.status();
  return store.replace_figure_facts(case_id, scope.indicators, targets, *facts);
}

}  // namespace

bool affects_figures(RecordKind kind) noexcept {
  return every_indicator().select.kinds.contains(kind);
}

Result<std::vector<FigureFact>> derive_case_facts(ServerStore& store, std::string_view case_id) {
  auto in = store.case_figure_inputs(case_id, {});  // every record, field and claim
  if (!in.ok()) return in.status();
  return derive(store, *in, every_indicator().definitions);
}

Status refresh_cases(ServerStore& store, const std::set<std::string>& case_ids) {
  for (const auto& case_id : case_ids) FC_TRY(refresh_case(store, case_id, every_indicator()));
  return {};
}

Status refresh_records(ServerStore& store, const std::vector<ChangedRecord>& changed) {
  struct Case {
    std::set<RecordKind> kinds;
    std::set<std::string, std::less<>> records;
  };
  std::map<std::string, Case> cases;
  for (const auto& c : changed) {
    if (c.case_id.empty() || !affects_figures(c.kind)) continue;
    cases[c.case_id].kinds.insert(c.kind);
    cases[c.case_id].records.insert(c.record_id);
  }
  std::map<std::set<RecordKind>, Scope> scopes;  // usually one: the same kinds in every case
  for (const auto& [case_id, c] : cases) {
    auto it = scopes.find(c.kinds);
    if (it == scopes.end()) it = scopes.emplace(c.kinds, scope_of(c.kinds)).first;
    const Scope& scope = it->second;
    if (scope.definitions.empty()) continue;
    const bool narrow =
        std::all_of(scope.definitions.begin(), scope.definitions.end(),
                    [&](const IndicatorDefinition* def) { return population_only(*def, c.kinds); });
    FC_TRY(narrow ? refresh_changed(store, case_id, scope, c.records)
                  : refresh_case(store, case_id, scope));
  }
  return {};
}

Status recompute(ServerStore& store) {
  const Scope& scope = every_indicator();
  return store.transaction([&]() -> Status {
    return store.rebuild_figure_facts([&](const ServerStore::FigureFactSink& insert) {
      std::vector<FigureFact> pending;
      Status scanned = store.each_case_figure_inputs(scope.select, [&](CaseFigureInputs& in) {
        auto facts = derive(store, in, scope.definitions);
        if (!facts.ok()) return facts.status();
        std::move(facts->begin(), facts->end(), std::back_inserter(pending));
        if (pending.size() < 4096) return Status();
        Status written = insert(pending);
        pending.clear();
        return written;
      });
      if (!scanned.ok()) return scanned;
      return insert(pending);
    });
  });
}

}  // namespace fieldcase::server::figures
