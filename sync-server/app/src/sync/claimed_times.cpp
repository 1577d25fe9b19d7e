#include "sync/claimed_times.hpp"

#include <cstdlib>

#include "fieldcase/calendar.hpp"
#include "fieldcase/server/claimed_times.hpp"
#include "fieldcase/server/clock_offset.hpp"

namespace fieldcase::server::detail {
namespace {

constexpr std::int64_t kDayMs = 86'400'000;

std::optional<std::int64_t> date_start_ms(std::string_view date) {
  auto d = Date::parse(date);
  if (!d.ok()) return std::nullopt;
  return std::int64_t{d->days_since_epoch()} * kDayMs;
}

using Millis = Result<std::optional<std::int64_t>>;

class ClaimedTimes {
 public:
  ClaimedTimes(SyncDeps deps, const SyncRequestContext& ctx,
               const std::map<std::string, RecordDraft>& drafts)
      : deps_(deps), ctx_(ctx), drafts_(drafts) {}

  Status record(const std::string& tx_id, const std::string& id, const RecordDraft& w,
                const std::string& field);

 private:
  // When the work the claimed time belongs to started (nullopt: not known).
  Millis start_of(const ClaimedTimeRule& rule, const std::string& id, const StoredRecord& r);
  // A claimed time of `record_id`, corrected: this transaction's own claim, else the stored
  // correction, else the record's value as it is.
  Millis corrected(const std::string& record_id, std::string_view field);
  // The start of the day a date field of `record_id` names.
  Millis date_of(const std::string& record_id, std::string_view field);

  SyncDeps deps_;
  const SyncRequestContext& ctx_;
  const std::map<std::string, RecordDraft>& drafts_;
};

Millis ClaimedTimes::corrected(const std::string& record_id, std::string_view field) {
  if (auto it = drafts_.find(record_id);
      it != drafts_.end() && it->second.claimed_fields.count(std::string(field)) != 0) {
    auto t = text_field(it->second.after, field);
    auto ms = t ? parse_iso_millis(*t) : std::nullopt;
    return ms ? std::optional<std::int64_t>(*ms - ctx_.offset_ms) : std::nullopt;
  }
  auto claim = deps_.store.find_claimed_time(record_id, field);
  if (!claim.ok()) return claim.status();
  if (*claim) return parse_iso_millis((*claim)->corrected);
  auto record = deps_.store.find_record(record_id);
  if (!record.ok()) return record.status();
  if (!*record) return std::optional<std::int64_t>();
  auto t = text_field(**record, field);
  return t ? parse_iso_millis(*t) : std::nullopt;
}

Millis ClaimedTimes::date_of(const std::string& record_id, std::string_view field) {
  if (auto it = drafts_.find(record_id); it != drafts_.end()) {
    auto t = text_field(it->second.after, field);
    return t ? date_start_ms(*t) : std::nullopt;
  }
  auto record = deps_.store.find_record(record_id);
  if (!record.ok()) return record.status();
  if (!*record) return std::optional<std::int64_t>();
  auto t = text_field(**record, field);
  return t ? date_start_ms(*t) : std::nullopt;
}

Millis ClaimedTimes::start_of(const ClaimedTimeRule& rule, const std::string& id,
                              const StoredRecord& r) {
  std::string source = id;
  if (!rule.link_field.empty()) {
    auto linked = text_field(r, rule.link_field);
    if (!linked) return std::optional<std::int64_t>();
    source = std::string(*linked);
  }
  switch (rule.start) {
    case ClaimedStart::date:
      return date_of(source, rule.start_field);
    case ClaimedStart::claimed_time:
      return corrected(source, rule.start_field);
    case ClaimedStart::claimed_day: {
      auto t = corrected(source, rule.start_field);
      if (!t.ok() || !*t) return t;
      return std::optional<std::int64_t>(**t - ((**t % kDayMs) + kDayMs) % kDayMs);
    }
  }
  return std::optional<std::int64_t>();
}

Status ClaimedTimes::record(const std::string& tx_id, const std::string& id,
                            const RecordDraft& w, const std::string& field) {
  auto text = text_field(w.after, field);
  auto claimed_ms = text ? parse_iso_millis(*text) : std::nullopt;
  if (!claimed_ms) return deps_.store.delete_claimed_time(id, field);  // cleared
  ClaimedTime c;
  c.record_id = id;
  c.field = field;
  c.case_id = w.after.case_id;
  c.kind = w.after.kind;
  c.claimed = std::string(*text);
  const std::int64_t corrected_ms = *claimed_ms - ctx_.offset_ms;
  c.corrected = format_iso_millis(corrected_ms);
  c.received_at = ctx_.receipt_text;
  c.offset_ms = ctx_.offset_ms;
  c.device_id = ctx_.device.id;
  c.worker_id = ctx_.worker.id;
  c.tx_id = tx_id;
  const std::int64_t slack = ms_of(deps_.options.plausibility_slack);
  c.after_receipt = corrected_ms > ctx_.receipt_ms + slack;
  c.large_offset = std::abs(ctx_.offset_ms) > ms_of(deps_.options.offset_threshold);
  if (const ClaimedTimeRule* rule = claimed_time_rule(w.after.kind, field)) {
    auto start = start_of(*rule, id, w.after);
    if (!start.ok()) return start.status();
    c.before_start = start->has_value() && corrected_ms < **start - slack;
  }
  return deps_.store.put_claimed_time(c);
}

}  // namespace

Status record_claimed_times(SyncDeps deps, const SyncRequestContext& ctx,
                            const std::string& tx_id, const std::vector<std::string>& order,
                            const std::map<std::string, RecordDraft>& drafts) {
  ClaimedTimes times(deps, ctx, drafts);
  for (const auto& id : order) {
    const RecordDraft& w = drafts.at(id);
    for (const auto& field : w.claimed_fields) FC_TRY(times.record(tx_id, id, w, field));
  }
  return {};
}

}  // namespace fieldcase::server::detail
