#include "session/enrollment.hpp"

#include <nlohmann/json.hpp>

namespace fieldcase::detail {

Result<Enrolled> enroll(Transport& transport, std::string_view code,
                        std::string_view device_name) {
  const nlohmann::json body{{"code", code}, {"device_name", device_name}};
  auto res = transport.post("/v1/enroll", body.dump(), "");
  if (!res.ok()) return res.status();
  const auto answer = nlohmann::json::parse(res->body, nullptr, false);
  if (res->status != 201) {
    std::string message =
        "the server refused the enrollment (HTTP " + std::to_string(res->status) + ")";
    if (answer.is_object() && answer.contains("error") && answer["error"].is_object() &&
        answer["error"].contains("message") && answer["error"]["message"].is_string()) {
      message = answer["error"]["message"].get<std::string>();
    }
    return Status(res->status == 429 ? Errc::too_many_attempts : Errc::unauthenticated,
                  std::move(message));
  }
  if (!answer.is_object() || !answer.contains("device_id") || !answer["device_id"].is_string() ||
      !answer.contains("worker_id") || !answer["worker_id"].is_string() ||
      !answer.contains("role") || !answer["role"].is_string() || !answer.contains("token") ||
      !answer["token"].is_string()) {
    return Status(Errc::invalid_argument, "the server's enrollment answer is malformed");
  }
  auto role = parse_role(answer["role"].get<std::string>());
  if (!role) return Status(Errc::invalid_argument, "the server named an unknown role");
  Enrolled e;
  e.identity.worker_id = answer["worker_id"].get<std::string>();
  e.identity.device_id = answer["device_id"].get<std::string>();
  e.identity.role = *role;
  e.token = answer["token"].get<std::string>();
  return e;
}

}  // namespace fieldcase::detail
