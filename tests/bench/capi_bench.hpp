// The C API benchmark (`fieldcase-bench capi`): recording a visit through the C API and through
// the Java binding over JNI against the C++ core directly, same workload, one run.
#pragma once

#include "bench.hpp"

namespace fieldcase::bench {

int run_capi_command(Args args);

}  // namespace fieldcase::bench
