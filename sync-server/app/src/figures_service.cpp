#include "fieldcase/server/figures_service.hpp"

#include <algorithm>
#include <utility>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/access_service.hpp"
#include "fieldcase/server/reports.hpp"

namespace fieldcase::server {

namespace fg = figures;

namespace {

std::string unit_text(fg::Level level, std::string_view id) {
  std::string s(fg::to_string(level));
  if (!id.empty()) s += " " + std::string(id);
  return s;
}

// A figure without its drill-down rows (aggregates are what the overview and trends show).
fg::FigureResult without_records(fg::FigureResult r) {
  r.records.clear();
  r.records.shrink_to_fit();
  return r;
}

}  // namespace

const std::vector<double>& delay_bin_edges_hours() {
  static const std::vector<double> kEdges{0, 4, 8, 24, 48, 72, 120, 168, 336};
  return kEdges;
}

struct FiguresService::Org {
  std::string authority_name;
  std::map<std::string, Area> areas;
  std::map<std::string, Team> teams;
  std::vector<Worker> workers;  // those in a team
};

FiguresService::FiguresService(ServerStore& store, const Clock& clock,
                               FiguresServiceOptions options)
    : store_(store), clock_(clock), options_(std::move(options)) {}

void FiguresService::watch_changes_through(FigureChangeLog& log) { feed_log_ = &log; }

FiguresService::~FiguresService() { close(); }

Result<FiguresService::Org> FiguresService::load_org() {
  Org org;
  auto authority = store_.find_authority();
  if (!authority.ok()) return authority.status();
  org.authority_name = *authority ? (*authority)->name : std::string("Authority");
  // Every area and team, with or without workers yet (a new team is a unit from the start).
  auto areas = store_.list_areas();
  if (!areas.ok()) return areas.status();
  for (auto& a : *areas) org.areas.emplace(a.id, std::move(a));
  auto teams = store_.list_teams();
  if (!teams.ok()) return teams.status();
  for (auto& t : *teams) org.teams.emplace(t.id, std::move(t));
  auto workers = store_.list_workers();
  if (!workers.ok()) return workers.status();
  for (auto& w : *workers) {
    if (w.team_id.empty() || org.teams.count(w.team_id) == 0) continue;
    org.workers.push_back(std::move(w));
  }
  return org;
}

Status FiguresService::refuse(const Worker& actor, std::string_view what) {
  FC_TRY(store_.transaction([&] {
    return store_.append_audit(
        {new_uuid_v7(clock_), format_iso_datetime(clock_.wall()), "permission_refused", "",
         actor.id, "", "",
         "figures " + std::string(what) + " (" + std::string(to_string(actor.role)) + ")", "",
         "refused"});
  }));
  return {Errc::forbidden, "your role does not permit figures for " + std::string(what)};
}

Result<FiguresScope> FiguresService::scope_locked(const Worker& actor) {
  FiguresScope scope;
  scope.worker = actor;
  const bool all = permits(actor.role, Action::view_all_figures, Relation::none);
  const bool area = permits(actor.role, Action::view_area_figures, Relation::none);
  const bool team = permits(actor.role, Action::view_team_figures, Relation::none);
  if (!all && !area && !team) return refuse(actor, "of any unit");
  auto org = load_org();
  if (!org.ok()) return org.status();

  std::string home_area;
  if (!all) {
    auto own_team = org->teams.find(actor.team_id);
    if (own_team == org->teams.end()) return refuse(actor, "without a team");
    home_area = own_team->second.area_id;
  }
  // The units the matrix's figure rows let the actor see (the rule the reports apply too).
  auto visible = [&](const reports::UnitPlace& place) {
    return reports::may_view_place(actor.role, actor.team_id, home_area, place);
  };
  auto by_name = [](const FiguresUnit& a, const FiguresUnit& b) {
    return a.name != b.name ? a.name < b.name : a.id < b.id;
  };
  std::vector<FiguresUnit> areas, teams, workers;
  for (const auto& [id, a] : org->areas) {
    if (visible({fg::Level::area, id, "", id})) areas.push_back({fg::Level::area, id, a.name, ""});
  }
  for (const auto& [id, t] : org->teams) {
    if (visible({fg::Level::team, id, id, t.area_id})) {
      teams.push_back({fg::Level::team, id, t.name, t.area_id});
    }
  }
  for (const auto& w : org->workers) {
    auto of_worker = org->teams.find(w.team_id);
    const std::string team_area = of_worker == org->teams.end() ? "" : of_worker->second.area_id;
    if (visible({fg::Level::worker, w.id, w.team_id, team_area})) {
      workers.push_back({fg::Level::worker, w.id, w.name, w.team_id});
    }
  }
  std::sort(areas.begin(), areas.end(), by_name);
  std::sort(teams.begin(), teams.end(), by_name);
  std::sort(workers.begin(), workers.end(), by_name);
  if (all) {
    scope.home = {fg::Level::authority, "", org->authority_name, ""};
  } else if (area && !areas.empty()) {
    scope.home = areas.front();
  } else if (!area && !teams.empty()) {
    scope.home = teams.front();
  } else {
    return refuse(actor, "without an area");  // their team names no area on record
  }
  scope.units.push_back(scope.home);
  for (auto* list : {&areas, &teams, &workers}) {
    for (auto& u : *list) {
      if (u.level == scope.home.level && u.id == scope.home.id) continue;
      scope.units.push_back(std::move(u));
    }
  }
  return scope;
}

Result<FiguresScope> FiguresService::scope(const Worker& actor) {
  std::lock_guard lock(mu_);
  return scope_locked(actor);
}

Result<FiguresUnit> FiguresService::authorise(const Worker& actor, const FiguresRequest& request) {
  auto scope = scope_locked(actor);
  if (!scope.ok()) return scope.status();
  for (const auto& u : scope->units) {
    if (u.level == request.level && (u.level == fg::Level::authority || u.id == request.unit)) {
      return u;
    }
  }
  if (scope->home.level == fg::Level::authority) {
    return Status(Errc::not_found, "no " + unit_text(request.level, request.unit));
  }
  return refuse(actor, unit_text(request.level, request.unit));
}

void FiguresService::expire_cache() {
  // The figure change log names every case whose figures moved, by any instance or process,
  // since the facts were read: only those are read again.
  constexpr std::size_t kMaxChanges = 10'000;  // beyond this, reading everything is cheaper
  if (facts_) {
    auto page = store_.figure_changes_after(cursor_, kMaxChanges);
    if (!page.ok() || !page->complete || page->changes.size() >= kMaxChanges) {
      facts_.reset();
    } else if (!page->changes.empty()) {
      std::set<std::string> changed;
      bool every_case = false;
      for (const auto& c : page->changes) {
        every_case = every_case || c.case_id.empty();
        changed.insert(c.case_id);
      }
      cursor_ = page->changes.back().id;
      if (every_case || !facts_->refresh_cases(changed).ok()) facts_.reset();
    }
  }
  if (facts_) {
    // Only the results the changed facts can alter are computed again.
    const auto changes = facts_->take_changes();
    if (!changes.empty()) {
      std::erase_if(cache_,
                    [&](const auto& entry) { return fg::may_change(changes, entry.second.query); });
    }
  } else {
    cache_.clear();
    // Changes up to the head are in what the cache reads from here on.
    auto head = store_.figure_change_head();
    cursor_ = head.ok() ? *head : 0;
    facts_ = std::make_unique<fg::FactsCache>(store_);
  }
  advance_version(static_cast<std::uint64_t>(cursor_));
}

void FiguresService::advance_version(std::uint64_t head) {
  {
    std::lock_guard lock(feed_mu_);
    if (head <= version_) return;
    version_ = head;
  }
  feed_cv_.notify_all();
}

void FiguresService::poll_head(bool force) {
  std::lock_guard poll(poll_mu_);
  const auto now = std::chrono::steady_clock::now();
  if (!force && now - last_poll_ < kPollInterval) return;
  last_poll_ = now;
  Result<std::int64_t> head = std::int64_t{0};
  if (feed_log_ != nullptr) {
    head = feed_log_->figure_change_head();
  } else {
    std::lock_guard query(mu_);
    head = store_.figure_change_head();
  }
  if (head.ok()) advance_version(static_cast<std::uint64_t>(*head));
}

Status FiguresService::with_facts(const std::function<Status(fg::FactsCache&)>& use) {
  std::lock_guard lock(mu_);
  expire_cache();
  return use(*facts_);
}

Status FiguresService::warm() {
  std::lock_guard lock(mu_);
  expire_cache();
  auto stopping = [this] {
    std::lock_guard feed(feed_mu_);
    return closed_;
  };
  FC_TRY(facts_->read_all(stopping));
  // The page most managers open first: the authority's overview for this financial year
  // (its areas, teams and workers follow from the same facts when asked for).
  FiguresRequest request;
  request.as_of = today();
  request.period = fg::financial_year_of(request.as_of);
  if (stopping()) return {};
  return with_trends(request).status();
}

Result<std::vector<FigureWithTrend>> FiguresService::with_trends(const FiguresRequest& request) {
  std::vector<FigureWithTrend> out;
  const auto months = trend_months(request);
  for (const auto& def : fg::definitions()) {
    const std::string id(def.id);
    FigureWithTrend f;
    auto figure = compute(id, request, false);
    if (!figure.ok()) return figure.status();
    f.figure = std::move(*figure);
    for (const auto& m : months) {
      FiguresRequest month = request;
      month.period = m;
      auto point = compute(id, month, false);
      if (!point.ok()) return point.status();
      f.trend.push_back(std::move(*point));
    }
    out.push_back(std::move(f));
  }
  return out;
}

fg::FigureQuery FiguresService::query_of(const std::string& indicator,
                                         const FiguresRequest& request) const {
  fg::FigureQuery q;
  q.indicator = indicator;
  q.level = request.level;
  q.id = request.level == fg::Level::authority ? std::string() : request.unit;
  q.period = request.period;
  q.as_of = request.as_of;
  return q;
}

Result<fg::FigureResult> FiguresService::compute(const std::string& indicator,
                                                 const FiguresRequest& request, bool keep_records) {
  fg::FigureQuery q = query_of(indicator, request);
  expire_cache();
  if (keep_records) return fg::compute(*facts_, options_.figures, q);
  q.with_records = false;
  const std::string key = indicator + "|" + std::string(fg::to_string(q.level)) + "|" + q.id + "|" +
                          q.period.first.to_string() + "|" + q.period.last.to_string() + "|" +
                          q.as_of.to_string();
  if (auto it = cache_.find(key); it != cache_.end()) return it->second.result;
  auto r = fg::compute(*facts_, options_.figures, q);
  if (!r.ok()) return r.status();
  if (cache_.size() >= 4096) cache_.clear();  // bounded memory
  cache_[key] = {q, *r};
  return std::move(*r);
}

std::vector<fg::Period> FiguresService::trend_months(const FiguresRequest& request) const {
  const Date end = std::min(request.as_of, request.period.last);
  std::vector<fg::Period> out;
  fg::Period p = fg::month_of(end);
  for (int i = 0; i < request.months; ++i) {
    out.push_back(p);
    auto before = p.first.add_days(-1);
    if (!before.ok()) break;
    p = fg::month_of(*before);
  }
  std::reverse(out.begin(), out.end());
  return out;
}

Result<FiguresOverview> FiguresService::overview(const Worker& actor,
                                                 const FiguresRequest& request) {
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, request);
  if (!unit.ok()) return unit.status();
  FiguresOverview out;
  out.unit = *unit;
  out.version = version();
  auto figures = with_trends(request);
  if (!figures.ok()) return figures.status();
  out.figures = std::move(*figures);
  return out;
}

