// The managers' view of the figures: what the dashboard and the /v1/figures API ask for, on
// behalf of a signed-in worker, scoped by the permission matrix.
//
// Scope (permissions.hpp, "Other actions"): a service lead sees the authority and every area,
// team and worker in it; an area manager their area, its teams and their workers; a team
// manager their team and its workers. Other roles see no figures. Asking for a unit outside
// one's scope is Errc::forbidden, audited as permission_refused. Aggregates are not case data;
// the records behind a figure are, so every page of them is audited as case_read, one entry
// per case with its relation to the reader (like GET /v1/cases/{id}).
//
// The change feed: a version number that moves whenever figures may have changed, by a sync or
// an administrator on any server instance sharing the database: the head of the figure change
// log (ports/figure_change_log.hpp), read from the database, so every instance answers the
// same version and a long-poll that the load balancer moves to another instance keeps its
// cursor. Clients keep the last version they saw and wait for another with wait_for_change(),
// which polls the head (at most every 200 ms for all waiters; at once when a sync of this
// instance calls figures_changed()); the wait is bounded in time and in the number of
// waiters, because each waiter holds one HTTP connection thread.
//
// The facts and attributions figures are computed from are read once (warm() at the server's
// start) and then kept current: each query first reads the log's entries after its cursor and
// re-reads only the cases they name (an entry naming no case, such as `admin figures
// recompute`, or a cursor older than the pruned entries: every fact). Results are kept until a
// change can alter them (figures::may_change: a changed fact of the indicator, in the period's
// dates, in the unit), so a page that many managers have open is computed once per change, and
// a sync recomputes only the figures it touched.
//
// Thread-safe: queries are serialised by an internal mutex (the store is one connection, which
// must not be used by others in this process); the feed has its own lock, and waiting never
// holds the query lock. `store` and `clock` must outlive the service.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/clock.hpp"
#include "fieldcase/server/figures.hpp"
#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server {

struct FiguresServiceOptions {
  figures::FiguresConfig figures;
  // Long-polls waiting at once; a wait beyond this is refused (Errc::busy) so that waiting
  // pages never take every connection thread (the server sets a quarter of its threads).
  std::size_t max_waiters = 16;
  std::chrono::seconds max_wait{25};
};

// An organisational unit a figure is taken for.
struct FiguresUnit {
  figures::Level level = figures::Level::authority;
  std::string id;  // empty for the authority
  std::string name;
  std::string parent_id;  // the area of a team, the team of a worker; empty otherwise
};

// What a worker may see: the widest unit (their home page) and every unit under it.
struct FiguresScope {
  Worker worker;
  FiguresUnit home;
  std::vector<FiguresUnit> units;  // home first, then areas, teams and workers in name order
};

// A figure query from the web: the unit, the period and the day it is taken on. Trends run
// for `months` months up to the month of min(as_of, period end).
struct FiguresRequest {
  figures::Level level = figures::Level::authority;
  std::string unit;  // the area, team or worker id; empty for the authority
  figures::Period period;
  Date as_of = Date::max();
  int months = 12;  // 1..36
};

struct FigureWithTrend {
  figures::FigureResult figure;              // records left out (see records())
  std::vector<figures::FigureResult> trend;  // one per month, oldest first, records left out
};

struct FiguresOverview {
  FiguresUnit unit;
  std::uint64_t version = 0;
  std::vector<FigureWithTrend> figures;  // every indicator, in registry order
};

struct FiguresBreakdown {
  FiguresUnit unit;
  figures::FigureResult figure;  // records left out
  // One level down (authority: areas; area: teams; team: workers; worker: none), in name order.
  std::vector<std::pair<FiguresUnit, figures::FigureResult>> children;
};

// One page of the records behind a figure.
struct FigureRecordsPage {
  FiguresUnit unit;
  figures::FigureResult figure;  // records: only this page's
  std::size_t total = 0;         // records behind the figure
  std::size_t offset = 0;
  std::map<std::string, Relation> relations;  // case -> how it relates to the reader
};

struct BacklogPoint {
  std::string month;  // YYYY-MM
  std::string day;    // the day the backlog was taken: the month's end, or the as-of day
  std::int64_t outstanding = 0;
  std::int64_t overdue = 0;
};

struct FiguresBacklog {
  FiguresUnit unit;
  std::vector<BacklogPoint> series;  // oldest month first
};

// How long visits took to reach the server, in hours.
struct DelayBin {
  double from_hours = 0;
  std::optional<double> to_hours;  // nullopt: open-ended
  std::int64_t count = 0;
};
struct DelayDistribution {
  FiguresUnit unit;
  figures::FigureResult figure;  // the recording_delay figure, records left out
  std::vector<DelayBin> bins;
  std::int64_t within_standard = 0;  // received within the recording standard
};

// The bins of the recording-delay histogram: 0-4 h, 4-8 h, 8-24 h, 1-2 days, 2-3 days,
// 3-5 days, 5-7 days, 7-14 days, 14 days or more.
const std::vector<double>& delay_bin_edges_hours();

