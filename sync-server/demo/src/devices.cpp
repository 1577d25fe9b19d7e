// Simulated tablets for the demo (demo.hpp, run_devices): social workers recording visits and
// completing assessments offline, syncing over HTTP to the running server.
#include <httplib.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "demo_support.hpp"
#include "fieldcase/ids.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/demo.hpp"
#include "fieldcase/sync_protocol.hpp"

namespace fieldcase::server::demo {
namespace {

using detail::Ms;

// Work a worker can do on one of their cases.
struct Job {
  enum class Kind { cp_visit, lac_visit, complete_assessment } kind;
  std::string case_id;
  std::string record_id;  // the assessment to complete
};

struct LiveDevice {
  std::string worker_id;
  std::string worker_name;
  std::string token;  // only in memory
  std::string hlc_name;
  std::vector<Job> jobs;
  std::vector<sync::Transaction> outbox;
  std::int64_t cursor = 0;
  std::uint32_t counter = 0;
  Ms last_wall = 0;
};

const std::string* text(const StoredRecord& r, std::string_view field) {
  auto it = r.fields.find(field);
  if (it == r.fields.end()) return nullptr;
  return std::get_if<std::string>(&it->second.value);
}

// The open work on a worker's cases: plans and episodes that have not ended, assessments in
// progress.
Result<std::vector<Job>> jobs_of(ServerStore& store, const Worker& worker) {
  auto cases = store.visible_cases(worker);
  if (!cases.ok()) return cases.status();
  std::vector<Job> jobs;
  for (const auto& case_id : *cases) {
    auto records = store.case_records(case_id);
    if (!records.ok()) return records.status();
    for (const auto& r : *records) {
      if (r.deleted) continue;
      if ((r.kind == RecordKind::cp_plan || r.kind == RecordKind::lac_episode) &&
          text(r, "end_date") == nullptr) {
        jobs.push_back({r.kind == RecordKind::cp_plan ? Job::Kind::cp_visit : Job::Kind::lac_visit,
                        case_id, r.id});
      } else if (r.kind == RecordKind::assessment && text(r, "status") != nullptr &&
                 *text(r, "status") == "in_progress") {
        jobs.push_back({Job::Kind::complete_assessment, case_id, r.id});
      }
    }
  }
  return jobs;
}

std::string stamp(LiveDevice& d, Ms now, const std::string& after) {
  HlcStamp h{std::max(now, d.last_wall), 0, d.hlc_name};
  if (h.wall_ms == d.last_wall) h.counter = d.counter + 1;
  if (auto seen = HlcStamp::parse(after); seen.ok() && h.to_string() <= after) {
    h.wall_ms = seen->wall_ms;
    h.counter = seen->counter + 1;
  }
  d.last_wall = h.wall_ms;
  d.counter = h.counter;
  return h.to_string();
}

// One piece of work recorded on the device (offline): a statutory visit with a short note, or
// an assessment completed.
Status record_work(ServerStore& store, const Clock& clock, LiveDevice& d, detail::Rng& rng) {
  if (d.jobs.empty()) return {};
  const std::size_t pick = rng.below(d.jobs.size());
  const Job job = d.jobs[pick];
  const Ms now =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.wall().time_since_epoch())
          .count();
  const std::string at = detail::iso(now);
  sync::Transaction tx;
  tx.tx_id = new_uuid_v7(clock);
  auto op = [&](FieldChange::Op kind, RecordKind rk, const std::string& id, std::string field,
                Value value, const std::string& base) {
    sync::Op o;
    o.op_id = new_uuid_v7(clock);
    o.op = kind;
    o.record_id = id;
    o.kind = rk;
    o.case_id = job.case_id;
    o.field = std::move(field);
    o.value = std::move(value);
    o.base = base;
    o.hlc = stamp(d, now, base);
    o.at = at;
    tx.ops.push_back(std::move(o));
  };
  if (job.kind == Job::Kind::complete_assessment) {
    auto r = store.find_record(job.record_id);
    if (!r.ok()) return r.status();
    if (!*r) return {};
    auto base = [&](std::string_view f) {
      auto it = (*r)->fields.find(f);
      return it == (*r)->fields.end() ? std::string() : it->second.hlc;
    };
    op(FieldChange::Op::set, RecordKind::assessment, job.record_id, "status",
       std::string("completed"), base("status"));
    op(FieldChange::Op::set, RecordKind::assessment, job.record_id, "completed_at", at,
       base("completed_at"));
    d.jobs.erase(d.jobs.begin() + static_cast<std::ptrdiff_t>(pick));
  } else {
    const std::string visit = new_uuid_v7(clock);
    const RecordKind k = RecordKind::visit;
    op(FieldChange::Op::create, k, visit, "", Value{}, "");
    op(FieldChange::Op::set, k, visit, "visit_type",
       std::string(job.kind == Job::Kind::cp_visit ? "cp_statutory" : "lac_statutory"), "");
    op(FieldChange::Op::set, k, visit, "start_at", detail::iso(now - 45 * detail::kMin), "");
    op(FieldChange::Op::set, k, visit, "end_at", at, "");
    op(FieldChange::Op::set, k, visit, "child_seen", true, "");
    op(FieldChange::Op::set, k, visit, "recorded_at", at, "");
    op(FieldChange::Op::set, k, visit, "observations",
       std::string("Child seen at home; plan reviewed with the parent."), "");
    const std::string note = new_uuid_v7(clock);
    op(FieldChange::Op::create, RecordKind::case_note, note, "", Value{}, "");
    op(FieldChange::Op::set, RecordKind::case_note, note, "contact_at",
       detail::iso(now - 45 * detail::kMin), "");
    op(FieldChange::Op::set, RecordKind::case_note, note, "text",
       std::string("Statutory visit completed; no new concerns."), "");
    op(FieldChange::Op::set, RecordKind::case_note, note, "status", std::string("completed"), "");
    op(FieldChange::Op::set, RecordKind::case_note, note, "completed_at", at, "");
    op(FieldChange::Op::set, RecordKind::case_note, note, "visit_id", visit, "");
  }
  d.outbox.push_back(std::move(tx));
  return {};
}

// Sends the outbox in one request; returns the number accepted. Transactions stay in the
// outbox when the server cannot be reached (the next sync retries them).
Result<std::int64_t> sync_device(httplib::Client& http, const Clock& clock, LiveDevice& d,
                                 std::int64_t& rejected) {
  sync::SyncRequest request;
  request.device_time = format_iso_datetime(clock.wall());
  request.cursor = d.cursor;
  request.max_changes = 200;
  request.transactions = d.outbox;
  httplib::Headers headers{{"Authorization", "Bearer " + d.token}};
  auto res = http.Post("/v1/sync", headers, sync::encode(request), "application/json");
  if (!res) return Status(Errc::io, "the server did not answer");
  if (res->status != 200) {
    return Status(Errc::io, "the server answered " + std::to_string(res->status));
  }
  auto response = sync::decode_response(res->body);
  if (!response.ok()) return response.status();
  d.cursor = response->cursor;
  d.outbox.clear();
  rejected += static_cast<std::int64_t>(response->rejected.size());
  return static_cast<std::int64_t>(response->accepted.size());
}

}  // namespace

