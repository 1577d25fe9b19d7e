// The dashboard's static pages, served from the copies embedded at build time.
#include <string>

#include "dashboard_assets.hpp"
#include "figures_api.hpp"

namespace fieldcase::server::detail {

void register_dashboard(httplib::Server& svr) {
  auto redirect = [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/dashboard/", 302);
  };
  svr.Get("/", redirect);
  svr.Get("/dashboard", redirect);
  svr.Get(R"(/dashboard/([A-Za-z0-9_.-]{0,64}))", [](const httplib::Request& req,
                                                     httplib::Response& res) {
    std::string name = req.matches[1].str();
    if (name.empty()) name = "index.html";
    for (std::size_t i = 0; i < kDashboardAssetCount; ++i) {
      const DashboardAsset& a = kDashboardAssets[i];
      if (a.name != name) continue;
      res.set_header("Content-Security-Policy", std::string(kDashboardCsp));
      res.set_content(reinterpret_cast<const char*>(a.data), a.size, std::string(a.content_type));
      return;
    }
    res.status = 404;
  });
}

}  // namespace fieldcase::server::detail
