// The one field-merge rule by hybrid logical clock (field_merge.hpp), as device and server use it.
#include <catch2/catch.hpp>

#include <string>

#include "fieldcase/field_merge.hpp"
#include "fieldcase/ids.hpp"

using namespace fieldcase;

namespace {

std::string stamp(std::int64_t wall, std::uint32_t counter, std::string node) {
  return HlcStamp{wall, counter, std::move(node)}.to_string();
}

}  // namespace

TEST_CASE("merge_field: a field never set takes any change", "[sync][merge]") {
  const std::string s = stamp(1000, 0, "dev-a");
  auto m = merge_field({std::nullopt, s, std::string_view("x"), false});
  CHECK(m.outcome == FieldMergeOutcome::take);
  CHECK_FALSE(m.concurrent);  // nothing was there to overlook
  CHECK_FALSE(m.conflict(true));
}

TEST_CASE("merge_field: the later stamp wins, in wall time then counter", "[sync][merge]") {
  const std::string older = stamp(1000, 5, "dev-a");
  const std::string later_wall = stamp(1001, 0, "dev-a");
  const std::string later_counter = stamp(1000, 6, "dev-a");
  CHECK(merge_field({older, later_wall, std::nullopt, false}).outcome == FieldMergeOutcome::take);
  CHECK(merge_field({older, later_counter, std::nullopt, false}).outcome ==
        FieldMergeOutcome::take);
  CHECK(merge_field({later_wall, older, std::nullopt, false}).outcome == FieldMergeOutcome::keep);
  CHECK(merge_field({later_counter, older, std::nullopt, false}).outcome ==
        FieldMergeOutcome::keep);
}

TEST_CASE("merge_field: the same stamp is the same change", "[sync][merge]") {
  const std::string s = stamp(1000, 3, "dev-a");
  auto m = merge_field({s, s, s, false});
  CHECK(m.outcome == FieldMergeOutcome::unchanged);
  CHECK_FALSE(m.conflict(true));
}

TEST_CASE("merge_field: equal wall time and counter fall to the node id", "[sync][merge]") {
  const std::string a = stamp(1000, 3, "dev-a");
  const std::string b = stamp(1000, 3, "dev-b");
  // Both sides decide the same way whichever arrives first: dev-b's stamp is the later one.
  CHECK(merge_field({a, b, std::nullopt, false}).outcome == FieldMergeOutcome::take);
  CHECK(merge_field({b, a, std::nullopt, false}).outcome == FieldMergeOutcome::keep);
}

TEST_CASE("merge_field: a writer that had not seen the current value was concurrent",
          "[sync][merge]") {
  const std::string seen = stamp(900, 0, "dev-a");
  const std::string current = stamp(1000, 0, "dev-b");
  const std::string incoming = stamp(1100, 0, "dev-a");

  auto sequential = merge_field({current, incoming, std::string_view(current), false});
  CHECK(sequential.outcome == FieldMergeOutcome::take);
  CHECK_FALSE(sequential.concurrent);
  CHECK_FALSE(sequential.conflict(true));

  auto concurrent = merge_field({current, incoming, std::string_view(seen), false});
  CHECK(concurrent.outcome == FieldMergeOutcome::take);
  CHECK(concurrent.concurrent);
  CHECK(concurrent.conflict(true));    // the overwritten value is kept as a conflict
  CHECK_FALSE(concurrent.conflict(false));  // unless both wrote the same value

  // Without a base (the server's changes on a device) nothing is judged concurrent.
  CHECK_FALSE(merge_field({current, incoming, std::nullopt, false}).concurrent);
}

TEST_CASE("merge_field: a change that lost is a conflict when its value differs",
          "[sync][merge]") {
  const std::string current = stamp(2000, 0, "dev-b");
  const std::string incoming = stamp(1000, 0, "dev-a");
  auto m = merge_field({current, incoming, std::string_view(), false});
  CHECK(m.outcome == FieldMergeOutcome::keep);
  CHECK(m.conflict(true));
  CHECK_FALSE(m.conflict(false));
}

TEST_CASE("merge_field: no field change takes effect on a deleted record", "[sync][merge]") {
  const std::string current = stamp(1000, 0, "dev-b");
  const std::string incoming = stamp(5000, 0, "dev-a");
  // However late its stamp, and whether or not the field was set.
  CHECK(merge_field({current, incoming, std::nullopt, true}).outcome ==
        FieldMergeOutcome::deleted);
  auto m = merge_field({std::nullopt, incoming, std::nullopt, true});
  CHECK(m.outcome == FieldMergeOutcome::deleted);
  CHECK(m.conflict(true));  // a value written to a deleted record is kept as a conflict
  CHECK_FALSE(m.conflict(false));
}
