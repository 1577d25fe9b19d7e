// Signing a worker in to the server's web API over HTTP, for tests of the web endpoints.
#pragma once

#include <httplib.h>
#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include <string>

namespace fieldcase::test {

// A signed-in web user: the session cookie ("name=value") and the CSRF token.
struct WebUser {
  std::string cookie;
  std::string csrf;
  httplib::Headers headers(bool with_csrf = false) const {
    httplib::Headers h{{"Cookie", cookie}};
    if (with_csrf) h.emplace("X-CSRF-Token", csrf);
    return h;
  }
};

// POST /v1/session with the worker's id and password; the sign-in must succeed.
inline WebUser web_sign_in(httplib::Client& c, const std::string& worker_id,
                           const std::string& password) {
  const nlohmann::json body{{"worker_id", worker_id}, {"password", password}};
  auto r = c.Post("/v1/session", body.dump(), "application/json");
  REQUIRE(r);
  INFO(r->body);
  REQUIRE(r->status == 200);
  const std::string set_cookie = r->get_header_value("Set-Cookie");
  WebUser u;
  u.cookie = set_cookie.substr(0, set_cookie.find(';'));
  const auto answer = nlohmann::json::parse(r->body, nullptr, false);
  if (answer.is_object() && answer.contains("csrf_token") && answer["csrf_token"].is_string()) {
    u.csrf = answer["csrf_token"].get<std::string>();
  }
  return u;
}

}  // namespace fieldcase::test