Result<FiguresBreakdown> FiguresService::breakdown(const Worker& actor, std::string_view indicator,
                                                   const FiguresRequest& request) {
  if (fg::find_definition(indicator) == nullptr) {
    return Status(Errc::not_found, "no indicator " + std::string(indicator));
  }
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, request);
  if (!unit.ok()) return unit.status();
  auto scope = scope_locked(actor);
  if (!scope.ok()) return scope.status();
  FiguresBreakdown out;
  out.unit = *unit;
  auto figure = compute(std::string(indicator), request, false);
  if (!figure.ok()) return figure.status();
  out.figure = std::move(*figure);
  for (const auto& u : scope->units) {
    const bool child = (request.level == fg::Level::authority && u.level == fg::Level::area) ||
                       (request.level == fg::Level::area && u.level == fg::Level::team &&
                        u.parent_id == request.unit) ||
                       (request.level == fg::Level::team && u.level == fg::Level::worker &&
                        u.parent_id == request.unit);
    if (!child) continue;
    FiguresRequest sub = request;
    sub.level = u.level;
    sub.unit = u.id;
    auto r = compute(std::string(indicator), sub, false);
    if (!r.ok()) return r.status();
    out.children.emplace_back(u, std::move(*r));
  }
  return out;
}

Result<FigureRecordsPage> FiguresService::records(const Worker& actor, std::string_view indicator,
                                                  const FiguresRequest& request, std::size_t offset,
                                                  std::size_t limit, std::string_view what) {
  if (fg::find_definition(indicator) == nullptr) {
    return Status(Errc::not_found, "no indicator " + std::string(indicator));
  }
  if (limit < 1 || limit > 1000) {
    return Status(Errc::invalid_argument, "limit is a whole number from 1 to 1000");
  }
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, request);
  if (!unit.ok()) return unit.status();
  auto figure = compute(std::string(indicator), request, true);
  if (!figure.ok()) return figure.status();
  FigureRecordsPage out;
  out.unit = *unit;
  out.total = figure->records.size();
  out.offset = offset;
  auto& rows = figure->records;
  const std::size_t first = std::min(offset, rows.size());
  const std::size_t last = std::min(rows.size(), first + limit);
  rows = std::vector<fg::DrillRow>(std::make_move_iterator(rows.begin() + first),
                                   std::make_move_iterator(rows.begin() + last));
  out.figure = std::move(*figure);

  // Each case on the page is a read of case data: one case_read entry per case.
  std::map<std::string, int> per_case;
  for (const auto& r : out.figure.records) ++per_case[r.case_id];
  const std::string at = format_iso_datetime(clock_.wall());
  Status st = store_.transaction([&]() -> Status {
    for (const auto& [case_id, n] : per_case) {
      auto relation = case_relation(store_, actor, case_id);
      if (!relation.ok()) return relation.status();
      out.relations[case_id] = *relation;
      FC_TRY(store_.append_audit({new_uuid_v7(clock_), at, "case_read", "", actor.id, case_id, "",
                                  std::to_string(n) + " record" + (n == 1 ? "" : "s") +
                                      " behind a figure: " + std::string(what),
                                  "", "ok", std::string(to_string(*relation))}));
    }
    return {};
  });
  if (!st.ok()) return st;
  return out;
}

