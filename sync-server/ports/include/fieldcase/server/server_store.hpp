// The sync server's storage: every port (ports/*.hpp), one per aggregate, behind one object.
//
// A store implements every port on one database; the application layer (app/) takes the store
// and uses the ports it needs. SqliteServerStore is the embedded default (one process, or a
// few on one machine); PostgresServerStore serves several server instances sharing a database.
// Each port's header states its isolation and atomicity contract; one contract suite
// (tests/server/store_contract_test.cpp) proves both implementations against it.
//
// Thread-safety: the implementation's (see its header).
#pragma once

#include "fieldcase/server/ports/unit_of_work.hpp"
#include "fieldcase/server/ports/organisation_store.hpp"
#include "fieldcase/server/ports/credential_store.hpp"
#include "fieldcase/server/ports/role_grant_store.hpp"
#include "fieldcase/server/ports/enrollment_store.hpp"
#include "fieldcase/server/ports/session_store.hpp"
#include "fieldcase/server/ports/device_store.hpp"
#include "fieldcase/server/ports/change_log.hpp"
#include "fieldcase/server/ports/case_store.hpp"
#include "fieldcase/server/ports/idempotency_store.hpp"
#include "fieldcase/server/ports/conflict_store.hpp"
#include "fieldcase/server/ports/claimed_time_store.hpp"
#include "fieldcase/server/ports/figure_fact_store.hpp"
#include "fieldcase/server/ports/audit_log.hpp"
#include "fieldcase/server/ports/figure_change_log.hpp"
#include "fieldcase/server/ports/request_counters.hpp"

namespace fieldcase::server {

class ServerStore : public UnitOfWork,
                    public OrganisationStore,
                    public CredentialStore,
                    public RoleGrantStore,
                    public EnrollmentStore,
                    public SessionStore,
                    public DeviceStore,
                    public ChangeLog,
                    public CaseStore,
                    public IdempotencyStore,
                    public ConflictStore,
                    public ClaimedTimeStore,
                    public FigureFactStore,
                    public AuditLog,
                    public FigureChangeLog,
                    public RequestCounters {
 public:
  ~ServerStore() override = default;
};

}  // namespace fieldcase::server
