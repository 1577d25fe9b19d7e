// The record-layer benchmark (`fieldcase-bench records`): recording a visit with three notes as
// one transaction, and building "My day", on the encrypted store and the plain engine side by side.
#pragma once

#include "bench.hpp"

namespace fieldcase::bench {

int run_records_command(Args args);

}  // namespace fieldcase::bench
