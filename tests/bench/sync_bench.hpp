// fieldcase-bench sync: a day's work synced over HTTP to an in-process server (see
// sync_command.cpp).
#pragma once

#include "bench.hpp"

namespace fieldcase::bench {

int run_sync_command(Args args);

}  // namespace fieldcase::bench
