// Transport security of the real fieldcase-server: HTTPS with a certificate from a throwaway CA
// made here with the openssl command (no key is checked in), the client's certificate checks
// (system store, a CA file, public-key pins), and plain HTTP refused beyond loopback.
#include <ifaddrs.h>
#include <netinet/in.h>

#include <httplib.h>

#include <fstream>
#include <optional>

#include "fieldcase/ids.hpp"
#include "fieldcase/platform/http_transport.hpp"
#include "fieldcase/record_schema.hpp"
#include "fieldcase/server/sqlite_server_store.hpp"
#include "fieldcase/sync_protocol.hpp"
#include "server_process.hpp"

using namespace fieldcase;
using namespace fieldcase::test;

namespace {

void openssl(const TempDir& dir, const std::vector<std::string>& args) {
  Run r = run_program("openssl", args, dir);
  INFO("openssl " << Catch::Detail::stringify(args) << "\n" << r.err);
  REQUIRE(r.exit_code == 0);
}

// A CA and a server certificate for 127.0.0.1 signed by it, valid for two days.
struct TestPki {
  std::string ca, ca_key, cert, key;
  TestPki(const TempDir& dir, const std::string& name) {
    const std::string p = (dir / name).string();
    ca = p + "-ca.pem";
    ca_key = p + "-ca.key";
    cert = p + "-server.pem";
    key = p + "-server.key";
    const std::string csr = p + "-server.csr", ext = p + "-ext.cnf";
    openssl(dir, {"req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", ca_key, "-out", ca, "-days", "2", "-subj",
                  "/CN=fieldcase test CA " + name});
    openssl(dir, {"req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
                  "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"});
    std::ofstream(ext) << "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n";
    openssl(dir, {"x509", "-req", "-in", csr, "-CA", ca, "-CAkey", ca_key, "-CAcreateserial",
                  "-out", cert, "-days", "2", "-extfile", ext});
  }
};

// The first non-loopback IPv4 address of this machine, if it has one.
std::optional<std::string> external_ipv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return std::nullopt;
  std::optional<std::string> found;
  for (ifaddrs* i = list; i != nullptr && !found; i = i->ifa_next) {
    if (i->ifa_addr == nullptr || i->ifa_addr->sa_family != AF_INET) continue;
    char text[INET_ADDRSTRLEN];
    const auto* in = reinterpret_cast<sockaddr_in*>(i->ifa_addr);
    if (inet_ntop(AF_INET, &in->sin_addr, text, sizeof text) == nullptr) continue;
    if (std::string_view(text).starts_with("127.")) continue;
    found = text;
  }
  freeifaddrs(list);
  return found;
}

struct Org {
  TempDir dir;
  std::string token;
  Org() {
    admin(dir, {"authority", "create", "--name", "City", "--la-code", "123"});
    const std::string area = admin(dir, {"area", "create", "--name", "North"});
    const std::string team = admin(dir, {"team", "create", "--name", "A", "--area", area});
    const std::string w = admin(
        dir, {"worker", "create", "--name", "Ann", "--role", "social_worker", "--team", team});
    const std::string issued = admin(dir, {"device", "issue", "--worker", w});
    token = issued.substr(issued.find(' ') + 1);
  }
};

std::string empty_request() {
  sync::SyncRequest req;
  req.device_time = format_iso_datetime(std::chrono::system_clock::now());
  return sync::encode(req);
}

Result<HttpResponse> post_with(platform::HttpTransportOptions options, const std::string& token) {
  options.connect_timeout = std::chrono::seconds(5);
  options.read_timeout = std::chrono::seconds(10);
  platform::HttpTransport transport(options);
  return transport.post("/v1/sync", empty_request(), token);
}

}  // namespace

