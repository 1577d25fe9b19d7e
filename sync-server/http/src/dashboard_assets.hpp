// The dashboard's static files, embedded in the binary at build time by
// sync-server/cmake/embed_assets.cmake (the pages of sync-server/dashboard/ and the chart
// library from scripts/node/node_modules). Internal header.
#pragma once

#include <cstddef>
#include <string_view>

namespace fieldcase::server::detail {

struct DashboardAsset {
  std::string_view name;  // file name under /dashboard/
  std::string_view content_type;
  const unsigned char* data;
  std::size_t size;
};

extern const DashboardAsset kDashboardAssets[];
extern const std::size_t kDashboardAssetCount;

}  // namespace fieldcase::server::detail
