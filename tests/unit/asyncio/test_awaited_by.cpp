// The awaited-by reader on every CPython layout: each asyncio callback kind laid out in memory as
// that version makes it, read back through process_vm_readv, names taken from probes/asyncio.
#include <gtest/gtest.h>

#include "runtimes/asyncio/awaited_by.h"
#include "runtimes/asyncio/awaited_by_description.h"
#include "unit/asyncio/fake_asyncio.h"

namespace pyat {
namespace {

using fakes::FakeAsyncio;

const char* tasks_py = "/usr/lib/python3.11/asyncio/tasks.py";
const char* taskgroups_py = "/usr/lib/python3.11/asyncio/taskgroups.py";
const char* base_events_py = "/usr/lib/python3.11/asyncio/base_events.py";

class AwaitedBy : public ::testing::TestWithParam<int> {
protected:
    void SetUp() override {
        layout = find_cpython_layout(3, GetParam());
        description = find_awaited_by_description(3, GetParam());
        ASSERT_NE(layout, nullptr);
        ASSERT_NE(description, nullptr);
        fake = std::make_unique<FakeAsyncio>(*layout, *description);
        reader = std::make_unique<AwaitedByReader>(fake->objects, *layout, *description, fakes::future_offsets);
    }
    uint64_t gather_callback(uint64_t outer) {
        // gather.<locals>._done_callback's free variables, as CPython orders them (outer third).
        uint64_t code = fake->code("_done_callback", tasks_py,
                                   {"children", "loop", "nfinished", "nfuts", "outer", "return_exceptions"});
        return fake->function(code, {0, 0, 0, 0, outer, 0});
    }
    const CpythonLayout* layout = nullptr;
    const AwaitedByDescription* description = nullptr;
    std::unique_ptr<FakeAsyncio> fake;
    std::unique_ptr<AwaitedByReader> reader;
};

TEST_P(AwaitedBy, DescriptionPerVersion) {
    int minor = GetParam();
    EXPECT_EQ(std::string(description->wakeup_wrapper_type), minor <= 9 ? "TaskWakeupMethWrapper" : "");
    EXPECT_EQ(std::string(description->wakeup_builtin), minor <= 9 ? "" : "task_wakeup");
    EXPECT_EQ(std::string(description->task_group_callback), minor <= 10 ? "" : "_on_task_done");
    EXPECT_EQ(description->wakeup_wrapper_task, minor <= 9 ? 16 : 0);
}

TEST_P(AwaitedBy, AwaitTaskNamesTheAwaitingTask) {
    uint64_t parent = fake->task();
    Awaiter a = reader->classify(fake->wakeup(parent));
    EXPECT_EQ(a.kind, AwaiterKind::task_wakeup);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
}

TEST_P(AwaitedBy, OtherWakeupShapesAreNotTaken) {
    uint64_t parent = fake->task();
    // A builtin of another name, and the other version's wakeup shape.
    EXPECT_EQ(reader->classify(fake->builtin("call_soon", parent)).kind, AwaiterKind::unknown);
    if (*description->wakeup_builtin) {
        uint64_t w = fake->object(fake->wrapper_type);
        fake->put<uint64_t>(w, 16, parent);
        EXPECT_EQ(reader->classify(w).kind, AwaiterKind::unknown);
    } else {
        EXPECT_EQ(reader->classify(fake->builtin("task_wakeup", parent)).kind, AwaiterKind::unknown);
    }
    EXPECT_EQ(reader->classify(0).kind, AwaiterKind::unknown);
    EXPECT_EQ(reader->classify(fake->future()).kind, AwaiterKind::unknown);
}

TEST_P(AwaitedBy, PurePythonTaskWakeup) {
    uint64_t parent = fake->task();
    uint64_t wakeup = fake->method(fake->function(fake->code("__wakeup", tasks_py)), parent);
    Awaiter a = reader->classify(wakeup);
    EXPECT_EQ(a.kind, AwaiterKind::task_wakeup);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
}

TEST_P(AwaitedBy, GatherChildLeadsThroughTheGatheringFuture) {
    uint64_t parent = fake->task();
    uint64_t outer = fake->future({fake->wakeup(parent)}, fake->gathering_type);
    Awaiter a = reader->classify(gather_callback(outer));
    EXPECT_EQ(a.kind, AwaiterKind::gather);
    EXPECT_EQ(a.via, outer);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
    EXPECT_EQ(a.followed, std::vector<uint64_t>{outer});
}

TEST_P(AwaitedBy, GatherNotAwaitedYetHasNoParent) {
    uint64_t outer = fake->future({}, fake->gathering_type);
    Awaiter a = reader->classify(gather_callback(outer));
    EXPECT_EQ(a.kind, AwaiterKind::gather);
    EXPECT_EQ(a.via, outer);
    EXPECT_TRUE(a.parents.empty());
}

TEST_P(AwaitedBy, NestedGatherReachesTheOuterParent) {
    uint64_t parent = fake->task();
    uint64_t outer2 = fake->future({fake->wakeup(parent)}, fake->gathering_type);
    uint64_t outer1 = fake->future({gather_callback(outer2)}, fake->gathering_type);
    Awaiter a = reader->classify(gather_callback(outer1));
    EXPECT_EQ(a.kind, AwaiterKind::gather);
    EXPECT_EQ(a.via, outer1);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
    EXPECT_EQ(a.followed, (std::vector<uint64_t>{outer1, outer2}));
}

TEST_P(AwaitedBy, GatherAwaitedByTwoTasksNamesBoth) {
    uint64_t p1 = fake->task(), p2 = fake->task();
    uint64_t outer = fake->future({fake->wakeup(p1), fake->wakeup(p2)}, fake->gathering_type);
    EXPECT_EQ(reader->classify(gather_callback(outer)).parents, (std::vector<uint64_t>{p1, p2}));
}

TEST_P(AwaitedBy, SameNamedFunctionElsewhereIsNotGather) {
    uint64_t parent = fake->task();
    uint64_t outer = fake->future({fake->wakeup(parent)}, fake->gathering_type);
    uint64_t code = fake->code("_done_callback", "/srv/app/myasyncio/tasks_helpers.py", {"outer"});
    EXPECT_EQ(reader->classify(fake->function(code, {outer})).kind, AwaiterKind::unknown);
    // Path suffixes match whole components only.
    uint64_t code2 = fake->code("_done_callback", "/srv/app/notasyncio/tasks.py", {"outer"});
    EXPECT_EQ(reader->classify(fake->function(code2, {outer})).kind, AwaiterKind::unknown);
}

TEST_P(AwaitedBy, FollowingACycleOfFuturesEnds) {
    // A future whose own callback leads back to it: read once, no parent, no endless walk.
    uint64_t outer = fake->future({}, fake->gathering_type);
    fake->set_callbacks(outer, {gather_callback(outer)});
    Awaiter a = reader->classify(gather_callback(outer));
    EXPECT_TRUE(a.parents.empty());
    EXPECT_EQ(a.followed, std::vector<uint64_t>{outer});
}

TEST_P(AwaitedBy, DeepChainsOfFuturesAreCut) {
    uint64_t parent = fake->task();
    uint64_t f = fake->future({fake->wakeup(parent)}, fake->gathering_type);
    for (int i = 0; i < AwaitedByReader::max_follow_depth + 2; i++)
        f = fake->future({gather_callback(f)}, fake->gathering_type);
    Awaiter a = reader->classify(gather_callback(f));
    EXPECT_TRUE(a.depth_exceeded);
    EXPECT_TRUE(a.parents.empty());
    EXPECT_EQ(a.followed.size(), size_t(AwaitedByReader::max_follow_depth));
}

TEST_P(AwaitedBy, TaskGroupChildNamesTheGroupsParentTask) {
    uint64_t parent = fake->task();
    uint64_t group = fake->object(fake->plain_type);
    fake->set_attribute(group, fake->plain_type, "_parent_task", parent);
    uint64_t on_done = fake->method(fake->function(fake->code("_on_task_done", taskgroups_py)), group);
    Awaiter a = reader->classify(on_done);
    if (GetParam() <= 10) {  // no TaskGroup before 3.11
        EXPECT_EQ(a.kind, AwaiterKind::unknown);
        return;
    }
    EXPECT_EQ(a.kind, AwaiterKind::task_group);
    EXPECT_EQ(a.via, group);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
}

TEST_P(AwaitedBy, ShieldLeadsThroughItsOuterFuture) {
    uint64_t parent = fake->task();
    uint64_t outer_done = fake->function(fake->code("_outer_done_callback", tasks_py, {"inner"}), {0});
    uint64_t outer = fake->future({outer_done, fake->wakeup(parent)});
    uint64_t inner_done = fake->function(fake->code("_inner_done_callback", tasks_py, {"outer"}), {outer});
    Awaiter a = reader->classify(inner_done);
    EXPECT_EQ(a.kind, AwaiterKind::shield);
    EXPECT_EQ(a.via, outer);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
    EXPECT_EQ(reader->classify(outer_done).kind, AwaiterKind::no_awaiter);
}

TEST_P(AwaitedBy, WaitLeadsThroughItsWaiter) {
    uint64_t parent = fake->task();
    uint64_t waiter = fake->future({fake->wakeup(parent)});
    uint64_t on_completion = fake->function(fake->code("_on_completion", tasks_py, {"counter", "return_when", "waiter"}),
                                            {0, 0, waiter});
    Awaiter a = reader->classify(on_completion);
    EXPECT_EQ(a.kind, AwaiterKind::wait);
    EXPECT_EQ(a.via, waiter);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
    // as_completed's _on_completion (no `waiter` cell) is not wait()'s.
    uint64_t as_completed = fake->function(fake->code("_on_completion", tasks_py, {"done", "timeout_handle", "todo"}),
                                           {0, 0, waiter});
    EXPECT_EQ(reader->classify(as_completed).kind, AwaiterKind::unknown);
}

TEST_P(AwaitedBy, WaitForsPartialLeadsThroughItsWaiter) {
    uint64_t parent = fake->task();
    uint64_t waiter = fake->future({fake->wakeup(parent)});
    uint64_t release = fake->function(fake->code("_release_waiter", tasks_py));
    Awaiter a = reader->classify(fake->partial(release, {waiter}));
    EXPECT_EQ(a.kind, AwaiterKind::release_waiter);
    EXPECT_EQ(a.via, waiter);
    EXPECT_EQ(a.parents, std::vector<uint64_t>{parent});
    // A partial of anything else says nothing.
    uint64_t other = fake->function(fake->code("handler", "/srv/app/main.py"));
    EXPECT_EQ(reader->classify(fake->partial(other, {waiter})).kind, AwaiterKind::unknown);
}

TEST_P(AwaitedBy, RunUntilCompleteRootHasNoParent) {
    Awaiter a = reader->classify(fake->function(fake->code("_run_until_complete_cb", base_events_py)));
    EXPECT_EQ(a.kind, AwaiterKind::run_until_complete);
    EXPECT_TRUE(a.parents.empty());
}

TEST_P(AwaitedBy, FutureCallbacksInOrder) {
    uint64_t a = fake->task(), b = fake->task(), c = fake->task();
    uint64_t wa = fake->wakeup(a), wb = fake->wakeup(b), wc = fake->wakeup(c);
    uint64_t f = fake->future({wa, wb, wc});
    EXPECT_EQ(reader->future_callbacks(f), (std::vector<uint64_t>{wa, wb, wc}));
    // fut_callback0 cleared (it ran or was removed): the list alone.
    fake->put<uint64_t>(f, fakes::future_offsets.callback0, 0);
    EXPECT_EQ(reader->future_callbacks(f), (std::vector<uint64_t>{wb, wc}));
    EXPECT_TRUE(reader->future_callbacks(fake->future()).empty());
}

TEST_P(AwaitedBy, GatheringFutureListsItsChildrenNestedOnesFlattened) {
    uint64_t a = fake->task(), b = fake->task(), c = fake->task();
    uint64_t inner = fake->future({}, fake->gathering_type);
    fake->set_attribute(inner, fake->gathering_type, "_children", fake->list({c}));
    uint64_t outer = fake->future({}, fake->gathering_type);
    fake->set_attribute(outer, fake->gathering_type, "_children", fake->list({a, b, inner}));
    auto children = reader->gathering_children(outer);
    ASSERT_TRUE(children);
    EXPECT_EQ(*children, (std::vector<uint64_t>{a, b, c}));
    EXPECT_FALSE(reader->gathering_children(fake->future()));
    EXPECT_FALSE(reader->gathering_children(a));
}

INSTANTIATE_TEST_SUITE_P(Versions, AwaitedBy, ::testing::Values(8, 9, 10, 11, 12, 13, 14),
                         [](const auto& info) { return "py3_" + std::to_string(info.param); });

}  // namespace
}  // namespace pyat
