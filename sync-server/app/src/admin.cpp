#include "fieldcase/server/admin.hpp"

#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/permissions.hpp"
#include "fieldcase/server/tokens.hpp"
#include "server_changes.hpp"

namespace fieldcase::server {
namespace {

Status check_name(std::string_view what, std::string_view name) {
  if (name.empty()) return {Errc::invalid_argument, std::string(what) + " name is required"};
  if (name.size() > 200) return {Errc::invalid_argument, std::string(what) + " name is too long"};
  if (!is_valid_utf8(name))
    return {Errc::invalid_argument, std::string(what) + " name is not UTF-8"};
  for (unsigned char c : name) {
    if (c < 0x20 || c == 0x7f) {
      return {Errc::invalid_argument, std::string(what) + " name contains control characters"};
    }
  }
  return {};
}

}  // namespace

Admin::Admin(ServerStore& store, const Clock& clock)
    : store_(store), clock_(clock), hlc_(clock, new_server_node()) {}

std::string Admin::now() const { return format_iso_datetime(clock_.wall()); }

Status Admin::audit(std::string_view event, std::string_view device_id, std::string_view worker_id,
                    std::string_view case_id, std::string_view detail, std::string_view outcome) {
  std::string full(detail);
  full += (full.empty() ? "by " : "; by ") + actor_;
  return store_.append_audit({new_uuid_v7(clock_), now(), std::string(event),
                              std::string(device_id), std::string(worker_id), std::string(case_id),
                              "", full, "", std::string(outcome)});
}

Status Admin::refused(std::string_view event, std::string_view worker_id, std::string_view detail,
                      Status why) {
  FC_TRY(store_.transaction(
      [&] { return audit(event, "", worker_id, "", std::string(detail), "refused"); }));
  return why;
}

namespace {

std::string awaiting(const RoleGrant& g) {
  return "the worker's role " + std::string(to_string(g.role)) + " awaits a second person's " +
         "approval (grant " + g.id + ")";
}

}  // namespace

Result<std::string> Admin::create_authority(std::string_view name, std::string_view la_code) {
  FC_TRY(check_name("the authority", name));
  if (la_code.size() != 3 || la_code.find_first_not_of("0123456789") != std::string_view::npos) {
    return Status(Errc::invalid_argument, "the LA code must be three digits");
  }
  std::string id = new_uuid_v7(clock_);
  Status st = store_.transaction([&]() -> Status {
    auto existing = store_.find_authority();
    if (!existing.ok()) return existing.status();
    if (*existing) {
      return {Errc::already_exists,
              "this server already has an authority (" + (*existing)->id + ")"};
    }
    FC_TRY(store_.insert_authority({id, std::string(name), std::string(la_code), now()}));
    return audit("authority_create", "", "", "", id);
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::string> Admin::create_area(std::string_view name) {
  FC_TRY(check_name("the area", name));
  std::string id = new_uuid_v7(clock_);
  Status st = store_.transaction([&]() -> Status {
    auto authority = store_.find_authority();
    if (!authority.ok()) return authority.status();
    if (!*authority) return {Errc::not_found, "create the authority first"};
    FC_TRY(store_.insert_area({id, std::string(name), (*authority)->id, now()}));
    return audit("area_create", "", "", "", id);
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::string> Admin::create_team(std::string_view name, std::string_view area_id) {
  FC_TRY(check_name("the team", name));
  std::string id = new_uuid_v7(clock_);
  Status st = store_.transaction([&]() -> Status {
    auto area = store_.find_area(area_id);
    if (!area.ok()) return area.status();
    if (!*area) return {Errc::not_found, "no area " + std::string(area_id)};
    FC_TRY(store_.insert_team({id, std::string(name), std::string(area_id), now()}));
    return audit("team_create", "", "", "", id);
  });
  if (!st.ok()) return st;
  return id;
}

Result<std::string> Admin::create_worker(std::string_view name, Role role,
                                         std::string_view team_id) {
  FC_TRY(check_name("the worker", name));
  if (team_id.empty() && (role == Role::team_manager || role == Role::area_manager)) {
    return Status(Errc::invalid_argument,
                  std::string("a ") + std::string(to_string(role)) + " needs a team");
  }
  std::string id = new_uuid_v7(clock_);
  // Over the web, a worker who would reach case data waits, inactive, for a second person.
  const bool needs_second = web_actor_ && reads_case_data(role);
  Status st = store_.transaction([&]() -> Status {
    if (!team_id.empty()) {
      auto team = store_.find_team(team_id);
      if (!team.ok()) return team.status();
      if (!*team) return {Errc::not_found, "no team " + std::string(team_id)};
    }
    Worker w;
    w.id = id;
    w.name = std::string(name);
    w.role = role;
    w.team_id = std::string(team_id);
    w.active = !needs_second;
    w.created_at = now();
    FC_TRY(store_.insert_worker(w));
    if (!needs_second) return audit("worker_create", "", id, "", to_string(role));
    RoleGrant g;
    g.id = new_uuid_v7(clock_);
    g.worker_id = id;
    g.role = role;
    g.requested_by = actor_;
    g.requested_at = w.created_at;
    FC_TRY(store_.insert_role_grant(g));
    FC_TRY(audit("worker_create", "", id, "",
                 std::string(to_string(role)) + ", inactive until grant " + g.id + " is approved"));
    return audit("role_grant_request", "", id, "",
                 "grant " + g.id + ": new worker as " + std::string(to_string(role)));
  });
  if (!st.ok()) return st;
  return id;
}

Status Admin::allocate(std::string_view case_id, std::string_view worker_id) {
  if (!is_uuid(case_id)) return {Errc::invalid_argument, "the case id must be a child's UUID"};
  return store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    if (!(*worker)->active) return {Errc::invalid_argument, "the worker is not active"};
    if (!permits((*worker)->role, Action::write_intake, Relation::own)) {
      return {Errc::invalid_argument,
              "a " + std::string(to_string((*worker)->role)) + " cannot hold cases"};
    }
    auto previous = store_.find_allocation(case_id);
    if (!previous.ok()) return previous.status();
    if (*previous && (*previous)->worker_id == worker_id) return {};
    const std::string at = now();
    auto seq = store_.reserve_seqs(1);
    if (!seq.ok()) return seq.status();
    const std::string previous_worker = *previous ? (*previous)->worker_id : std::string();
    FC_TRY(store_.put_allocation({std::string(case_id), std::string(worker_id), *seq, at},
                                 previous_worker));
    FC_TRY(audit(*previous ? "reallocate" : "allocate", "", worker_id, case_id,
                 previous_worker.empty() ? "" : "from " + previous_worker));

    auto child = store_.find_record(case_id);
    if (!child.ok()) return child.status();
    if (*child && (*child)->kind == RecordKind::child) {
      auto fixups = detail::allocation_fixups(store_, hlc_, **child);
      if (!fixups.ok()) return fixups.status();
      FC_TRY(detail::apply_server_changes(store_, **child, *fixups, at));
    }
    // The devices that now see the case must receive all of it, whatever their cursors.
    if (*previous) FC_TRY(detail::append_case_snapshot(store_, case_id, at));
    return {};
  });
}

Status Admin::send_cases(std::string_view worker_id) {
  return store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    auto cases = store_.visible_cases(**worker);
    if (!cases.ok()) return cases.status();
    const std::string at = now();
    for (const auto& case_id : *cases) FC_TRY(detail::append_case_snapshot(store_, case_id, at));
    return audit("cases_send", "", worker_id, "", std::to_string(cases->size()) + " cases");
  });
}

Result<IssuedDevice> Admin::issue_device(std::string_view worker_id) {
  auto token = new_device_token();
  if (!token.ok()) return token.status();
  IssuedDevice issued{new_uuid_v7(clock_), std::move(*token)};
  std::optional<RoleGrant> pending;
  Status st = store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    auto waiting = store_.pending_role_grant(worker_id);
    if (!waiting.ok()) return waiting.status();
    if (*waiting) {
      pending = std::move(*waiting);
      return {};
    }
    if (!(*worker)->active) return {Errc::invalid_argument, "the worker is not active"};
    Device d;
    d.id = issued.device_id;
    d.worker_id = std::string(worker_id);
    d.created_at = now();
    FC_TRY(store_.insert_device(d, token_hash(issued.token)));
    return audit("device_issue", d.id, worker_id, "", "");
  });
  if (!st.ok()) return st;
  if (pending) {
    return refused("device_issue", worker_id, awaiting(*pending),
                   {Errc::forbidden, awaiting(*pending)});
  }
  return issued;
}

Status Admin::revoke_device(std::string_view device_id) {
  return store_.transaction([&]() -> Status {
    auto device = store_.find_device(device_id);
    if (!device.ok()) return device.status();
    if (!*device) return {Errc::not_found, "no device " + std::string(device_id)};
    if ((*device)->status == DeviceStatus::revoked) return {};
    const std::string was(to_string((*device)->status));
    (*device)->status = DeviceStatus::revoked;
    (*device)->revoked_at = now();
    FC_TRY(store_.update_device(**device));
    return audit("device_revoke", device_id, (*device)->worker_id, "", "was " + was);
  });
}

Status Admin::retire_device(std::string_view device_id) {
  return store_.transaction([&]() -> Status {
    auto device = store_.find_device(device_id);
    if (!device.ok()) return device.status();
    if (!*device) return {Errc::not_found, "no device " + std::string(device_id)};
    switch ((*device)->status) {
      case DeviceStatus::revoked:
        return {Errc::invalid_argument, "the device is revoked; it cannot be retired"};
      case DeviceStatus::retiring:
      case DeviceStatus::retired:
        return {};
      case DeviceStatus::active:
        break;
    }
    (*device)->status = DeviceStatus::retiring;
    FC_TRY(store_.update_device(**device));
    return audit("device_retire", device_id, (*device)->worker_id, "", "");
  });
}

Status Admin::deactivate_worker(std::string_view worker_id) {
  return store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    if ((*worker)->active) {
      FC_TRY(store_.set_worker_active(worker_id, false));
      FC_TRY(audit("worker_deactivate", "", worker_id, "", ""));
    }
    // A grant still waiting would otherwise make the leaver active (or raise them) later.
    auto waiting = store_.pending_role_grant(worker_id);
    if (!waiting.ok()) return waiting.status();
    if (*waiting) {
      RoleGrant g = std::move(**waiting);
      g.state = "refused";
      g.decided_by = actor_;
      g.decided_at = now();
      FC_TRY(store_.decide_role_grant(g));
      FC_TRY(
          audit("role_grant_refuse", "", worker_id, "", "grant " + g.id + ": worker deactivated"));
    }
    // Sessions go even when the worker was already inactive (one could have survived an
    // older build's deactivation).
    FC_TRY(store_.delete_sessions_of(worker_id));
    auto devices = store_.list_devices();
    if (!devices.ok()) return devices.status();
    for (auto& d : *devices) {
      // A retiring device keeps its chance to deliver the worker's last work, then wipes.
      if (d.worker_id != worker_id || d.status != DeviceStatus::active) continue;
      const std::string was(to_string(d.status));
      d.status = DeviceStatus::revoked;
      d.revoked_at = now();
      FC_TRY(store_.update_device(d));
      FC_TRY(audit("device_revoke", d.id, worker_id, "", "worker deactivated; was " + was));
    }
    return {};
  });
}

