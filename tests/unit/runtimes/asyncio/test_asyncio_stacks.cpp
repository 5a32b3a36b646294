// AsyncioStacks' logical stacks from kernel records, with code objects laid out in this test's own
// memory (fake_code.h): the loop's plumbing hidden, the frame the walk marks as a task entry's callee
// rooting the stack, the interpreter's view with --raw-stacks. (No task registry here: the rooting by
// task and awaiters is covered live, tests/live/asyncio.)
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "profile/frame_label.h"
#include "profile/stack_aggregator.h"
#include "runtimes/asyncio/asyncio_stacks.h"
#include "unit/cpython/fake_code.h"

using namespace pyat;
using namespace pyat::fakes;

namespace {

// A code object named `name` in `file`, as the kernel would name it.
struct NamedCode {
    FakeCode code;
    std::string name, file;
    NamedCode(const CpythonLayout& l, std::string n, std::string f) : code(l), name(std::move(n)), file(std::move(f)) {}
    code_name_event event() const {
        code_name_event e = code.event(name);
        e.file_length = e.file_bytes = uint16_t(file.size());
        std::memcpy(e.file, file.data(), file.size());
        return e;
    }
};

class AsyncioStacksTest : public ::testing::Test {
protected:
    const CpythonLayout& l = layout311();
    NamedCode module{l, "<module>", "app.py"}, run_once{l, "BaseEventLoop._run_once", "/usr/lib/python3.11/asyncio/base_events.py"},
        handle_run{l, "Handle._run", "/usr/lib/python3.11/asyncio/events.py"},
        select{l, "EpollSelector.select", "/usr/lib/python3.11/selectors.py"}, handler{l, "handler", "app.py"},
        spin{l, "spin", "app.py"};

    std::vector<std::string> stack_of(bool raw, py_sample sample) {
        AggregatorConfig config{Clock::cpu, 99};
        config.raw_stacks = raw;
        config.runtime_stacks.push_back([] { return std::make_unique<AsyncioStacks>(); });
        StackAggregator agg(config);
        PythonProcess p = self_process(l);
        agg.add_process(p);
        agg.stacks_of<AsyncioStacks>(p.pid)->follow(*asyncio_description_for(3, 11), p);
        for (const NamedCode* c : {&module, &run_once, &handle_run, &select, &handler, &spin})
            agg.learn_code(c->event(), sizeof(code_name_event));
        agg.add_sample(sample);
        auto profiles = agg.take_profiles();
        std::vector<std::string> names;
        for (const auto& [grouped, n] : profiles.at(0).stacks)
            for (const auto& f : grouped.frames) names.push_back(profiles[0].functions[f.function].name);
        return names;
    }
    py_sample sample(std::vector<py_frame> innermost_first, uint64_t task_frame = 0, uint16_t task_at = 0) {
        py_sample s{};
        s.hdr.kind = EVENT_CPU_SAMPLE;
        s.hdr.pid = uint32_t(getpid());
        s.hdr.tid = 7;
        s.hdr.nframes = uint16_t(innermost_first.size());
        for (size_t i = 0; i < innermost_first.size(); i++) s.frames[i] = innermost_first[i];
        s.hdr.task_frame = task_frame;
        s.hdr.task_at = task_at;
        return s;
    }
};
}  // namespace

TEST_F(AsyncioStacksTest, ACallbackOrTaskIsRootedAtTheFrameTheLoopCalled) {
    auto s = sample({spin.code.frame(4), handler.code.frame(8), handle_run.code.frame(2), run_once.code.frame(6),
                     module.code.frame(10)},
                    0x1000, 1);
    EXPECT_EQ(stack_of(false, s), (std::vector<std::string>{"handler", "spin"}));
    EXPECT_EQ(stack_of(true, s),
              (std::vector<std::string>{"<module>", "BaseEventLoop._run_once", "Handle._run", "handler", "spin"}));
}

TEST_F(AsyncioStacksTest, TheLoopsOwnTimeShowsUnderOneFrameSayingSo) {
    auto s = sample({select.code.frame(4), run_once.code.frame(6), module.code.frame(10)});
    EXPECT_EQ(stack_of(false, s), (std::vector<std::string>{"[asyncio event loop]", "EpollSelector.select"}));
    // The kernel's entry matched the loop's own frame (asyncio.run above an idle standard loop):
    // still the loop, never a task.
    auto idle = sample({select.code.frame(4), run_once.code.frame(6), module.code.frame(10)}, 0x2000, 1);
    EXPECT_EQ(stack_of(false, idle), (std::vector<std::string>{"[asyncio event loop]", "EpollSelector.select"}));
}

TEST_F(AsyncioStacksTest, CodeOutsideTheLoopIsLeftAsItRuns) {
    auto s = sample({spin.code.frame(4), module.code.frame(10)});
    EXPECT_EQ(stack_of(false, s), (std::vector<std::string>{"<module>", "spin"}));
}
