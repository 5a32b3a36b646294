// The runtime registry: which runtimes a run needs, from the command line alone, in registry order.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "runtimes/registry.h"

using namespace pyat;

namespace {
std::vector<std::string> names(const Options& options) {
    std::vector<std::string> out;
    for (const auto& runtime : wanted_runtimes(options)) out.emplace_back(runtime->name());
    return out;
}
}  // namespace

TEST(RuntimeRegistry, GreenletSwitchesAreHookedOnlyWhenAskedFor) {
    Options cpu;
    EXPECT_EQ(names(cpu), (std::vector<std::string>{"Twisted", "asyncio"}));
    Options wall;
    wall.clock = Clock::wall;
    EXPECT_EQ(names(wall), (std::vector<std::string>{"greenlet", "Twisted", "asyncio"}));
    Options grouped;
    grouped.group_by = GroupBy::greenlet;
    EXPECT_EQ(names(grouped), (std::vector<std::string>{"greenlet", "Twisted", "asyncio"}));
    Options threshold;
    threshold.block_threshold_ms = 50;
    EXPECT_EQ(names(threshold), (std::vector<std::string>{"greenlet", "Twisted", "asyncio"}));
    Options traced;  // --mode trace follows calls, not tasks
    traced.trace = true;
    EXPECT_EQ(names(traced), (std::vector<std::string>{"Twisted"}));
}

TEST(RuntimeRegistry, EachRuntimeSaysWhatItsHooksNeedLoaded) {
    Options options;
    options.group_by = GroupBy::greenlet;
    options.deferred_log = true;
    SamplerConfig config;
    for (const auto& runtime : wanted_runtimes(options)) runtime->configure(options, config);
    EXPECT_TRUE(config.walk_every_park);
    EXPECT_EQ(config.on_demand.count("on_python_return"), 1u);
    Options plain;
    SamplerConfig untouched;
    for (const auto& runtime : wanted_runtimes(plain)) runtime->configure(plain, untouched);
    EXPECT_FALSE(untouched.walk_every_park);
    EXPECT_TRUE(untouched.on_demand.empty());
}

// A runtime names its BPF programs and maps as strings (KernelHooks): each must be in the object
// the loader opens, or its hooks would fail only when a target is found.
TEST(RuntimeRegistry, EveryRuntimesProgramsAndMapsAreInTheSamplingObject) {
    for (const auto& runtime : all_runtimes()) {
        const auto names = runtime->kernel_names();
        EXPECT_FALSE(names.empty()) << runtime->name();
        EXPECT_EQ(BpfSampler::undefined(names), std::vector<std::string>{}) << runtime->name();
    }
    EXPECT_EQ(BpfSampler::undefined({"no_such_program"}), std::vector<std::string>{"no_such_program"});
}