Result<std::vector<Device>> Admin::list_devices() { return store_.list_devices(); }

Result<std::vector<Worker>> Admin::list_workers() { return store_.list_workers(); }

Result<std::optional<RoleGrant>> Admin::set_role(std::string_view worker_id, Role role) {
  const std::string change = "to " + std::string(to_string(role));
  if (web_actor_ && worker_id == web_actor_->id) {
    return refused("worker_role_set", worker_id, change + ": nobody changes their own role",
                   {Errc::forbidden, "nobody changes their own role"});
  }
  std::optional<RoleGrant> pending;
  std::optional<RoleGrant> grant;
  Status st = store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    auto waiting = store_.pending_role_grant(worker_id);
    if (!waiting.ok()) return waiting.status();
    if (*waiting) {
      pending = std::move(*waiting);
      return {};
    }
    if ((*worker)->role == role) return {};
    if ((*worker)->team_id.empty() && (role == Role::team_manager || role == Role::area_manager)) {
      return {Errc::invalid_argument, std::string("a ") + std::string(to_string(role)) +
                                          " needs a team"};
    }
    if (!permits(role, Action::write_intake, Relation::own)) {
      Worker holder = **worker;
      holder.role = Role::social_worker;  // own allocations only
      auto held = store_.visible_cases(holder);
      if (!held.ok()) return held.status();
      if (!held->empty()) {
        return {Errc::invalid_argument, "the worker holds " + std::to_string(held->size()) +
                                            " cases: reallocate them first"};
      }
    }
    const std::string from(to_string((*worker)->role));
    if (web_actor_ && widens_case_access((*worker)->role, role)) {
      RoleGrant g;
      g.id = new_uuid_v7(clock_);
      g.worker_id = std::string(worker_id);
      g.role = role;
      g.from_role = from;
      g.requested_by = actor_;
      g.requested_at = now();
      FC_TRY(store_.insert_role_grant(g));
      grant = g;
      return audit("role_grant_request", "", worker_id, "",
                   "grant " + g.id + ": " + from + " " + change);
    }
    FC_TRY(store_.set_worker_role(worker_id, role));
    FC_TRY(store_.delete_sessions_of(worker_id));
    return audit("worker_role_set", "", worker_id, "", from + " " + change);
  });
  if (!st.ok()) return st;
  if (pending) {
    return refused("worker_role_set", worker_id, change + ": " + awaiting(*pending),
                   {Errc::already_exists, awaiting(*pending) + ": approve or refuse it first"});
  }
  return grant;
}

