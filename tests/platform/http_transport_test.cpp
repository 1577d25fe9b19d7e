// The Linux HTTP transport against a small loopback server started by the test.
#include <catch2/catch.hpp>

#include <httplib.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <thread>

#include "fieldcase/platform/http_transport.hpp"

using namespace fieldcase;
using namespace fieldcase::platform;

TEST_CASE("gzip round-trips and refuses bombs and garbage", "[platform][sync]") {
  std::string text(100000, 'a');
  auto gz = gzip_compress(text);
  REQUIRE(gz.ok());
  CHECK(gz->size() < 1000);
  auto back = gzip_decompress(*gz, 1 << 20);
  REQUIRE(back.ok());
  CHECK(*back == text);
  CHECK(gzip_decompress(*gz, 1000).code() == Errc::invalid_argument);  // expands too far
  CHECK(gzip_decompress("not gzip at all", 1000).code() == Errc::invalid_argument);
  CHECK(gzip_decompress(gz->substr(0, gz->size() / 2), 1 << 20).code() == Errc::invalid_argument);
}

TEST_CASE("the HTTP transport sends gzip with the bearer token and reads gzip answers",
          "[platform][sync]") {
  httplib::Server server;
  server.set_keep_alive_max_count(1);  // so stop() does not wait for an idle connection
  std::string seen_auth, seen_encoding, seen_body;
  server.Post("/v1/sync", [&](const httplib::Request& req, httplib::Response& res) {
    seen_auth = req.get_header_value("Authorization");
    seen_encoding = req.get_header_value("Content-Encoding");
    seen_body = req.body;  // httplib has already decompressed it
    // httplib compresses the answer because the client accepts gzip.
    res.set_content(std::string(5000, 'z'), "application/json");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread t([&] { server.listen_after_bind(); });
  // The socket is bound and listening: connections queue until the accept loop runs.

  HttpTransportOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  HttpTransport transport(options);
  auto res = transport.post("/v1/sync", std::string(20000, 'x'), "secret-token");
  server.stop();
  t.join();
  REQUIRE(res.ok());
  CHECK(res->status == 200);
  CHECK(res->body == std::string(5000, 'z'));
  CHECK(res->bytes_received < 200);  // counted as sent on the wire, compressed
  CHECK(res->bytes_sent < 200);
  CHECK(seen_auth == "Bearer secret-token");
  CHECK(seen_encoding == "gzip");
  CHECK(seen_body == std::string(20000, 'x'));
}

TEST_CASE("the HTTP transport reports an unreachable server as an I/O error", "[platform][sync]") {
  // A port that was free a moment ago and that nobody listens on.
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  REQUIRE(fd >= 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  socklen_t len = sizeof addr;
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  const int port = ntohs(addr.sin_port);
  ::close(fd);
  HttpTransportOptions options;
  options.base_url = "http://127.0.0.1:" + std::to_string(port);
  options.connect_timeout = std::chrono::seconds(2);
  HttpTransport transport(options);
  auto res = transport.post("/v1/sync", "{}", "t");
  CHECK(res.code() == Errc::io);
  CHECK(res.status().message().find("cannot reach") != std::string::npos);
}
