// A visit and its notes reach the database whole, with all their change-log entries, or not at
// all, whichever write of the commit fails.
#include <catch2/catch.hpp>

#include <sqlite3.h>

#include "record_fixture.hpp"
#include "storage/cipher_vfs.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

using S = std::string;

// A visit with three notes, in one local transaction. The notes are long enough that the
// commit spans many pages (records, change log and indexes).
Status write_visit(RecordStore& rs, const std::string& child, int round) {
  return rs.write([&](RecordStore::Writer& w) -> Status {
    Fields v = valid_fields(RecordKind::visit);
    v["observations"] = S(1500, static_cast<char>('a' + round % 26));
    auto visit = w.create(RecordKind::visit, child, v);
    if (!visit.ok()) return visit.status();
    for (int i = 0; i < 3; ++i) {
      Fields n = valid_fields(RecordKind::case_note);
      n["visit_id"] = *visit;
      n["status"] = S("completed");
      n["text"] = "Note " + std::to_string(i) + " of round " + std::to_string(round) + ": " +
                  S(2500, static_cast<char>('A' + (round + i) % 26));
      FC_TRY(w.create(RecordKind::case_note, child, n).status());
    }
    return {};
  });
}

struct Counts {
  std::int64_t records;
  std::int64_t log;
  friend bool operator==(const Counts&, const Counts&) = default;
};

Counts counts(RecordEnv& env) { return {env.record_rows(), env.log_rows()}; }

// Every log entry belongs to a stored record and every record has its create entry.
void check_log_matches_records(RecordEnv& env) {
  CHECK(query_int(
            *env.store,
            "SELECT count(*) FROM change_log WHERE record_id NOT IN (SELECT id FROM record)") == 0);
  CHECK(query_int(*env.store,
                  "SELECT count(*) FROM record WHERE id NOT IN "
                  "(SELECT record_id FROM change_log WHERE op = 'create')") == 0);
}

}  // namespace

TEST_CASE("a visit and its notes are written whole or not at all when a write fails",
          "[records][faults]") {
  for (const StoreMode& mode : all_store_modes()) {
    for (const bool disk_full : {true, false}) {
      SECTION(mode.name() + (disk_full ? " disk full" : " write error")) {
        RecordEnv env(mode);
        const std::string child = env.child();

        // What one successful write adds.
        const Counts start = counts(env);
        REQUIRE(write_visit(env.records(), child, 0).ok());
        const Counts one = counts(env);
        const Counts delta{one.records - start.records, one.log - start.log};
        REQUIRE(delta.records == 4);
        REQUIRE(delta.log > 4 * 5);

        int failures = 0;
        bool finished = false;
        for (int n = 1; n <= 500 && !finished; ++n) {
          INFO("failing write " << n);
          const Counts before = counts(env);
          int writes = 0;
          bool hit = false;
          storage::set_fault_hook(
              [&](storage::IoOp op, storage::FileRole, std::int64_t, int) -> int {
                if (op != storage::IoOp::write) return SQLITE_OK;
                ++writes;
                // A full disk stays full; an I/O error strikes once.
                if (disk_full ? writes >= n : writes == n) {
                  hit = true;
                  return disk_full ? SQLITE_FULL : SQLITE_IOERR_WRITE;
                }
                return SQLITE_OK;
              });
          Status st = write_visit(env.records(), child, n);
          storage::set_fault_hook(nullptr);
          if (!hit) {
            // The commit needs fewer than n writes: every point has been tried.
            REQUIRE(st.ok());
            finished = true;
          }
          if (!st.ok()) {
            ++failures;
            CHECK((st.code() == Errc::disk_full || st.code() == Errc::io));
          }
          INFO(st.to_string());

          // In this session: all or nothing, matching what the write reported.
          const Counts now = counts(env);
          const Counts whole{before.records + delta.records, before.log + delta.log};
          CHECK((now == before || now == whole));
          CHECK((st.ok() ? now == whole : now == before));
          check_log_matches_records(env);

          // After closing and opening again (recovering any hot journal).
          env.reopen();
          CHECK(integrity_check(*env.store) == "ok");
          const Counts reopened = counts(env);
          CHECK(reopened == now);
          check_log_matches_records(env);
          auto pending = env.records().pending_transactions();
          REQUIRE(pending.ok());
          // The child's transaction, the first visit's, and each visit written since.
          CHECK(*pending == 1 + (reopened.records - start.records) / delta.records);
        }
        CHECK(finished);
        CHECK(failures >= 3);
      }
    }
  }
}
