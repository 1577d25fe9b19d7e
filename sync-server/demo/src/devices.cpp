// Simulated tablets for the demo (demo.hpp, run_devices). Each is a device as the core makes
// one: an encrypted RecordStore in a temporary directory, written through its write path while
// offline, and a SyncEngine over the Linux HttpTransport, so the server sees what a tablet sends.
#include <sodium.h>
#include <stdlib.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <filesystem>
#include <memory>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include "demo_support.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_store.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/store.hpp"
#include "fieldcase/sync_engine.hpp"

namespace fieldcase::server::demo {
namespace {

using detail::Ms;
namespace fs = std::filesystem;

// A fresh directory (under the system's temporary one by default), removed with its contents at the end.
class ScratchDir {
 public:
  static Result<std::unique_ptr<ScratchDir>> create(const std::string& under) {
    const fs::path parent = under.empty() ? fs::temp_directory_path() : fs::path(under);
    std::string pattern = (parent / "fieldcase-demo-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      return Status(Errc::io, "cannot create a temporary directory for the tablets");
    }
    return std::unique_ptr<ScratchDir>(new ScratchDir(pattern));
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const fs::path& path() const { return path_; }

 private:
  explicit ScratchDir(fs::path path) : path_(std::move(path)) {}
  fs::path path_;
};

// Work a worker can do on one of their cases.
struct Job {
  enum class Kind { cp_visit, lac_visit, complete_assessment } kind;
  std::string case_id;
  std::string record_id;  // the plan or episode the visit is under; the assessment to complete
};

const std::string* text(const Record& r, std::string_view field) {
  auto it = r.fields.find(std::string(field));
  if (it == r.fields.end()) return nullptr;
  return std::get_if<std::string>(&it->second);
}

// The open work among a worker's records: plans and episodes that have not ended, assessments
// in progress.
std::vector<Job> open_work(const std::vector<Record>& records) {
  std::vector<Job> jobs;
  for (const auto& r : records) {
    if (r.deleted) continue;
    if ((r.kind == RecordKind::cp_plan || r.kind == RecordKind::lac_episode) &&
        text(r, "end_date") == nullptr) {
      jobs.push_back({r.kind == RecordKind::cp_plan ? Job::Kind::cp_visit : Job::Kind::lac_visit,
                      r.case_id, r.id});
    } else if (r.kind == RecordKind::assessment && text(r, "status") != nullptr &&
               *text(r, "status") == kAssessmentInProgress) {
      jobs.push_back({Job::Kind::complete_assessment, r.case_id, r.id});
    }
  }
  return jobs;
}

// The open work on a worker's cases as the server holds them (to choose who gets a tablet).
Result<std::size_t> open_work_on_server(ServerStore& store, const Worker& worker) {
  auto cases = store.visible_cases(worker);
  if (!cases.ok()) return cases.status();
  std::vector<Record> records;
  for (const auto& case_id : *cases) {
    auto stored = store.case_records(case_id);
    if (!stored.ok()) return stored.status();
    for (const auto& r : *stored) records.push_back(r.to_record());
  }
  return open_work(records).size();
}

// The worker's open work on the tablet, from the records its syncs brought.
Result<std::vector<Job>> open_work_on_tablet(RecordStore& records) {
  std::vector<Record> all;
  for (RecordKind kind : {RecordKind::cp_plan, RecordKind::lac_episode, RecordKind::assessment}) {
    auto some = records.list(kind);
    if (!some.ok()) return some.status();
    all.insert(all.end(), some->begin(), some->end());
  }
  return open_work(all);
}

struct Tablet {
  std::string worker_name;
  std::string device_id;
  std::string token;  // only in memory
  fs::path database;
  std::unique_ptr<Store> store;
  std::unique_ptr<RecordStore> records;
  std::unique_ptr<platform::HttpTransport> transport;
  std::vector<Job> jobs;
  bool refused = false;  // the server refused the device: it records nothing more
};

// One piece of work recorded on the tablet (offline): a statutory visit with a short note, or
// an assessment completed.
Status record_work(const Clock& clock, Tablet& t, detail::Rng& rng) {
  if (t.jobs.empty()) return {};
  const std::size_t pick = rng.below(t.jobs.size());
  const Job job = t.jobs[pick];
  const Ms now =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
          .count();
  const std::string at = detail::iso(now);
  if (job.kind == Job::Kind::complete_assessment) {
    t.jobs.erase(t.jobs.begin() + static_cast<std::ptrdiff_t>(pick));
    return t.records->update(job.record_id, {{"status", std::string(kAssessmentCompleted)},
                                             {"completed_at", at}});
  }
  const std::string started = detail::iso(now - 45 * detail::kMin);
  return t.records->write([&](RecordStore::Writer& w) -> Status {
    auto visit = w.create(
        RecordKind::visit, job.case_id,
        {{"visit_type",
          std::string(job.kind == Job::Kind::cp_visit ? "cp_statutory" : "lac_statutory")},
         {"start_at", started},
         {"end_at", at},
         {"child_seen", true},
         {"observations", std::string("Child seen at home; plan reviewed with the parent.")}});
    if (!visit.ok()) return visit.status();
    auto note = w.create(RecordKind::case_note, job.case_id,
                         {{"contact_at", started},
                          {"text", std::string("Statutory visit completed; no new concerns.")},
                          {"status", std::string("completed")},
                          {"completed_at", at},
                          {"visit_id", *visit}});
    return note.status();
  });
}

// How the server answered a tablet's sync, in words for the log.
struct SyncOutcome {
  std::int64_t accepted = 0;
  std::int64_t rejected = 0;
  std::string line;
};

SyncOutcome sync_tablet(Tablet& t) {
  SyncOptions options;
  options.max_attempts = 2;
  SyncEngine engine(*t.records, *t.transport, t.token, options);
  auto report = engine.run();
  SyncOutcome out;
  if (!report.ok()) {
    if (report.code() == Errc::unauthenticated) {
      t.refused = true;
      out.line = t.worker_name + ": refused by the server (" + report.status().message() +
                 "): device " + t.device_id + " records nothing more";
    } else {
      out.line = t.worker_name + ": offline (" + report.status().message() + "), keeps its work";
    }
    return out;
  }
  out.accepted = static_cast<std::int64_t>(report->accepted);
  out.rejected = static_cast<std::int64_t>(report->rejected);
  if (report->device_revoked || report->wipe_requested) {
    // The tablet erases itself, as a real one does when told to.
    t.refused = true;
    t.jobs.clear();
    t.records.reset();
    t.store.reset();
    std::error_code ignored;
    for (const char* suffix : {"", "-wal", "-shm"}) {
      fs::remove(fs::path(t.database.string() + suffix), ignored);
    }
    out.line = t.worker_name + ": device " + t.device_id + " revoked by the server (" +
               report->wipe_reason + "); its records are erased";
    return out;
  }
  out.line = t.worker_name + ": synced, " + std::to_string(out.accepted) + " accepted, " +
             std::to_string(out.rejected) + " rejected";
  for (const auto& r : report->rejections) {
    out.line += "\n  rejected " + r.tx_id + " (" + r.code + "): " + r.reason;
  }
  return out;
}

// A tablet for `worker`: a token issued through Admin, the worker's cases sent to it, an
// encrypted store under `dir`, and a first sync that brings the cases.
Result<Tablet> open_tablet(Admin& admin, const Worker& worker, const fs::path& dir,
                           const DevicesOptions& options, const Clock& clock) {
  auto issued = admin.issue_device(worker.id);
  if (!issued.ok()) return issued.status();
  // The bulk load writes no change log: the cases reach a new device only when sent.
  FC_TRY(admin.send_cases(worker.id));
  Tablet t;
  t.worker_name = worker.name;
  t.device_id = issued->device_id;
  t.token = issued->token;
  std::array<std::uint8_t, 32> key{};
  randombytes_buf(key.data(), key.size());
  StoreOptions so;
  t.database = dir / (issued->device_id + ".db");
  so.path = t.database;
  so.cache_kib = 1024;
  auto store = Store::open(so, key);
  sodium_memzero(key.data(), key.size());
  if (!store.ok()) return store.status();
  t.store = std::move(*store);
  auto records = RecordStore::open(*t.store, Identity{worker.id, issued->device_id, worker.role},
                                   clock, Timescales());
  if (!records.ok()) return records.status();
  t.records = std::move(*records);
  platform::HttpTransportOptions http;
  http.base_url = options.server_url;
  http.connect_timeout = std::chrono::seconds(5);
  http.read_timeout = std::chrono::seconds(30);
  t.transport = std::make_unique<platform::HttpTransport>(http);
  return t;
}

}  // namespace

Result<DevicesReport> run_devices(ServerStore& store, const DevicesOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const Clock& clock = SystemClock::instance();
  auto here = present(store);
  if (!here.ok()) return here.status();
  if (!*here) return Status(Errc::not_found, "the database holds no demo authority");
  if (sodium_init() < 0) return Status(Errc::internal, "libsodium did not start");
  auto workers = store.list_workers();
  if (!workers.ok()) return workers.status();
  detail::Rng rng(options.seed);
  std::vector<Worker> candidates;
  for (const auto& w : *workers) {
    if (w.role == Role::social_worker && w.active) candidates.push_back(w);
  }
  // A deterministic shuffle, so each run picks a spread of teams.
  for (std::size_t i = candidates.size(); i > 1; --i) {
    std::swap(candidates[i - 1], candidates[rng.below(i)]);
  }
  auto dir = ScratchDir::create(options.work_dir);
  if (!dir.ok()) return dir.status();
  Admin admin(store, clock);
  DevicesReport report;
  std::vector<Tablet> tablets;
  for (const auto& w : candidates) {
    if (static_cast<int>(tablets.size()) >= options.devices) break;
    auto work = open_work_on_server(store, w);
    if (!work.ok()) return work.status();
    if (*work == 0) continue;
    auto tablet = open_tablet(admin, w, (*dir)->path(), options, clock);
    if (!tablet.ok()) return tablet.status();
    // Its first sync brings the worker's cases, as a new tablet's does.
    SyncOutcome first = sync_tablet(*tablet);
    report.rejected += first.rejected;
    if (tablet->refused) {
      report.refused.push_back(tablet->device_id);
      say(first.line);
      continue;
    }
    auto jobs = open_work_on_tablet(*tablet->records);
    if (!jobs.ok()) return jobs.status();
    tablet->jobs = std::move(*jobs);
    const std::size_t n = tablet->jobs.size();
    say("device " + tablet->device_id + " for " + w.name + ": " + std::to_string(n) +
        (n == 1 ? " piece" : " pieces") + " of open work" +
        (first.line.find("offline") != std::string::npos ? " (not yet synced)" : ""));
    tablets.push_back(std::move(*tablet));
  }
  if (tablets.empty()) return Status(Errc::not_found, "no social worker has open work");

  for (int round = 0; options.rounds == 0 || round < options.rounds; ++round) {
    if (options.stop && options.stop()) break;
    for (std::size_t i = 0; i < tablets.size(); ++i) {
      Tablet& t = tablets[i];
      if (t.refused) continue;
      if (Status recorded = record_work(clock, t, rng); !recorded.ok()) {
        say(t.worker_name + ": not recorded (" + recorded.message() + ")");
      }
      // Tablets come back into signal at different times.
      const bool last = options.rounds != 0 && round + 1 == options.rounds;
      if (!last && (round + static_cast<int>(i)) % std::max(1, options.sync_every) != 0) continue;
      auto waiting = t.records->pending_transactions();
      if (!waiting.ok()) return waiting.status();
      if (*waiting == 0) continue;
      SyncOutcome synced = sync_tablet(t);
      report.accepted += synced.accepted;
      report.rejected += synced.rejected;
      if (t.refused) report.refused.push_back(t.device_id);
      say(synced.line + " (" + std::to_string(report.accepted) + " accepted, " +
          std::to_string(report.rejected) + " rejected so far)");
    }
    if (std::all_of(tablets.begin(), tablets.end(), [](const Tablet& t) { return t.refused; })) {
      say("every device was refused by the server");
      break;
    }
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<Ms>(options.interval_seconds * 1000));
    for (auto now = std::chrono::steady_clock::now();
         now < until && !(options.stop && options.stop()); now = std::chrono::steady_clock::now()) {
      std::this_thread::sleep_for(
          std::min<std::chrono::steady_clock::duration>(until - now, std::chrono::milliseconds(100)));
    }
  }
  return report;
}

}  // namespace fieldcase::server::demo