Result<std::vector<RoleGrant>> Admin::pending_grants() { return store_.pending_role_grants(); }

Result<std::optional<RoleGrant>> Admin::pending_grant(std::string_view worker_id) {
  return store_.pending_role_grant(worker_id);
}

Status Admin::approve_grant(std::string_view grant_id) { return decide_grant(grant_id, true); }

Status Admin::refuse_grant(std::string_view grant_id) { return decide_grant(grant_id, false); }

Status Admin::decide_grant(std::string_view grant_id, bool approve) {
  const std::string event = approve ? "role_grant_approve" : "role_grant_refuse";
  if (web_actor_ && !permits(web_actor_->role, Action::approve_roles, Relation::none)) {
    return refused(event, "", "grant " + std::string(grant_id) + ": the role may not decide",
                   {Errc::forbidden, "your role does not permit deciding role grants"});
  }
  auto found = store_.find_role_grant(grant_id);
  if (!found.ok()) return found.status();
  if (!*found) return {Errc::not_found, "no role grant " + std::string(grant_id)};
  RoleGrant g = std::move(**found);
  const std::string which =
      "grant " + g.id + ": " + (g.from_role.empty() ? std::string("new worker") : g.from_role) +
      " to " + std::string(to_string(g.role)) + ", requested by " + g.requested_by;
  if (approve && web_actor_ && web_actor_->id == g.requested_by) {
    return refused(event, g.worker_id, which + ": the requester may not approve it",
                   {Errc::forbidden, "a second person must approve this grant, not its requester"});
  }
  if (approve && web_actor_ && web_actor_->id == g.worker_id) {
    return refused(event, g.worker_id, which + ": the worker it concerns may not approve it",
                   {Errc::forbidden, "nobody approves a role for themselves"});
  }
  if (g.state != "pending") {
    return {Errc::invalid_argument, "grant " + g.id + " was already " + g.state};
  }
  return store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(g.worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + g.worker_id};
    g.state = approve ? "approved" : "refused";
    g.decided_by = actor_;
    g.decided_at = now();
    FC_TRY(store_.decide_role_grant(g));
    FC_TRY(audit(event, "", g.worker_id, "", which));
    if (!approve) return {};
    // A worker the grant created already holds the role: they become active.
    if (g.from_role.empty()) return store_.set_worker_active(g.worker_id, true);
    if (!(*worker)->active) return {Errc::invalid_argument, "the worker is not active"};
    FC_TRY(store_.set_worker_role(g.worker_id, g.role));
    FC_TRY(store_.delete_sessions_of(g.worker_id));
    return audit("worker_role_set", "", g.worker_id, "",
                 std::string(to_string((*worker)->role)) + " to " + std::string(to_string(g.role)) +
                     "; grant " + g.id + " approved");
  });
}

