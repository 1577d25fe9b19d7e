// fieldcase-bench figures: the figures engine on the demo authority (see figures_command.cpp).
#pragma once

#include "bench.hpp"

namespace fieldcase::bench {

int run_figures_command(Args args);

}  // namespace fieldcase::bench
