// --mode trace's shadow stacks, fed scripted probe events: nesting, recursion, [gc], calls begun
// before tracing, --filter, and calls still open at the end.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstring>

#include "trace/call_trace.h"
#include "profile/frame_label.h"

using namespace pyat;

namespace {

class Script {
public:
    explicit Script(CallTraceConfig config = {}) : trace_(profile_, config, nullptr, ProcessMemory(getpid())) {}

    Script& name(uint64_t id, const char* function) {
        trace_name n{};
        n.hdr.kind = TRACE_NAME;
        n.hdr.filename = 1;
        n.hdr.funcname = id;
        std::strcpy(n.file, "app.py");
        std::strcpy(n.func, function);
        trace_.add(&n, sizeof(n));
        return *this;
    }
    Script& event(uint32_t kind, uint64_t id, uint64_t t, uint32_t tid = 7) {
        call_event e{};
        e.kind = kind;
        e.tid = tid;
        e.ktime_ns = t;
        e.filename = 1;
        e.funcname = id;
        e.lineno = int32_t(id);
        trace_.add(&e, sizeof(e));
        return *this;
    }
    Script& enter(uint64_t id, uint64_t t, uint32_t tid = 7) { return event(TRACE_ENTRY, id, t, tid); }
    Script& leave(uint64_t id, uint64_t t, uint32_t tid = 7) { return event(TRACE_RETURN, id, t, tid); }

    // "a;b" -> weight (once every call has returned, or finish() was called)
    std::map<std::string, uint64_t> stacks() {
        trace_.finish(1'000'000);
        std::map<std::string, uint64_t> out;
        for (const auto& [stack, weight] : profile_.stacks) {
            std::string key;
            for (const auto& f : stack.frames) key += (key.empty() ? "" : ";") + profile_.functions[f.function].name;
            out[key] += weight;
        }
        return out;
    }
    // "a>b" -> calls
    std::map<std::string, uint64_t> calls() {
        trace_.finish(1'000'000);
        std::map<std::string, uint64_t> out;
        for (const auto& [key, n] : profile_.call_counts)
            out[profile_.functions[std::get<0>(key)].name + ">" + profile_.functions[std::get<2>(key)].name] += n;
        return out;
    }
    CallTrace& trace() { return trace_; }

private:
    ProcessProfile profile_;
    CallTrace trace_;
};

}  // namespace

TEST(CallTrace, NestedRecursiveAndGcCallsGetExactCountsAndSelfTimes) {
    Script s;
    s.name(1, "a").name(2, "b");
    s.enter(1, 0).enter(2, 10).leave(2, 30).enter(1, 40).leave(1, 50);
    s.event(TRACE_GC_START, 0, 60).event(TRACE_GC_DONE, 0, 70).leave(1, 100);
    EXPECT_EQ(s.stacks(), (std::map<std::string, uint64_t>{{"a", 60}, {"a;b", 20}, {"a;a", 10}, {"a;[gc]", 10}}));
    EXPECT_EQ(s.calls(), (std::map<std::string, uint64_t>{{"a>b", 1}, {"a>a", 1}, {"a>[gc]", 1}}));
    EXPECT_EQ(s.trace().calls(), 4u);
}

TEST(CallTrace, ThreadsHaveTheirOwnShadowStacks) {
    Script s;
    s.name(1, "a").name(2, "b");
    s.enter(1, 0, 1).enter(2, 5, 2).enter(2, 10, 1).leave(2, 20, 2).leave(2, 30, 1).leave(1, 40, 1);
    EXPECT_EQ(s.stacks(), (std::map<std::string, uint64_t>{{"a", 20}, {"a;b", 20}, {"b", 15}}));
    EXPECT_EQ(s.calls(), (std::map<std::string, uint64_t>{{"a>b", 1}}));
}

TEST(CallTrace, ReturnsOfCallsBegunBeforeTracingAreLeftOut) {
    Script s;
    s.name(1, "a").name(2, "b");
    s.enter(2, 10).leave(2, 20).leave(1, 30);  // a was running when tracing began
    EXPECT_EQ(s.trace().unmatched_returns(), 1u);
    EXPECT_EQ(s.stacks(), (std::map<std::string, uint64_t>{{"b", 10}}));
}

TEST(CallTrace, FilteredOutCallsGiveTheirTimeToTheNearestRecordedCaller) {
    Script s(CallTraceConfig{{"a", "c"}});
    s.name(1, "a").name(2, "b").name(3, "c");
    s.enter(1, 0).enter(2, 10).enter(3, 20).leave(3, 25).leave(2, 40).leave(1, 50);
    EXPECT_EQ(s.stacks(), (std::map<std::string, uint64_t>{{"a", 45}, {"a;c", 5}}));
    EXPECT_EQ(s.calls(), (std::map<std::string, uint64_t>{{"a>c", 1}}));
}

TEST(CallTrace, CallsStillOpenAtTheEndAreClosedThere) {
    Script s;
    s.name(1, "a").name(2, "b");
    s.enter(1, 0).enter(2, 10);
    s.trace().finish(100);
    EXPECT_EQ(s.stacks(), (std::map<std::string, uint64_t>{{"a", 10}, {"a;b", 90}}));
    EXPECT_EQ(s.calls(), (std::map<std::string, uint64_t>{{"a>b", 1}}));
}
