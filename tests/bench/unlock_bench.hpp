// The vault unlock benchmark (`fieldcase-bench unlock`): PIN to open database at the device's
// default Argon2id cost.
#pragma once

#include "bench.hpp"

namespace fieldcase::bench {

int run_unlock_command(Args args);

}  // namespace fieldcase::bench
