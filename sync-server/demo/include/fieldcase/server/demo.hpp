// The demo authority: a deterministic, seeded history of a large children's services
// department, written through the server's own sync path, and simulated devices that keep
// recording while the server runs (docs/demo.md).
//
// generate() builds the organisation with Admin (three areas, about 30 teams, about 400
// workers at scale 1), issues one device per worker, and writes `years` of casework ending on
// `today`: contacts, referrals, initial and core assessments (with returns and authorisation),
// section 47 enquiries, initial conferences, child protection plans with reviews and visits,
// looked-after episodes (some unaccompanied asylum-seeking children) with regulation 28 visits,
// assessment visits and case notes, as device transactions with historical receipt times.
//
// Two ways to write them. replay_through_sync sends every transaction through
// SyncService::handle in time order, so validation, merge, permissions, claimed-time checks,
// the change log and the audit trail are the production ones; about 1 ms a transaction, some
// twenty minutes at scale 1. The default bulk load applies each case's transactions in the
// same order, checks every record with validate_record() as the service does, and stores the
// final records, claimed times (corrected by the device's clock offset, flagged like the
// service flags them) and allocation history directly: no change log, no per-transaction audit
// (one demo_loaded entry), no device bookkeeping. Either way figures::recompute() derives the
// figure facts once at the end, the same code the sync hook runs per case; the [demo] tests
// check that both ways give the same figures.
//
// The same seed, scale, years and today give the same records (ids included) and so the same
// figures; the server-made ids of the organisation and devices differ between runs (figures
// are compared by team name, see figures_digest()). Not thread-safe: run on one store with no
// other writer in this process.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "fieldcase/calendar.hpp"
#include "fieldcase/record.hpp"
#include "fieldcase/server/server_store.hpp"
#include "fieldcase/status.hpp"

namespace fieldcase::server::demo {

// The authority's name: its presence marks a database that holds the demo.
inline constexpr std::string_view kAuthorityName = "Northbridge City Council";
inline constexpr std::string_view kLaCode = "938";
// The audit event that closes a complete generation.
inline constexpr std::string_view kLoadedEvent = "demo_loaded";

struct DemoOptions {
  std::uint64_t seed = 20'240'401;
  // 1.0: about 15,000 referrals a year and about 400 workers; the workforce and the caseload
  // grow and shrink together (at least one team of each kind per area).
  double scale = 1.0;
  int years = 5;
  Date today;  // the last day of the history; generate() requires it to be set (not 1970)
  // When the history ends on `today`, Unix milliseconds; 0: 18:00 UTC. Work after it is not
  // generated, and work not yet delivered by then is left out (still on its tablet).
  std::int64_t until_ms = 0;
  // Replay every device transaction through SyncService::handle in time order (the production
  // path: change log, audit, device bookkeeping; about 1 ms a transaction) instead of the bulk
  // load. Both give the same records and figures.
  bool replay_through_sync = false;
  // Progress lines for people (may be empty).
  std::function<void(std::string_view)> progress;
};

// One team or person of the planned organisation.
struct PlannedTeam {
  std::string name;
  int area = 0;      // index into OrganisationPlan::areas
  std::string kind;  // "assessment", "safeguarding", "looked_after"
  int social_workers = 0;
};

struct PlannedWorker {
  std::string name;
  Role role = Role::social_worker;
  int team = -1;  // index into OrganisationPlan::teams; -1: no team
};

struct OrganisationPlan {
  std::vector<std::string> areas;
  std::vector<PlannedTeam> teams;
  std::vector<PlannedWorker> workers;
  double referrals_per_year = 0;  // in the first year; rising 3% a year
  std::int64_t population_under_18 = 0;
};

// The organisation and caseload generate() would make (pure; for tests and the summary).
OrganisationPlan plan_organisation(const DemoOptions& options);

// A worker the demo signs in as on the web (their password is set separately, with
// `fieldcase-server admin worker set-password`).
struct DemoAccount {
  Role role = Role::social_worker;
  std::string worker_id;
  std::string name;
};

struct DemoSummary {
  std::string authority_id;
  std::size_t areas = 0, teams = 0, workers = 0, devices = 0;
  std::map<int, std::int64_t> referrals_by_year;  // by calendar year of referral_date
  std::int64_t children = 0;
  std::int64_t records = 0;       // created by devices
  std::int64_t transactions = 0;  // device transactions accepted
  std::int64_t rejected = 0;      // device transactions refused (a generator fault if not 0)
  std::int64_t requests = 0;      // sync requests
  std::int64_t reallocations = 0;
  Date tablets_from;  // the first area's tablet date (areas follow a month apart)
  std::int64_t population_under_18 = 0;
  double seconds = 0;
  std::vector<DemoAccount> accounts;
};

// Whether the store holds a complete demo authority (an interrupted generation does not
// count: its database has the authority but not the closing demo_loaded audit entry).
Result<bool> present(ServerStore& store);

// Builds the demo authority in an empty store (Errc::already_exists if it has an authority).
Result<DemoSummary> generate(ServerStore& store, const DemoOptions& options);

// The sign-in accounts of the demo in a store that holds it: the service lead, the first area
// manager, team manager and social worker (by their names in the plan).
Result<std::vector<DemoAccount>> accounts(ServerStore& store);

// A canonical text of the demo's headline figures: every indicator for the authority for each
// financial year of the history and for each team (by name) in the last one. Identical text
// for identical figures; for determinism checks and the benchmark's sanity line.
Result<std::string> figures_digest(ServerStore& store, Date today,
                                   std::int64_t population_under_18);

// Simulated field devices against a running server (`fieldcase-demo devices`).
struct DevicesOptions {
  std::string server_url = "http://127.0.0.1:8480";
  int devices = 6;
  double interval_seconds = 15;  // between rounds of work
  int rounds = 0;                // 0: until stopped
  int sync_every = 3;            // a device syncs after this many rounds of offline work
  std::uint64_t seed = 1;
  // Where the tablets' temporary directory is made; empty: the system's temporary directory.
  std::string work_dir;
  std::function<void(std::string_view)> progress;
  std::function<bool()> stop;  // polled between rounds; true ends the run
};

struct DevicesReport {
  std::int64_t accepted = 0;  // transactions the server accepted
  std::int64_t rejected = 0;  // transactions it refused (each reason is in the progress lines)
  std::vector<std::string> refused;  // ids of the devices the server refused (revoked, unknown)
};

// Issues `devices` new device tokens to social workers who hold open work (through Admin on
// `store`, which also sends each worker's cases to the change log: Admin::send_cases), and
// makes each a tablet as the core does: an encrypted RecordStore in a temporary directory
// (removed when the run ends; the tokens and keys live only in memory) and a SyncEngine over
// HttpTransport, whose first sync brings the worker's cases. Then each round every tablet
// records work on them through RecordStore's write path while offline (a statutory visit with
// a note, or completing an assessment in progress) and syncs every `sync_every` rounds. A
// device the server refuses (revoked: it erases its records; an unknown token) is reported in
// the progress lines and in the report, and records nothing more; a server that cannot be
// reached leaves the work on the tablets for their next sync.
Result<DevicesReport> run_devices(ServerStore& store, const DevicesOptions& options);

}  // namespace fieldcase::server::demo
