// StackAggregator: kernel records to weighted, root-first stacks, with code objects laid out in this
// test's own memory (fake_code.h).
#include <gtest/gtest.h>
#include <unistd.h>

#include <map>
#include <string>
#include <vector>

#include "profile/stack_aggregator.h"
#include "unit/cpython/fake_code.h"

using namespace pyat;
using namespace pyat::fakes;

namespace {

void learn(StackAggregator& agg, const FakeCode& fake) { agg.learn_code(fake.event(), sizeof(code_name_event)); }

py_sample make_sample(uint32_t kind, std::vector<py_frame> innermost_first, uint16_t flags = 0,
                      uint64_t weight_ns = 0) {
    py_sample s{};
    s.hdr.kind = kind;
    s.hdr.pid = uint32_t(getpid());
    s.hdr.tid = 77;
    s.hdr.flags = flags;
    s.hdr.weight_ns = weight_ns;
    s.hdr.nframes = uint16_t(innermost_first.size());
    for (size_t i = 0; i < innermost_first.size(); i++) s.frames[i] = innermost_first[i];
    return s;
}
}  // namespace

TEST(StackAggregator, OffCpuIntervalsBecomeTicksAtHzWithNothingLostToRounding) {
    const auto& l = layout311();
    FakeCode fake(l);
    StackAggregator agg(AggregatorConfig{Clock::wall, 100});
    agg.add_process(self_process(l));
    learn(agg, fake);
    agg.add_sample(make_sample(EVENT_OFFCPU, {fake.frame(12)}, 0, 1'500'000'000));  // 1.5 s -> 150
    for (int i = 0; i < 10; i++) agg.add_sample(make_sample(EVENT_OFFCPU, {fake.frame(12)}, 0, 6'000'000));  // 60 ms -> 6
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {fake.frame(2)}));
    auto profiles = agg.take_profiles();
    ASSERT_EQ(profiles.size(), 1u);
    EXPECT_EQ(profiles[0].total(), 157u);
}

TEST(StackAggregator, CpuClockIgnoresOffCpuRecords) {
    const auto& l = layout311();
    FakeCode fake(l);
    StackAggregator agg(AggregatorConfig{Clock::cpu, 100});
    agg.add_process(self_process(l));
    learn(agg, fake);
    agg.add_sample(make_sample(EVENT_OFFCPU, {fake.frame(12)}, 0, 1'000'000'000));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {fake.frame(2)}));
    EXPECT_EQ(agg.take_profiles()[0].total(), 1u);
}

TEST(StackAggregator, StacksAreRootFirstAndSpecialCasesAreNamed) {
    const auto& l = layout311();
    FakeCode inner(l), outer(l);
    outer.qualname = ascii_string(l, "main");
    outer.code.put<uint64_t>(l.code_qualname, outer.qualname.address());
    StackAggregator agg(AggregatorConfig{Clock::cpu, 99});
    agg.add_process(self_process(l));
    learn(agg, inner);
    agg.learn_code(outer.event("main"), sizeof(code_name_event));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12), outer.frame(22)}));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {}, SAMPLE_NO_THREAD));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {}));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12)}, SAMPLE_TRUNCATED));
    agg.add_sample(make_sample(EVENT_CPU_SAMPLE, {inner.frame(12)}));
    auto p = agg.take_profiles()[0];
    std::map<std::string, uint64_t> by_text;
    for (const auto& [stack, w] : p.stacks) {
        std::string text;
        for (const auto& f : stack.frames) text += (text.empty() ? "" : ";") + p.functions[f.function].name + ":" + std::to_string(f.line);
        by_text[text] += w;
    }
    EXPECT_EQ(by_text["main:4;Demo.f:3"], 1u);
    EXPECT_EQ(by_text["[non-Python thread]:0"], 1u);
    EXPECT_EQ(by_text["[no Python frame]:0"], 1u);
    EXPECT_EQ(by_text["[truncated: deeper frames not recorded]:0;Demo.f:3"], 1u);
    EXPECT_EQ(by_text["Demo.f:3"], 1u);
    EXPECT_EQ(p.total(), 5u);
}

TEST(StackAggregator, SamplesOfUnknownProcessesAreIgnored) {
    StackAggregator agg(AggregatorConfig{Clock::cpu, 99});
    py_sample s = make_sample(EVENT_CPU_SAMPLE, {});
    s.hdr.pid = 1;
    agg.add_sample(s);
    EXPECT_EQ(agg.samples(), 0u);
    EXPECT_TRUE(agg.take_profiles().empty());
}