Result<FiguresBacklog> FiguresService::backlog(const Worker& actor, const FiguresRequest& request) {
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, request);
  if (!unit.ok()) return unit.status();
  FiguresBacklog out;
  out.unit = *unit;
  for (const auto& m : trend_months(request)) {
    FiguresRequest month = request;
    month.period = m;
    auto outstanding = compute("assessments_outstanding", month, false);
    if (!outstanding.ok()) return outstanding.status();
    auto overdue = compute("assessments_overdue", month, false);
    if (!overdue.ok()) return overdue.status();
    BacklogPoint p;
    p.month = m.label;
    p.day = std::min(request.as_of, m.last).to_string();
    p.outstanding = outstanding->numerator;
    p.overdue = overdue->numerator;
    out.series.push_back(std::move(p));
  }
  return out;
}

Result<DelayDistribution> FiguresService::recording_delay(const Worker& actor,
                                                          const FiguresRequest& request) {
  std::lock_guard lock(mu_);
  auto unit = authorise(actor, request);
  if (!unit.ok()) return unit.status();
  auto figure = compute("recording_delay", request, true);
  if (!figure.ok()) return figure.status();
  DelayDistribution out;
  out.unit = *unit;
  const auto& edges = delay_bin_edges_hours();
  for (std::size_t i = 0; i < edges.size(); ++i) {
    DelayBin b;
    b.from_hours = edges[i];
    if (i + 1 < edges.size()) b.to_hours = edges[i + 1];
    out.bins.push_back(b);
  }
  for (const auto& r : figure->records) {
    if (r.in_numerator) ++out.within_standard;
    if (!r.measured) continue;
    // The last bin whose lower edge is at or below the delay.
    auto it = std::upper_bound(edges.begin(), edges.end(), *r.measured);
    const auto i = static_cast<std::size_t>(std::max<std::ptrdiff_t>(0, it - edges.begin() - 1));
    ++out.bins[i].count;
  }
  out.figure = without_records(std::move(*figure));
  return out;
}

