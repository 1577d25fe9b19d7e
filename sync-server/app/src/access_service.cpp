#include "fieldcase/server/access_service.hpp"

#include <sodium.h>

#include <algorithm>
#include <array>

#include "fieldcase/ids.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/admin.hpp"
#include "fieldcase/server/clock_offset.hpp"
#include "fieldcase/server/tokens.hpp"

namespace fieldcase::server {
namespace {

constexpr std::string_view kCodeAlphabet = "23456789ABCDEFGHJKLMNPQRSTUVWXYZ";
constexpr std::size_t kCodeLength = 10;
constexpr std::string_view kNotValid = "the enrollment code is not valid";
constexpr std::string_view kSignInRefused =
    "the worker id or password is wrong, or the account is locked for a while after too many "
    "failed sign-ins";

std::int64_t to_ms(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

std::int64_t iso_ms(std::string_view text) {
  auto ms = parse_iso_millis(text);
  return ms ? *ms : 0;
}

// The CSRF token of a session: derived from the session id (never stored), under its own
// BLAKE2b key so it says nothing about the id or the id's stored hash.
std::string csrf_of(std::string_view session_id) {
  static constexpr std::string_view kDomain = "fieldcase csrf token v1";
  std::array<unsigned char, 32> key{};
  crypto_generichash(key.data(), key.size(), reinterpret_cast<const unsigned char*>(kDomain.data()),
                     kDomain.size(), nullptr, 0);
  std::array<unsigned char, 32> out{};
  crypto_generichash(out.data(), out.size(),
                     reinterpret_cast<const unsigned char*>(session_id.data()), session_id.size(),
                     key.data(), key.size());
  constexpr int kVariant = sodium_base64_VARIANT_URLSAFE_NO_PADDING;
  std::string text(sodium_base64_ENCODED_LEN(out.size(), kVariant), '\0');
  sodium_bin2base64(text.data(), text.size(), out.data(), out.size(), kVariant);
  text.resize(text.find('\0'));
  return text;
}

}  // namespace

Result<std::string> new_enrollment_code() {
  if (sodium_init() < 0) return Status(Errc::internal, "libsodium could not be initialised");
  std::string code;
  for (std::size_t i = 0; i < kCodeLength; ++i) {
    if (i == 5) code += '-';
    code += kCodeAlphabet[randombytes_uniform(static_cast<std::uint32_t>(kCodeAlphabet.size()))];
  }
  return code;
}

std::optional<std::string> normalise_enrollment_code(std::string_view typed) {
  if (typed.size() > 64) return std::nullopt;
  std::string out;
  for (char c : typed) {
    if (c == '-' || c == ' ') continue;
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    if (kCodeAlphabet.find(c) == std::string_view::npos) return std::nullopt;
    out += c;
  }
  if (out.size() != kCodeLength) return std::nullopt;
  return out;
}

StoredCode stored_enrollment_code(const ServerSecret& secret, std::string_view normal) {
  return {secret.keyed_hash("fieldcase enrollment code lookup v2", normal.substr(0, 5)),
          secret.keyed_hash("fieldcase enrollment code v2", normal)};
}

Status check_password_policy(std::string_view password) {
  if (password.size() < 12)
    return {Errc::invalid_argument, "a password has at least 12 characters"};
  if (password.size() > 1024) return {Errc::invalid_argument, "a password has at most 1024 bytes"};
  if (!is_valid_utf8(password)) return {Errc::invalid_argument, "a password must be UTF-8"};
  return {};
}

Result<std::string> hash_password(std::string_view password, const AccessOptions& options) {
  if (sodium_init() < 0) return Status(Errc::internal, "libsodium could not be initialised");
  std::array<char, crypto_pwhash_STRBYTES> out{};
  if (crypto_pwhash_str_alg(out.data(), password.data(), password.size(), options.pwhash_opslimit,
                            options.pwhash_memlimit, crypto_pwhash_ALG_ARGON2ID13) != 0) {
    return Status(Errc::internal, "the password could not be hashed (out of memory)");
  }
  return std::string(out.data());
}

bool verify_password(const std::string& hash, std::string_view password) {
  if (hash.empty() || sodium_init() < 0) return false;
  return crypto_pwhash_str_verify(hash.c_str(), password.data(), password.size()) == 0;
}

Result<Relation> case_relation(ServerStore& store, const Worker& actor, std::string_view case_id) {
  auto allocation = store.find_allocation(case_id);
  if (!allocation.ok()) return allocation.status();
  if (!*allocation) return Relation::other;
  return worker_relation(store, actor, (*allocation)->worker_id);
}

Result<Relation> worker_relation(ServerStore& store, const Worker& actor,
                                 std::string_view owner_id) {
  if (owner_id.empty()) return Relation::other;
  if (owner_id == actor.id) return Relation::own;
  if (actor.team_id.empty()) return Relation::other;
  auto owner = store.find_worker(owner_id);
  if (!owner.ok()) return owner.status();
  if (!*owner || (*owner)->team_id.empty()) return Relation::other;
  if ((*owner)->team_id == actor.team_id) return Relation::team;
  auto mine = store.find_team(actor.team_id);
  if (!mine.ok()) return mine.status();
  auto theirs = store.find_team((*owner)->team_id);
  if (!theirs.ok()) return theirs.status();
  if (*mine && *theirs && (*mine)->area_id == (*theirs)->area_id) return Relation::area;
  return Relation::other;
}

AccessService::AccessService(ServerStore& store, const Clock& clock, AccessOptions options)
    : store_(store), clock_(clock), options_(options) {}

AccessService::~AccessService() = default;

Status AccessService::audit(AuditEvent event) {
  event.id = new_uuid_v7(clock_);
  event.at = format_iso_datetime(clock_.wall());
  return store_.append_audit(event);
}

Result<Enrolled> AccessService::enroll(std::string_view code, std::string_view device_name,
                                       std::string_view source) {
  if (device_name.empty() || device_name.size() > 100 || !is_valid_utf8(device_name)) {
    return Status(Errc::invalid_argument, "device_name must be 1 to 100 bytes of UTF-8");
  }
  for (unsigned char c : device_name) {
    if (c < 0x20 || c == 0x7f) {
      return Status(Errc::invalid_argument, "device_name contains control characters");
    }
  }
  auto token = new_device_token();
  if (!token.ok()) return token.status();
  std::lock_guard lock(mu_);
  const auto now = clock_.wall();
  const std::int64_t now_ms = to_ms(now);
  const std::int64_t window_start =
      now_ms - std::chrono::duration_cast<std::chrono::milliseconds>(options_.source_window).count();
  const std::string source_text = "from " + std::string(source);
  if (!options_.code_secret) {
    return Status(Errc::internal, "the server secret for enrollment codes is not loaded");
  }
  Enrolled enrolled;
  std::string failure;  // why the code was refused (audit only)
  std::string code_worker;
  bool source_locked = false;
  auto check = [&]() -> Status {
    auto normal = normalise_enrollment_code(code);
    if (!normal) {
      failure = "malformed code";
      return {};
    }
    const StoredCode typed = stored_enrollment_code(*options_.code_secret, *normal);
    auto found = store_.find_enrollment(typed.lookup);
    if (!found.ok()) return found.status();
    if (!*found) {
      failure = "unknown code";
      return {};
    }
    EnrollmentCode& c = **found;
    code_worker = c.worker_id;
    const std::string which = "code " + c.id;
    if (!c.used_at.empty()) {
      failure = which + " was already used";
    } else if (c.failed_attempts >= options_.enrollment_attempts) {
      failure = which + " is locked after " + std::to_string(c.failed_attempts) + " wrong guesses";
    } else if (iso_ms(c.expires_at) <= now_ms) {
      failure = which + " expired at " + c.expires_at;
    } else if (c.code_hash.size() != typed.code_hash.size() ||
               sodium_memcmp(c.code_hash.data(), typed.code_hash.data(), typed.code_hash.size()) !=
                   0) {
      ++c.failed_attempts;
      FC_TRY(store_.update_enrollment(c));
      failure = which + ": wrong code (" + std::to_string(c.failed_attempts) + " of " +
                std::to_string(options_.enrollment_attempts) + " guesses)";
    }
    if (!failure.empty()) return {};
    auto worker = store_.find_worker(c.worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker || !(*worker)->active) {
      failure = which + ": the worker is not active";
      return {};
    }
    // Separation of duties (admin.hpp): no device while a role grant awaits approval.
    auto waiting = store_.pending_role_grant(c.worker_id);
    if (!waiting.ok()) return waiting.status();
    if (*waiting) {
      failure = which + ": the worker's role awaits approval (grant " + (*waiting)->id + ")";
      return {};
    }
    Device d;
    d.id = new_uuid_v7(clock_);
    d.worker_id = c.worker_id;
    d.name = std::string(device_name);
    d.created_at = format_iso_datetime(now);
    FC_TRY(store_.insert_device(d, token_hash(*token)));
    c.used_at = d.created_at;
    c.device_id = d.id;
    FC_TRY(store_.update_enrollment(c));
    enrolled = Enrolled{d.id, c.worker_id, (*worker)->role, *token};
    return audit({"", "", "enroll", d.id, c.worker_id, "", "", which + "; " + source_text});
  };
  // One IMMEDIATE transaction from the address's count to its new failure: enrollments from
  // other server processes on the database wait, so the count cannot be passed by a burst.
  Status st = store_.transaction([&]() -> Status {
    auto recent = store_.enrollment_failures(source, window_start);
    if (!recent.ok()) return recent.status();
    if (*recent >= options_.source_failures) {
      source_locked = true;
      return {};
    }
    FC_TRY(check());
    if (failure.empty()) return {};
    return store_.add_enrollment_failure(source, now_ms, window_start);
  });
  if (!st.ok()) return st;
  if (source_locked) {
    FC_TRY(audit({"", "", "enroll", "", "", "", "", source_text + ": too many failed attempts", "",
                  "refused"}));
    return Status(Errc::too_many_attempts,
                  "too many failed enrollment attempts from this address; try again later");
  }
  if (!failure.empty()) {
    FC_TRY(audit(
        {"", "", "enroll", "", code_worker, "", "", failure + "; " + source_text, "", "refused"}));
    return Status(Errc::unauthenticated, std::string(kNotValid));
  }
  return enrolled;
}

Result<SignedIn> AccessService::sign_in(std::string_view worker_id, std::string_view password,
                                        std::string_view source) {
  const std::string source_text = "from " + std::string(source);
  // Unknown, locked, no password, wrong password, inactive: one answer, so nobody learns from
  // it whether a worker id exists or is locked. The audit entry says which it was.
  const Status refused(Errc::unauthenticated, std::string(kSignInRefused));
  std::optional<Worker> worker;
  std::optional<SignInAttempt> attempt;
  {
    std::lock_guard lock(mu_);
    auto found = is_uuid(worker_id) ? store_.find_worker(worker_id)
                                    : Result<std::optional<Worker>>(std::optional<Worker>());
    if (!found.ok()) return found.status();
    worker = std::move(*found);
    if (worker) {
      // Counted before the password is checked, in one atomic step in the database: however
      // many attempts run at once, in this process or another, at most `signin_failures` of
      // them since the last success reach a check; the rest find the account locked.
      const auto now = clock_.wall();
      auto counted =
          store_.begin_sign_in(worker->id, format_iso_datetime(now), options_.signin_failures,
                               format_iso_datetime(now + options_.lockout));
      if (!counted.ok()) return counted.status();
      attempt = std::move(*counted);
    }
  }
  // The expensive check runs outside the lock, one at a time. An unknown worker, a locked one
  // or one without a password costs the same as a wrong password.
  bool good = false;
  {
    std::lock_guard hashing(hash_mu_);
    if (attempt && !attempt->password_hash.empty()) {
      good = verify_password(attempt->password_hash, password);
    } else {
      static const std::string dummy = [this] {
        auto h = hash_password("not a real password at all", options_);
        return h.ok() ? *h : std::string();
      }();
      (void)verify_password(dummy, password);
    }
  }
  std::lock_guard lock(mu_);
  const auto now = clock_.wall();
  if (!worker) {
    FC_TRY(audit(
        {"", "", "sign_in", "", "", "", "", "unknown worker; " + source_text, "", "refused"}));
    return refused;
  }
  if (!attempt) {
    FC_TRY(audit(
        {"", "", "sign_in", "", worker->id, "", "", "locked; " + source_text, "", "refused"}));
    return refused;
  }
  const std::string count = " (attempt " + std::to_string(attempt->number) + " of " +
                            std::to_string(options_.signin_failures) + ")";
  if (!good || !worker->active) {
    std::string why = !good ? "wrong password" : "the worker is not active";
    why += count;
    if (attempt->number >= options_.signin_failures) {
      why += "; account locked for " + std::to_string(options_.lockout.count()) + " minutes";
    }
    FC_TRY(audit(
        {"", "", "sign_in", "", worker->id, "", "", why + "; " + source_text, "", "refused"}));
    return refused;
  }
  auto raw = new_device_token();  // 32 random bytes, base64url: the session id
  if (!raw.ok()) return raw.status();
  SignedIn out;
  out.session_id = *raw;
  out.csrf_token = csrf_of(out.session_id);
  out.worker = *worker;
  out.expires_at = format_iso_datetime(now + options_.session_absolute);
  bool locked = false;
  Status st = store_.transaction([&]() -> Status {
    // The lock is checked again, with the reset, in one step: an account that other attempts
    // locked while this password was being checked stays locked.
    const std::string at = format_iso_datetime(now);
    auto ended = store_.end_sign_in(worker->id, attempt->number, at);
    if (!ended.ok()) return ended.status();
    if (!*ended) {
      locked = true;
      return audit({"", "", "sign_in", "", worker->id, "", "",
                    "locked while the password was checked" + count + "; " + source_text, "",
                    "refused"});
    }
    FC_TRY(store_.insert_session({token_hash(out.session_id), worker->id, at, at, out.expires_at}));
    return audit({"", "", "sign_in", "", worker->id, "", "", source_text});
  });
  if (!st.ok()) return st;
  if (locked) return refused;
  return out;
}

Result<std::optional<Session>> AccessService::session(std::string_view session_id, bool activity) {
  if (!looks_like_token(session_id)) return std::optional<Session>();
  const std::string id_hash = token_hash(session_id);
  std::lock_guard lock(mu_);
  auto found = store_.find_session(id_hash);
  if (!found.ok()) return found.status();
  if (!*found) return std::optional<Session>();
  const auto now = clock_.wall();
  const std::int64_t now_ms = to_ms(now);
  const std::int64_t idle_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(options_.session_idle).count();
  const bool expired =
      iso_ms((*found)->expires_at) <= now_ms || iso_ms((*found)->last_seen_at) + idle_ms <= now_ms;
  auto worker = store_.find_worker((*found)->worker_id);
  if (!worker.ok()) return worker.status();
  if (expired || !*worker || !(*worker)->active) {
    FC_TRY(store_.delete_session(id_hash));
    return std::optional<Session>();
  }
  // The idle clock restarts; written at most once a minute to spare the database.
  if (activity && now_ms - iso_ms((*found)->last_seen_at) >= 60'000) {
    FC_TRY(store_.touch_session(id_hash, format_iso_datetime(now)));
  }
  return std::optional<Session>(
      Session{std::move(**worker), id_hash, csrf_of(session_id), (*found)->expires_at});
}

Status AccessService::sign_out(std::string_view session_id) {
  if (!looks_like_token(session_id)) return {};
  const std::string id_hash = token_hash(session_id);
  std::lock_guard lock(mu_);
  return store_.transaction([&]() -> Status {
    auto found = store_.find_session(id_hash);
    if (!found.ok()) return found.status();
    if (!*found) return {};
    FC_TRY(store_.delete_session(id_hash));
    return audit({"", "", "sign_out", "", (*found)->worker_id, "", "", ""});
  });
}

bool AccessService::csrf_matches(std::string_view session_id, std::string_view token) {
  const std::string expected = csrf_of(session_id);
  return token.size() == expected.size() &&
         sodium_memcmp(expected.data(), token.data(), expected.size()) == 0;
}

Result<CaseContent> AccessService::read_case(const Worker& actor, std::string_view case_id) {
  if (!is_uuid(case_id)) return Status(Errc::not_found, "no case " + std::string(case_id));
  std::lock_guard lock(mu_);
  CaseContent out;
  out.case_id = std::string(case_id);
  bool refused = false;
  Status st = store_.transaction([&]() -> Status {
    auto relation = case_relation(store_, actor, case_id);
    if (!relation.ok()) return relation.status();
    out.relation = *relation;
    const bool intake = permits(actor.role, Action::read_intake, *relation);
    const bool casework = permits(actor.role, Action::read_casework, *relation);
    if (!intake && !casework) {
      // Committed as the transaction's only change: the refusal stays on record.
      refused = true;
      return audit({"", "", "permission_refused", "", actor.id, std::string(case_id), "",
                    "read case (" + std::string(to_string(actor.role)) + ", " +
                        std::string(to_string(*relation)) + ")",
                    "", "refused", std::string(to_string(*relation))});
    }
    auto records = store_.case_records(case_id);
    if (!records.ok()) return records.status();
    auto allocation = store_.find_allocation(case_id);
    if (!allocation.ok()) return allocation.status();
    if (records->empty() && !*allocation) {
      return {Errc::not_found, "no case " + std::string(case_id)};
    }
    for (auto& r : *records) {
      if (r.deleted) continue;
      if (permits(actor.role, read_action(r.kind), *relation)) out.records.push_back(std::move(r));
    }
    return audit({"", "", "case_read", "", actor.id, std::string(case_id), "",
                  std::to_string(out.records.size()) + " records over the web", "", "ok",
                  std::string(to_string(*relation))});
  });
  if (!st.ok()) return st;
  if (refused) return Status(Errc::forbidden, "your role does not permit reading this case");
  return out;
}

Status AccessService::require(const Worker& actor, Action action, std::string_view what) {
  if (permits(actor.role, action, Relation::none)) return {};
  std::lock_guard lock(mu_);
  FC_TRY(
      audit({"", "", "permission_refused", "", actor.id, "", "",
             std::string(what) + " (" + std::string(to_string(actor.role)) + ")", "", "refused"}));
  return {Errc::forbidden, "your role does not permit this"};
}

Status AccessService::administer(const Worker& actor, const std::function<Status(Admin&)>& fn) {
  std::lock_guard lock(mu_);
  Admin admin(store_, clock_);
  admin.set_actor(actor);
  if (options_.code_secret) admin.set_code_secret(*options_.code_secret);
  return fn(admin);
}

Result<std::vector<AuditEvent>> AccessService::query_audit(const AuditQuery& query) {
  std::lock_guard lock(mu_);
  return store_.query_audit(query);
}

Result<AuditVerification> AccessService::verify_audit() {
  std::lock_guard lock(mu_);
  return store_.verify_audit();
}

}  // namespace fieldcase::server