TEST_CASE("tls: the client trusts the configured CA, refuses others and checks pins",
          "[security][tls]") {
  Org org;
  TestPki pki(org.dir, "good");
  TestPki rogue(org.dir, "rogue");
  ServerProcess server(org.dir, {"FIELDCASE_TLS_CERT=" + pki.cert, "FIELDCASE_TLS_KEY=" + pki.key});
  REQUIRE_FALSE(server.exited());
  CHECK_THAT(server.first_line(), Catch::Contains(" listening on https://127.0.0.1:"));
  const std::string url = "https://127.0.0.1:" + std::to_string(server.port());

  platform::HttpTransportOptions trusted;
  trusted.base_url = url;
  trusted.ca_file = pki.ca;
  auto ok = post_with(trusted, org.token);
  INFO(ok.status().to_string());
  REQUIRE(ok.ok());
  CHECK(ok->status == 200);
  CHECK(sync::decode_response(ok->body).ok());

  SECTION("the system CA store does not know the test CA") {
    platform::HttpTransportOptions system = trusted;
    system.ca_file.clear();
    auto refused = post_with(system, org.token);
    CHECK(refused.code() == Errc::io);
    CHECK_THAT(refused.status().message(), Catch::Contains("certificate is not trusted"));
  }
  SECTION("another CA's file does not vouch for this server") {
    platform::HttpTransportOptions other = trusted;
    other.ca_file = rogue.ca;
    auto refused = post_with(other, org.token);
    CHECK(refused.code() == Errc::io);
    CHECK_THAT(refused.status().message(), Catch::Contains("certificate is not trusted"));
  }
  SECTION("the pinned public key must match") {
    auto pin = platform::spki_pin(pki.cert);
    REQUIRE(pin.ok());
    CHECK(pin->size() == 44);
    auto wrong = platform::spki_pin(rogue.cert);
    REQUIRE(wrong.ok());
    platform::HttpTransportOptions pinned = trusted;
    pinned.pins = {*wrong, *pin};  // a standby pin and the current one
    auto accepted = post_with(pinned, org.token);
    INFO(accepted.status().to_string());
    REQUIRE(accepted.ok());
    CHECK(accepted->status == 200);
    pinned.pins = {*wrong};
    auto refused = post_with(pinned, org.token);
    CHECK(refused.code() == Errc::io);
    CHECK_THAT(refused.status().message(), Catch::Contains("does not match the pinned key"));
    CHECK(platform::spki_pin((org.dir / "missing.pem").string()).code() == Errc::not_found);
    CHECK(platform::spki_pin(pki.key).code() == Errc::invalid_argument);
  }
  SECTION("plain HTTP to the HTTPS port gets no answer") {
    platform::HttpTransportOptions plain;
    plain.base_url = "http://127.0.0.1:" + std::to_string(server.port());
    auto r = post_with(plain, org.token);
    CHECK((!r.ok() || r->status == 400));
  }
  CHECK(server.stop() == 0);
}

TEST_CASE("tls: a server with half a TLS configuration or unreadable files does not start",
          "[security][tls]") {
  Org org;
  TestPki pki(org.dir, "good");
  ServerProcess half(org.dir, {"FIELDCASE_TLS_CERT=" + pki.cert});
  REQUIRE(half.exited());
  CHECK(half.exit_code() == 2);
  CHECK_THAT(half.stderr_text(), Catch::Contains("tls_cert and tls_key must be set together"));
  ServerProcess wrong(org.dir, {"FIELDCASE_TLS_CERT=" + pki.cert, "FIELDCASE_TLS_KEY=" + pki.ca});
  REQUIRE(wrong.exited());
  CHECK(wrong.exit_code() == 1);
  CHECK_THAT(wrong.stderr_text(), Catch::Contains("TLS needs both tls_cert and tls_key"));
}

TEST_CASE("tls: plain HTTP is served to loopback only unless explicitly allowed",
          "[security][tls]") {
  Org org;
  const auto external = external_ipv4();
  if (!external) {
    WARN("this machine has no non-loopback IPv4 address; the peer checks are skipped");
    return;
  }
  SECTION("a specific non-loopback address is refused at start") {
    ServerProcess refused(org.dir, {}, *external + ":0");
    REQUIRE(refused.exited());
    CHECK(refused.exit_code() == 1);
    CHECK_THAT(refused.stderr_text(), Catch::Contains("refusing to serve plain HTTP"));
  }
  SECTION("on a wildcard address, non-loopback peers are refused and audited") {
    ServerProcess server(org.dir, {}, "0.0.0.0:0");
    REQUIRE_FALSE(server.exited());
    httplib::Client local("127.0.0.1", server.port());
    auto health = local.Get("/v1/health");
    REQUIRE(health);
    CHECK(health->status == 200);
    httplib::Client remote(*external, server.port());
    auto refused = remote.Post("/v1/sync", {{"Authorization", "Bearer " + org.token}},
                               empty_request(), "application/json");
    REQUIRE(refused);
    CHECK(refused->status == 403);
    auto e = sync::decode_error(refused->body);
    REQUIRE(e.ok());
    CHECK(e->code == "tls_required");
    CHECK(server.stop() == 0);
    auto store = server::SqliteServerStore::open(org.dir / "server.db");
    REQUIRE(store.ok());
    auto audit = (*store)->audit_events("tls_required");
    REQUIRE(audit.ok());
    REQUIRE(audit->size() == 1);
    CHECK_THAT((*audit)[0].detail, Catch::Contains(*external));
  }
  SECTION("allow_plain_http serves everyone, with a loud warning") {
    ServerProcess server(org.dir, {"FIELDCASE_ALLOW_PLAIN_HTTP=true"}, *external + ":0");
    REQUIRE_FALSE(server.exited());
    CHECK_THAT(server.stderr_text(), Catch::Contains("WARNING: serving PLAIN HTTP"));
    httplib::Client remote(*external, server.port());
    auto ok = remote.Post("/v1/sync", {{"Authorization", "Bearer " + org.token}}, empty_request(),
                          "application/json");
    REQUIRE(ok);
    CHECK(ok->status == 200);
    CHECK(server.stop() == 0);
  }
}
