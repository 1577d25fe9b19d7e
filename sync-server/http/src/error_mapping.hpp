// The one mapping from an error value (Errc) to the HTTP answer every endpoint gives for it:
// status, error code, message, Retry-After, and whether the failure is the server's own (logged,
// its detail withheld from the client). Internal header of the HTTP layer.
#pragma once

#include <httplib.h>

#include <functional>
#include <string>
#include <string_view>

#include "fieldcase/status.hpp"

namespace fieldcase::server::detail {

struct HttpError {
  int status = 500;
  std::string_view code;       // the JSON error code ("bad_request", "busy", ...)
  std::string message;         // what the client is told
  int retry_after_seconds = 0; // 0: no Retry-After header
  bool logged = false;         // the server's own failure: written to the log with its detail
};

// invalid_argument and validation: 400 bad_request; unsupported: 400 unsupported_protocol;
// unauthenticated 401; forbidden 403; not_found 404; already_exists 409 conflict;
// too_many_attempts 429 (Retry-After 60); busy 503 (Retry-After 1); unavailable 503 (Retry-After
// 2, logged); anything else 500 internal (logged). The 4xx answers carry the status's message;
// the 5xx ones a fixed sentence (storage messages never reach a client).
HttpError http_error(const Status& st);

// Answers `res` with http_error(st) as the JSON error body; logs the server's own failures
// through `log` (never with case data).
void reply_error(httplib::Response& res, const Status& st,
                 const std::function<void(const std::string&)>& log);

}  // namespace fieldcase::server::detail