class FiguresService {
 public:
  FiguresService(ServerStore& store, const Clock& clock, FiguresServiceOptions options = {});
  ~FiguresService();
  FiguresService(const FiguresService&) = delete;
  FiguresService& operator=(const FiguresService&) = delete;

  // The units `actor` may see. Errc::forbidden (audited) for a role without figures.
  Result<FiguresScope> scope(const Worker& actor);

  // Every indicator for the unit and period, with a monthly trend each.
  Result<FiguresOverview> overview(const Worker& actor, const FiguresRequest& request);
  // One indicator for the unit and for each unit one level down. Errc::not_found for an
  // unknown indicator.
  Result<FiguresBreakdown> breakdown(const Worker& actor, std::string_view indicator,
                                     const FiguresRequest& request);
  // The records behind one figure, `limit` (1..1000) from `offset`; the cases on the page are
  // audited as case_read with `what` (the request, no case data) in the detail.
  Result<FigureRecordsPage> records(const Worker& actor, std::string_view indicator,
                                    const FiguresRequest& request, std::size_t offset,
                                    std::size_t limit, std::string_view what);
  // Outstanding and overdue assessments at each month's end (or the as-of day) for `months`
  // months.
  Result<FiguresBacklog> backlog(const Worker& actor, const FiguresRequest& request);
  // The recording-delay distribution for the period.
  Result<DelayDistribution> recording_delay(const Worker& actor, const FiguresRequest& request);

  // Runs `use` on the service's facts, current as for a query (the reports read them rather
  // than reading every fact again). Queries wait while it runs; `use` must not call the service.
  Status with_facts(const std::function<Status(figures::FactsCache&)>& use);

  // The log the change feed polls for its head, on a connection of its own (not used by
  // others in this process while the service lives); without one the feed polls through the
  // service's store, waiting for the query lock. Call before serving.
  void watch_changes_through(FigureChangeLog& log);

  // Reads every indicator's facts now, and works out the authority's overview for this
  // financial year, so that the first page after the server starts does not wait for them.
  // Queries wait while it runs; close() ends it early.
  Status warm();

  // --- The change feed ---
  std::uint64_t version() const;
  // A sync of this instance committed figure changes (already in the log): waiters read the
  // head now rather than at their next poll.
  void figures_changed(const std::vector<std::string>& cases = {});
  // Waits until the version differs from `since`, `timeout` (capped at max_wait) passes, or
  // close() is called; returns the version then. Errc::busy when max_waiters already wait.
  // First catches the facts up with the log.
  Result<std::uint64_t> wait_for_change(std::uint64_t since, std::chrono::milliseconds timeout);
  // Wakes every waiter and makes later waits return at once (the server is stopping).
  void close();

  // The server's current day (UTC): the default as-of day and period of a request.
  Date today() const;
  const FiguresServiceOptions& options() const { return options_; }

 private:
  struct Org;
  Result<Org> load_org();
  Result<FiguresScope> scope_locked(const Worker& actor);
  Result<FiguresUnit> authorise(const Worker& actor, const FiguresRequest& request);
  Status refuse(const Worker& actor, std::string_view what);
  Result<figures::FigureResult> compute(const std::string& indicator, const FiguresRequest& request,
                                        bool keep_records);
  figures::FigureQuery query_of(const std::string& indicator, const FiguresRequest& request) const;
  std::vector<figures::Period> trend_months(const FiguresRequest& request) const;
  // Every indicator for the request's unit and period, with its monthly trend.
  Result<std::vector<FigureWithTrend>> with_trends(const FiguresRequest& request);
  void expire_cache();
  // Moves the version on to `head` (never back) and wakes the waiters.
  void advance_version(std::uint64_t head);
  // Reads the log's head, unless another read was made within kPollInterval (force: read).
  void poll_head(bool force);
  static constexpr std::chrono::milliseconds kPollInterval{200};

  ServerStore& store_;
  const Clock& clock_;
  FiguresServiceOptions options_;
  FigureChangeLog* feed_log_ = nullptr;
  std::mutex mu_;                               // the store and the cache
  std::unique_ptr<figures::FactsCache> facts_;  // null until a figure is asked for
  std::int64_t cursor_ = 0;                     // the last figure change facts_ reflects
  struct Cached {
    figures::FigureQuery query;
    figures::FigureResult result;  // without records
  };
  std::map<std::string, Cached> cache_;  // by query; a change drops only what it can alter

  std::mutex poll_mu_;  // one head read at a time; taken before mu_, never while feed_mu_ held
  std::chrono::steady_clock::time_point last_poll_{};
  mutable std::mutex feed_mu_;
  std::condition_variable feed_cv_;
  std::uint64_t version_ = 0;  // the newest head seen
  bool poll_now_ = false;      // a local sync changed figures: read the head now
  std::size_t waiters_ = 0;
  bool closed_ = false;
};

}  // namespace fieldcase::server