Result<std::int64_t> run_devices(ServerStore& store, const DevicesOptions& options) {
  auto say = [&](const std::string& line) {
    if (options.progress) options.progress(line);
  };
  const Clock& clock = SystemClock::instance();
  auto here = present(store);
  if (!here.ok()) return here.status();
  if (!*here) return Status(Errc::not_found, "the database holds no demo authority");
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
  Admin admin(store, clock);
  std::vector<LiveDevice> devices;
  for (const auto& w : candidates) {
    if (static_cast<int>(devices.size()) >= options.devices) break;
    auto jobs = jobs_of(store, w);
    if (!jobs.ok()) return jobs.status();
    if (jobs->empty()) continue;
    auto issued = admin.issue_device(w.id);
    if (!issued.ok()) return issued.status();
    LiveDevice d;
    d.worker_id = w.id;
    d.worker_name = w.name;
    d.token = issued->token;
    d.hlc_name = issued->device_id;
    d.jobs = std::move(*jobs);
    say("device for " + w.name + " (" + std::to_string(d.jobs.size()) + " pieces of open work)");
    devices.push_back(std::move(d));
  }
  if (devices.empty()) return Status(Errc::not_found, "no social worker has open work");

  httplib::Client http(options.server_url);
  http.set_connection_timeout(5);
  http.set_read_timeout(30);
  std::int64_t accepted = 0, rejected = 0;
  for (int round = 0; options.rounds == 0 || round < options.rounds; ++round) {
    if (options.stop && options.stop()) break;
    for (std::size_t i = 0; i < devices.size(); ++i) {
      LiveDevice& d = devices[i];
      FC_TRY(record_work(store, clock, d, rng));
      // Devices come back into signal at different times.
      const bool last = options.rounds != 0 && round + 1 == options.rounds;
      if (!d.outbox.empty() &&
          (last || (round + static_cast<int>(i)) % std::max(1, options.sync_every) == 0)) {
        auto n = sync_device(http, clock, d, rejected);
        if (!n.ok()) {
          say(d.worker_name + ": offline (" + n.status().message() + "), keeps its work");
          continue;
        }
        accepted += *n;
        say(d.worker_name + ": synced " + std::to_string(*n) + " transactions (" +
            std::to_string(accepted) + " accepted, " + std::to_string(rejected) +
            " rejected so far)");
      }
    }
    const auto until = std::chrono::steady_clock::now() +
                       std::chrono::milliseconds(static_cast<Ms>(options.interval_seconds * 1000));
    while (std::chrono::steady_clock::now() < until && !(options.stop && options.stop())) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  }
  return accepted;
}

}  // namespace fieldcase::server::demo