Date FiguresService::today() const { return fg::reporting_day(clock_.wall()); }

std::uint64_t FiguresService::version() const {
  std::lock_guard lock(feed_mu_);
  return version_;
}

void FiguresService::figures_changed(const std::vector<std::string>& /*cases*/) {
  {
    std::lock_guard lock(feed_mu_);
    poll_now_ = true;
  }
  feed_cv_.notify_all();
}

Result<std::uint64_t> FiguresService::wait_for_change(std::uint64_t since,
                                                      std::chrono::milliseconds timeout) {
  {
    // Catch up with the log first: the answer is then a version the figures reflect.
    std::lock_guard query(mu_);
    if (facts_) expire_cache();
  }
  poll_head(true);
  std::unique_lock lock(feed_mu_);
  if (closed_ || version_ != since || timeout.count() <= 0) return version_;
  if (waiters_ >= options_.max_waiters) {
    return Status(Errc::busy, "too many pages are waiting for changes; retry shortly");
  }
  ++waiters_;
  const auto deadline =
      std::chrono::steady_clock::now() + std::min<std::chrono::milliseconds>(timeout, options_.max_wait);
  // The head is polled (at most once per interval for all waiters), and at once when a sync
  // of this instance says it changed figures.
  while (!closed_ && version_ == since && std::chrono::steady_clock::now() < deadline) {
    feed_cv_.wait_until(lock, std::min(deadline, std::chrono::steady_clock::now() + kPollInterval),
                        [&] { return closed_ || version_ != since || poll_now_; });
    if (closed_ || version_ != since) break;
    const bool force = std::exchange(poll_now_, false);
    lock.unlock();
    poll_head(force);
    lock.lock();
  }
  --waiters_;
  return version_;
}

void FiguresService::close() {
  {
    std::lock_guard lock(feed_mu_);
    closed_ = true;
  }
  feed_cv_.notify_all();
}

}  // namespace fieldcase::server