Status Admin::set_password(std::string_view worker_id, std::string_view password,
                           const AccessOptions& options) {
  FC_TRY(check_password_policy(password));
  auto hash = hash_password(password, options);
  if (!hash.ok()) return hash.status();
  return store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    FC_TRY(store_.put_credentials(worker_id, WorkerCredentials{*hash, 0, ""}));
    FC_TRY(store_.delete_sessions_of(worker_id));
    return audit("password_set", "", worker_id, "", "");
  });
}

Result<IssuedEnrollment> Admin::issue_enrollment_code(std::string_view worker_id,
                                                      std::chrono::hours ttl) {
  IssuedEnrollment issued;
  std::optional<RoleGrant> pending;
  Status st = store_.transaction([&]() -> Status {
    auto worker = store_.find_worker(worker_id);
    if (!worker.ok()) return worker.status();
    if (!*worker) return {Errc::not_found, "no worker " + std::string(worker_id)};
    auto waiting = store_.pending_role_grant(worker_id);
    if (!waiting.ok()) return waiting.status();
    if (*waiting) {
      pending = std::move(*waiting);
      return {};
    }
    if (!(*worker)->active) return {Errc::invalid_argument, "the worker is not active"};
    if (!code_secret_) {
      return {Errc::internal, "the server secret for enrollment codes is not loaded"};
    }
    // The first group finds the code (attempts are counted against it): draw again while an
    // unused code already starts with it.
    for (int tries = 0; tries < 20; ++tries) {
      auto code = new_enrollment_code();
      if (!code.ok()) return code.status();
      const std::string normal = *normalise_enrollment_code(*code);
      const StoredCode stored = stored_enrollment_code(*code_secret_, normal);
      auto clash = store_.find_enrollment(stored.lookup);
      if (!clash.ok()) return clash.status();
      if (*clash && (*clash)->used_at.empty()) continue;
      issued.code = *code;
      EnrollmentCode c;
      c.id = new_uuid_v7(clock_);
      c.lookup = stored.lookup;
      c.code_hash = stored.code_hash;
      c.worker_id = std::string(worker_id);
      c.created_at = now();
      c.expires_at = format_iso_datetime(clock_.wall() + ttl);
      issued.id = c.id;
      issued.worker_id = c.worker_id;
      issued.expires_at = c.expires_at;
      FC_TRY(store_.insert_enrollment(c));
      return audit("enrollment_code_issue", "", worker_id, "", "code " + c.id);
    }
    return {Errc::internal, "could not draw an unused enrollment code"};
  });
  if (!st.ok()) return st;
  if (pending) {
    return refused("enrollment_code_issue", worker_id, awaiting(*pending),
                   {Errc::forbidden, awaiting(*pending)});
  }
  return issued;
}

}  // namespace fieldcase::server
