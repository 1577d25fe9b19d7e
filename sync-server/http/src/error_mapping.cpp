#include "error_mapping.hpp"

#include "fieldcase/sync_protocol.hpp"

namespace fieldcase::server::detail {

HttpError http_error(const Status& st) {
  switch (st.code()) {
    case Errc::invalid_argument:
    case Errc::validation:
      return {400, "bad_request", st.message()};
    case Errc::unsupported:
      return {400, "unsupported_protocol", st.message()};
    case Errc::unauthenticated:
      return {401, "unauthenticated", st.message()};
    case Errc::forbidden:
      return {403, "forbidden", st.message()};
    case Errc::not_found:
      return {404, "not_found", st.message()};
    case Errc::already_exists:
      return {409, "conflict", st.message()};
    case Errc::too_many_attempts:
      return {429, "too_many_attempts", st.message(), 60};
    case Errc::busy:
      return {503, "busy", "the server is busy; retry shortly", 1};
    case Errc::unavailable:
      return {503, "unavailable", "the server's database is unavailable; retry shortly", 2, true};
    default:
      return {500, "internal", "the server could not process the request; retry later", 0, true};
  }
}

void reply_error(httplib::Response& res, const Status& st,
                 const std::function<void(const std::string&)>& log) {
  const HttpError e = http_error(st);
  if (e.logged && log) log("request failed: " + st.to_string());
  if (e.retry_after_seconds > 0) {
    res.set_header("Retry-After", std::to_string(e.retry_after_seconds));
  }
  res.status = e.status;
  res.set_content(sync::encode_error(e.code, e.message), "application/json");
}

}  // namespace fieldcase::server::detail
