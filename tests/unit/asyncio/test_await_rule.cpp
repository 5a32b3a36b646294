// The awaited-object rule of each version (CPython's _PyGen_yf) from frame bytes laid out in this
// test's memory: 3.8/3.9 YIELD_FROM after f_lasti (bytes), 3.10 the same in code units, 3.11/3.12
// RESUME's oparg after prev_instr, 3.13/3.14 the frame state alone (3.14: a tagged stack ref).
#include <gtest/gtest.h>

#include "cpython/code_resolver.h"
#include "runtimes/asyncio/task_reader.h"
#include "unit/asyncio/asyncio_fakes.h"
#include "unit/asyncio/fake_coroutines.h"

using namespace pyat;
using namespace pyat::fakes;

namespace {

class AwaitRule : public ::testing::TestWithParam<int> {};

TEST_P(AwaitRule, SuspendedAtAnAwaitGivesTheTopOfItsStack) {
    AsyncioFakes f(GetParam());
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    uint64_t awaited = f.object(f.type("whatever")).address();
    FakeCoroutine& c = coros.make(CoroState::at_await, awaited);
    auto frame = reader.coroutine_frame(c.gen);
    ASSERT_TRUE(frame);
    EXPECT_TRUE(frame->suspended);
    EXPECT_EQ(frame->awaited, awaited);
    EXPECT_EQ(frame->code, c.code->code.address());
    EXPECT_EQ(frame->instr, FakeCoroutines::instr_offset);
    EXPECT_EQ(frame->frame, c.frame);
    EXPECT_EQ(reader.frame_of(c.gen), c.frame);
}

TEST_P(AwaitRule, APlainYieldIsSuspendedButAwaitsNothing) {
    // At a plain yield the top of the stack is whatever lies below (a for loop's iterator...).
    AsyncioFakes f(GetParam());
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    FakeCoroutine& c = coros.make(CoroState::at_yield, f.object(f.type("list_iterator")).address());
    auto frame = reader.coroutine_frame(c.gen);
    ASSERT_TRUE(frame);
    EXPECT_TRUE(frame->suspended);
    EXPECT_EQ(frame->awaited, 0u);
}

TEST_P(AwaitRule, RunningAndNotStartedAreNotSuspended) {
    AsyncioFakes f(GetParam());
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    uint64_t awaited = f.object(f.type("whatever")).address();
    for (CoroState state : {CoroState::running, CoroState::created}) {
        auto frame = reader.coroutine_frame(coros.make(state, awaited).gen);
        ASSERT_TRUE(frame);
        EXPECT_FALSE(frame->suspended) << int(state);
        EXPECT_EQ(frame->awaited, 0u) << int(state);
    }
}

TEST_P(AwaitRule, AnImplausibleStackGivesNothing) {
    // Torn memory: a stack depth or pointer nobody would have; the rule reads no slot from it.
    AsyncioFakes f(GetParam());
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    FakeCoroutine& c = coros.make(CoroState::at_await, f.object(f.type("whatever")).address());
    coros.break_stack(c);
    auto frame = reader.coroutine_frame(c.gen);
    ASSERT_TRUE(frame);
    EXPECT_TRUE(frame->suspended);
    EXPECT_EQ(frame->awaited, 0u);
}

INSTANTIATE_TEST_SUITE_P(Versions, AwaitRule, ::testing::Values(8, 9, 10, 11, 12, 13, 14),
                         [](const auto& info) { return "Py3" + std::to_string(info.param); });

TEST(AwaitRule, ThreeElevenTakesTheQuickenedResumeToo) {
    AsyncioFakes f(11);
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    uint64_t awaited = f.object(f.type("whatever")).address();
    FakeCoroutine& c = coros.make(CoroState::at_await, awaited);
    coros.set_next_unit(c, 150, 2);  // RESUME_QUICK, after a yield from
    EXPECT_EQ(reader.coroutine_frame(c.gen)->awaited, awaited);
    coros.set_next_unit(c, 150, 1);  // after a plain yield
    EXPECT_EQ(reader.coroutine_frame(c.gen)->awaited, 0u);
    coros.set_next_unit(c, 240, 3);  // not an opcode of RESUME's family on 3.11
    EXPECT_EQ(reader.coroutine_frame(c.gen)->awaited, 0u);
}

TEST(AwaitRule, ThreeTwelveTakesTheInstrumentedResume) {
    AsyncioFakes f(12);
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    uint64_t awaited = f.object(f.type("whatever")).address();
    FakeCoroutine& c = coros.make(CoroState::at_await, awaited);
    coros.set_next_unit(c, 240, 3);  // INSTRUMENTED_RESUME (a tool like coverage is on)
    EXPECT_EQ(reader.coroutine_frame(c.gen)->awaited, awaited);
    coros.set_next_unit(c, 150, 3);  // 3.12's 150 is no RESUME
    EXPECT_EQ(reader.coroutine_frame(c.gen)->awaited, 0u);
}

TEST(AwaitRule, ThreeThirteenReadsTheStateAloneNotTheBytecode) {
    AsyncioFakes f(13);
    FakeCoroutines coros(f);
    CodeResolver resolver(ProcessMemory(getpid()), f.py);
    TaskReader reader(ProcessMemory(getpid()), f.py, f.aio, resolver);
    uint64_t awaited = f.object(f.type("whatever")).address();
    FakeCoroutine& c = coros.make(CoroState::at_await, awaited);
    coros.set_next_unit(c, 0, 0);  // whatever the next code unit: FRAME_SUSPENDED_YIELD_FROM decides
    EXPECT_EQ(reader.coroutine_frame(c.gen)->awaited, awaited);
}

}  // namespace
