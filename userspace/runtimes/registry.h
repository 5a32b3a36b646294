// The async runtimes a sampling run knows, in the order they are asked: adding one is its folder
// and one line in registry.cpp.
#pragma once

#include <memory>
#include <vector>

#include "app/options.h"
#include "runtimes/runtime.h"

namespace pyat {

// Every known runtime, in registry order.
std::vector<std::unique_ptr<Runtime>> all_runtimes();
// Every known runtime that this run needs (Runtime::wanted), in registry order.
std::vector<std::unique_ptr<Runtime>> wanted_runtimes(const Options& options);

}  // namespace pyat
